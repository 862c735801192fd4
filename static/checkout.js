/* Tender checkout.js — embed the hosted checkout in a modal on the merchant's page.
 *
 *   <script src="https://gateway.example/checkout.js"></script>
 *   new PaymentGateway({
 *     key: "key_test_abc123",          // your API key id (public, never the secret)
 *     orderId: "order_…",              // created by your server with POST /api/v1/orders
 *     onSuccess: function (data) {},   // data.paymentId, data.orderId, data.status, …
 *     onFailure: function (data) {},   // data.status: failed | cancelled | duplicate (charged
 *                                      // for an order already paid: refunded automatically)
 *     onClose: function () {}
 *   }).open();
 *
 * The iframe posts {type: "payment_success" | "payment_failed" | "close_modal", data} to
 * this page's origin only; this side accepts messages only from the gateway's origin and
 * from its own iframe. Always confirm the payment from your server before shipping. */
(function (global) {
  "use strict";

  var script = document.currentScript;
  var GATEWAY_ORIGIN = script && script.src ? new URL(script.src, global.location.href).origin : global.location.origin;

  function PaymentGateway(options) {
    if (!(this instanceof PaymentGateway)) return new PaymentGateway(options);
    options = options || {};
    if (!options.key) throw new Error("PaymentGateway: 'key' is required");
    if (!options.orderId) throw new Error("PaymentGateway: 'orderId' is required");
    this.options = options;
    this.gatewayOrigin = (options.gatewayUrl ? new URL(options.gatewayUrl).origin : GATEWAY_ORIGIN);
    this.modal = null;
    this.iframe = null;
    this._onMessage = this._handleMessage.bind(this);
  }

  PaymentGateway.prototype.open = function () {
    if (this.modal) return this;
    var params = new URLSearchParams({
      order_id: this.options.orderId,
      embedded: "true",
      key: this.options.key,
      parent_origin: global.location.origin
    });
    var modal = document.createElement("div");
    modal.id = "payment-gateway-modal";
    modal.setAttribute("data-test-id", "payment-modal");
    modal.setAttribute("role", "dialog");
    modal.setAttribute("aria-modal", "true");
    modal.style.cssText = "position:fixed;inset:0;z-index:2147483647;background:rgba(15,23,42,.6);" +
      "display:flex;align-items:center;justify-content:center;";

    var box = document.createElement("div");
    box.style.cssText = "position:relative;width:min(440px,100vw);height:min(640px,100vh);background:#fff;" +
      "border-radius:12px;overflow:hidden;box-shadow:0 20px 50px rgba(0,0,0,.3);";

    var close = document.createElement("button");
    close.type = "button";
    close.setAttribute("data-test-id", "close-modal-button");
    close.setAttribute("aria-label", "Close");
    close.textContent = "\u00d7";
    close.style.cssText = "position:absolute;top:6px;right:8px;z-index:1;border:0;background:transparent;" +
      "font-size:26px;line-height:1;cursor:pointer;color:#334155;";
    var self = this;
    close.addEventListener("click", function () { self._closeFromUser(); });

    var iframe = document.createElement("iframe");
    iframe.setAttribute("data-test-id", "payment-iframe");
    iframe.setAttribute("title", "Payment");
    iframe.setAttribute("allow", "payment");
    iframe.src = this.gatewayOrigin + "/checkout?" + params.toString();
    iframe.style.cssText = "width:100%;height:100%;border:0;";

    box.appendChild(close);
    box.appendChild(iframe);
    modal.appendChild(box);
    document.body.appendChild(modal);
    this.modal = modal;
    this.iframe = iframe;
    global.addEventListener("message", this._onMessage);
    return this;
  };

  PaymentGateway.prototype.close = function () {
    global.removeEventListener("message", this._onMessage);
    if (this.modal && this.modal.parentNode) this.modal.parentNode.removeChild(this.modal);
    this.modal = null;
    this.iframe = null;
    return this;
  };

  PaymentGateway.prototype._closeFromUser = function () {
    this.close();
    if (typeof this.options.onClose === "function") this.options.onClose();
  };

  PaymentGateway.prototype._handleMessage = function (event) {
    // Only our own iframe, served from the gateway's origin, may talk to us.
    if (event.origin !== this.gatewayOrigin) return;
    if (!this.iframe || event.source !== this.iframe.contentWindow) return;
    var message = event.data || {};
    var data = message.data || {};
    if (message.type === "payment_success") {
      if (typeof this.options.onSuccess === "function") this.options.onSuccess(data);
    } else if (message.type === "payment_failed") {
      if (typeof this.options.onFailure === "function") this.options.onFailure(data);
    } else if (message.type === "close_modal") {
      this._closeFromUser();
    }
  };

  global.PaymentGateway = PaymentGateway;
})(window);
