/* Hosted checkout: validates input, creates the payment through the public API, then
 * follows it live over ws/payments/{id} AND by polling every 2 s (either alone is enough;
 * versions make the two idempotent). Ends on success or error, tells the SDK's parent
 * window (postMessage, to the one origin it was given), and redirects to callback_url. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("checkout-config").textContent);
  var order = config.order;
  var $ = function (id) { return document.querySelector('[data-test-id="' + id + '"]'); };
  // "duplicate": charged for an order another payment (another tab) already paid; the
  // gateway refunds it in full automatically.
  var FINAL = { success: true, failed: true, cancelled: true, duplicate: true };
  var DUPLICATE_MESSAGE = "This order was already paid with another payment. " +
    "This charge is being refunded to you in full automatically.";
  var POLL_MS = 2000;
  var current = null; // {id, version, status, ...}
  var socket = null;
  var pollTimer = null;
  var finished = false;

  var saved = $("saved-methods");

  function show(name) {
    ["payment-methods", "processing-state", "success-state", "error-state"].forEach(function (id) {
      $(id).hidden = id !== name;
    });
    if (saved) saved.hidden = name !== "payment-methods";
    document.getElementById("upi-form").hidden = true;
    document.getElementById("card-form").hidden = true;
  }

  // Only the visible form's button carries data-test-id="pay-button", so the id stays
  // unique on the page (strict locators, screen readers) whichever method is chosen.
  function markPayButton(method) {
    ["upi", "card"].forEach(function (m) {
      var button = document.getElementById(m + "-form").querySelector('button[type="submit"]');
      if (m === method) button.setAttribute("data-test-id", "pay-button");
      else button.removeAttribute("data-test-id");
    });
  }

  function chooseMethod(method) {
    $("payment-methods").hidden = false;
    document.getElementById("upi-form").hidden = method !== "upi";
    document.getElementById("card-form").hidden = method !== "card";
    markPayButton(method);
    document.querySelectorAll(".method:not(.saved)").forEach(function (btn) {
      btn.classList.toggle("active", btn.dataset.method === method);
    });
    var form = document.getElementById(method + "-form");
    var first = form.querySelector("input");
    if (first) first.focus();
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error, .form-error").forEach(function (el) { el.textContent = ""; });
    form.querySelectorAll("input").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }

  function fieldError(form, field, message) {
    var el = form.querySelector('[data-error-for="' + field + '"]') || form.querySelector(".form-error");
    el.textContent = message;
    var input = el.previousElementSibling;
    if (input && input.tagName === "INPUT") input.setAttribute("aria-invalid", "true");
  }

  function luhn(digits) {
    var sum = 0, double = false;
    for (var i = digits.length - 1; i >= 0; i--) {
      var d = digits.charCodeAt(i) - 48;
      if (double) { d *= 2; if (d > 9) d -= 9; }
      sum += d; double = !double;
    }
    return sum % 10 === 0;
  }

  function validateUpi(form) {
    var vpa = form.vpa.value.trim();
    if (!vpa) return [["vpa", "Enter your UPI ID"]];
    if (!/^[a-zA-Z0-9._-]+@[a-zA-Z0-9]+$/.test(vpa)) return [["vpa", "Enter a valid UPI ID, like name@bank"]];
    return [];
  }

  function parseExpiry(value) {
    var m = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(value);
    if (!m) return null;
    var month = parseInt(m[1], 10), year = parseInt(m[2], 10);
    if (year < 100) year += 2000;
    if (month < 1 || month > 12) return null;
    return { month: month, year: year };
  }

  function validateCard(form) {
    var errors = [];
    var number = form.number.value.replace(/[\s-]/g, "");
    if (!/^\d{12,19}$/.test(number) || !luhn(number)) errors.push(["card.number", "Enter a valid card number"]);
    var expiry = parseExpiry(form.expiry.value);
    if (!expiry) {
      errors.push(["card.expiry", "Enter the expiry as MM/YY"]);
    } else {
      var now = new Date();
      if (expiry.year < now.getFullYear() || (expiry.year === now.getFullYear() && expiry.month < now.getMonth() + 1)) {
        errors.push(["card.expiry", "This card has expired"]);
      }
    }
    if (!/^\d{3,4}$/.test(form.cvv.value.trim())) errors.push(["card.cvv", "Enter the 3 or 4 digit CVV"]);
    if (!form.holder_name.value.trim()) errors.push(["card.holder_name", "Enter the name on the card"]);
    return errors;
  }

  function apiField(error) {
    var field = error.field || "";
    if (/expiry/.test(field) || error.code === "EXPIRED_CARD") return "card.expiry";
    if (field === "vpa" || error.code === "INVALID_VPA") return "vpa";
    if (field === "card.number" || field === "card" || error.code === "INVALID_CARD") return "card.number";
    return field;
  }

  function submit(event) {
    event.preventDefault();
    var form = event.target;
    var method = form.id === "upi-form" ? "upi" : "card";
    clearErrors(form);
    var errors = method === "upi" ? validateUpi(form) : validateCard(form);
    if (errors.length) {
      errors.forEach(function (e) { fieldError(form, e[0], e[1]); });
      return;
    }
    var body = { order_id: order.id, method: method };
    if (method === "upi") {
      body.vpa = form.vpa.value.trim();
    } else {
      var expiry = parseExpiry(form.expiry.value);
      body.card = {
        number: form.number.value.replace(/[\s-]/g, ""),
        expiry_month: String(expiry.month).padStart(2, "0"),
        expiry_year: String(expiry.year),
        cvv: form.cvv.value.trim(),
        holder_name: form.holder_name.value.trim()
      };
    }
    form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    fetch("/api/v1/payments/public", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, data: data };
      });
    }).then(function (result) {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      if (!result.ok) {
        var error = result.data.error || { description: "Payment could not be started" };
        fieldError(form, apiField(error), error.description);
        return;
      }
      if (method === "card") { form.number.value = ""; form.cvv.value = ""; } // never keep card data around
      follow(result.data);
    }).catch(function () {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      fieldError(form, "", "Network error: check your connection and try again");
    });
  }

  // A returning customer's saved method: no card data is typed or sent, only its id; the
  // gateway checks it belongs to this order's customer.
  function payWithSaved(button) {
    var error = $("saved-method-error");
    error.textContent = "";
    saved.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    fetch("/api/v1/payments/public", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ order_id: order.id, payment_method_id: button.dataset.paymentMethodId }),
      credentials: "omit"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, data: data };
      });
    }).then(function (result) {
      saved.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      if (!result.ok) {
        error.textContent = (result.data.error || {}).description || "Payment could not be started";
        return;
      }
      follow(result.data);
    }).catch(function () {
      saved.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      error.textContent = "Network error: check your connection and try again";
    });
  }

  function follow(payment) {
    finished = false;
    current = null;
    show("processing-state");
    apply(payment);
    if (finished) return;
    connect(payment.id);
    pollTimer = setInterval(function () { poll(payment.id); }, POLL_MS);
  }

  function connect(paymentId) {
    try {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + "/ws/payments/" + encodeURIComponent(paymentId));
    } catch (e) { socket = null; return; }
    socket.onopen = function () {
      if (current) socket.send(JSON.stringify({ type: "resume", version: current.version }));
    };
    socket.onmessage = function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (data.type !== "payment") return;
      var gap = current && data.version > current.version + 1;
      apply(data.payment);
      if (gap) poll(paymentId); // a push went missing: the API has the truth
    };
    socket.onerror = function () { /* polling carries on */ };
  }

  function poll(paymentId) {
    fetch("/checkout/payments/" + encodeURIComponent(paymentId), { credentials: "omit", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) apply(data.payment, data.redirect_url); })
      .catch(function () { /* try again on the next tick */ });
  }

  function apply(payment, redirectUrl) {
    if (!payment || (current && payment.id === current.id && payment.version < current.version)) return;
    current = payment;
    if (!FINAL[payment.status]) return;
    if (!finished) finish(payment);
    if (redirectUrl !== undefined) redirect(redirectUrl);
  }

  function finish(payment) {
    finished = true;
    clearInterval(pollTimer);
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    var data = { paymentId: payment.id, orderId: payment.order_id, status: payment.status,
                 amount: payment.amount, currency: payment.currency };
    if (payment.status === "success") {
      $("payment-id").textContent = payment.id;
      show("success-state");
      notifyParent("payment_success", data);
    } else {
      $("error-message").textContent = payment.status === "duplicate" ? DUPLICATE_MESSAGE :
        payment.error_description || (payment.status === "cancelled" ? "Payment was cancelled" : "Payment failed");
      data.error = { code: payment.error_code, description: payment.error_description };
      show("error-state");
      notifyParent("payment_failed", data);
    }
    poll(payment.id); // fetch the signed callback redirect, if the merchant gave one
  }

  var redirected = false;
  function redirect(url) {
    if (!url || redirected || config.embedded) return; // embedded: the SDK's callbacks decide
    redirected = true;
    setTimeout(function () { window.location.assign(url); }, 1500);
  }

  function notifyParent(type, data) {
    if (!config.embedded || !config.parentOrigin || window.parent === window) return;
    window.parent.postMessage({ type: type, data: data }, config.parentOrigin);
  }

  document.querySelectorAll(".method:not(.saved)").forEach(function (btn) {
    btn.addEventListener("click", function () { chooseMethod(btn.dataset.method); });
  });
  if (saved) {
    saved.querySelectorAll("button.saved").forEach(function (btn) {
      btn.addEventListener("click", function () { payWithSaved(btn); });
    });
  }
  document.getElementById("upi-form").addEventListener("submit", submit);
  document.getElementById("card-form").addEventListener("submit", submit);
  $("retry-button").addEventListener("click", function () {
    current = null;
    finished = false;
    show("payment-methods");
  });
  document.getElementById("expiry").addEventListener("input", function (e) {
    var v = e.target.value.replace(/[^\d]/g, "").slice(0, 4);
    e.target.value = v.length > 2 ? v.slice(0, 2) + "/" + v.slice(2) : v;
  });

  var closeButton = document.getElementById("close-checkout");
  if (closeButton) {
    closeButton.addEventListener("click", function () {
      notifyParent("close_modal", { orderId: order.id, paymentId: current ? current.id : null });
    });
  }

  if (order.status === "paid") {
    $("payment-methods").hidden = true;
    if (saved) saved.hidden = true;
    $("success-message").textContent = "This order is already paid.";
    show("success-state");
  }
  markPayButton(null);
  document.body.setAttribute("data-ready", "true"); // every handler above is attached
})();
