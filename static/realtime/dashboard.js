/* Merchant dashboard: live updates over ws/merchant (ticket from the logged-in session),
 * with resume-from-cursor after a reconnect and a full re-fetch when in doubt. */
(function () {
  "use strict";

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function request(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var error = new Error((data.error && data.error.description) || ("HTTP " + r.status));
          error.data = data;
          throw error;
        }
        return data;
      });
    });
  }

  function formatAmount(minor, currency) {
    var digits = { JPY: 0, KRW: 0, BHD: 3, KWD: 3, OMR: 3 }[currency];
    if (digits === undefined) digits = 2;
    try {
      return new Intl.NumberFormat("en-IN", { style: "currency", currency: currency, minimumFractionDigits: digits })
        .format(minor / Math.pow(10, digits));
    } catch (e) { return currency + " " + (minor / Math.pow(10, digits)).toFixed(digits); }
  }

  function cell(testId, text, code) {
    var td = document.createElement("td");
    td.setAttribute("data-test-id", testId);
    var inner = document.createElement(code ? "code" : "span");
    inner.textContent = text == null ? "" : String(text);
    td.appendChild(inner);
    return td;
  }

  /* ---- the live connection, shared by every page ---- */
  var handlers = [];
  var cursor; // undefined until the first hello
  var retryDelay = 500;
  var indicator = document.getElementById("live-indicator");

  function connect() {
    request("POST", "/dashboard/api/ticket").then(function (t) {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + t.url);
      socket.onmessage = function (message) {
        var data;
        try { data = JSON.parse(message.data); } catch (e) { return; }
        // The resume cursor only moves with server-given cursors (hello/resumed), which
        // sit in the log's gap-free prefix; live events may arrive ahead of that prefix.
        if (data.type === "hello") {
          retryDelay = 500;
          if (indicator) indicator.classList.add("on");
          if (cursor !== undefined) socket.send(JSON.stringify({ type: "resume", after: cursor }));
          else cursor = data.cursor;
          handlers.forEach(function (h) { if (h.resync) h.resync(); });
        } else if (data.type === "event") {
          handlers.forEach(function (h) { h.event(data); });
        } else if (data.type === "resumed") {
          cursor = data.cursor;
        }
      };
      socket.onclose = function () {
        if (indicator) indicator.classList.remove("on");
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 15000);
      };
    }).catch(function () {
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    });
  }

  /* ---- transactions table ----
   * The table always holds a gap-free prefix of the merchant's payments that match the
   * filter, newest first by (created_at, id): the pages loaded so far plus live upserts.
   * A live row older than every loaded row is left for "Load older" to bring. */
  var table = document.getElementById("transactions-table");
  if (table) {
    var tbody = table.querySelector("tbody");
    var filter = document.getElementById("status-filter");
    var olderButton = document.getElementById("load-older");
    var olderError = document.getElementById("load-older-error");
    var emptyNote = document.getElementById("empty-note");
    var activeStatus = filter.value;
    // Cursor of the next older page; null = everything older is loaded; undefined while a
    // new filter's first page is loading.
    var nextCursor = olderButton.getAttribute("data-next-cursor") || null;
    var generation = 0; // bumps on a filter change, so answers for the old filter are dropped
    var known = {}; // payment id -> newest snapshot seen, so a late or replayed one never regresses a row

    var renderRow = function (p) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-test-id", "transaction-row");
      tr.setAttribute("data-payment-id", p.id);
      tr.setAttribute("data-version", p.version);
      tr.setAttribute("data-created-at", p.created_at || "");
      var idCell = cell("payment-id", p.id, true);
      var link = document.createElement("a");
      link.href = "/dashboard/payments/" + encodeURIComponent(p.id);
      link.appendChild(idCell.firstChild);
      idCell.appendChild(link);
      tr.appendChild(idCell);
      tr.appendChild(cell("order-id", p.order_id, true));
      tr.appendChild(cell("amount", formatAmount(p.amount, p.currency)));
      tr.appendChild(cell("method", p.method));
      var status = cell("status", p.status);
      status.firstChild.className = "badge " + p.status;
      tr.appendChild(status);
      tr.appendChild(cell("created-at", (p.created_at || "").slice(0, 19).replace("T", " ")));
      return tr;
    };
    var showState = function () {
      emptyNote.textContent = activeStatus === "all"
        ? "No payments yet. New payments appear here as they happen."
        : "No " + activeStatus + " payments.";
      emptyNote.hidden = nextCursor === undefined || tbody.firstElementChild !== null;
      olderButton.hidden = !nextCursor;
    };
    // Snapshot timestamps are fixed-width ISO strings (milliseconds, Z): string order is time order.
    var newerThan = function (p, tr) {
      var created = tr.getAttribute("data-created-at") || "";
      var pc = p.created_at || "";
      return pc > created || (pc === created && p.id > tr.getAttribute("data-payment-id"));
    };
    var upsert = function (incoming, fromPage) {
      var p = incoming;
      var seen = known[p.id];
      if (seen && seen.version >= p.version) p = seen;
      else known[p.id] = p;
      var existing = tbody.querySelector('tr[data-payment-id="' + CSS.escape(p.id) + '"]');
      if (existing && Number(existing.getAttribute("data-version")) >= p.version) return;
      if (activeStatus !== "all" && p.status !== activeStatus) {
        // It no longer matches the filter: the row leaves (nothing new is inserted).
        if (existing) { existing.remove(); showState(); }
        return;
      }
      var row = renderRow(p);
      if (existing) { tbody.replaceChild(row, existing); return; }
      // Pages land at the bottom and live rows near the top: check the ends before walking.
      var last = tbody.lastElementChild;
      var next = last && newerThan(p, last) ? tbody.firstElementChild : null;
      while (next && !newerThan(p, next)) next = next.nextElementSibling;
      if (next) tbody.insertBefore(row, next);
      else if (fromPage || nextCursor === null) tbody.appendChild(row);
      else return; // older than every loaded row: it arrives with "Load older"
      showState();
    };
    var query = function (extra) {
      var q = activeStatus === "all" ? "" : "status=" + encodeURIComponent(activeStatus);
      if (extra) q = q ? q + "&" + extra : extra;
      return q ? "?" + q : "";
    };
    var loadFirstPage = function () {
      var mine = generation;
      return request("GET", "/dashboard/api/payments" + query()).then(function (r) {
        if (mine !== generation) return;
        // A re-sync (cursor known) only merges into the loaded prefix; after a filter change
        // the table starts empty, so this page may append and it sets the cursor.
        var fresh = nextCursor === undefined;
        r.data.forEach(function (p) { upsert(p, fresh); });
        if (fresh) nextCursor = r.next_cursor;
        showState();
      });
    };
    filter.addEventListener("change", function () {
      generation += 1;
      activeStatus = filter.value;
      nextCursor = undefined;
      olderButton.disabled = false; // an older page still in flight belongs to the old filter
      olderError.textContent = "";
      tbody.replaceChildren();
      showState();
      history.replaceState(null, "", location.pathname + query());
      loadFirstPage().catch(function (err) { olderError.textContent = err.message; });
    });
    olderButton.addEventListener("click", function () {
      if (!nextCursor || olderButton.disabled) return;
      var mine = generation;
      olderButton.disabled = true;
      olderError.textContent = "";
      request("GET", "/dashboard/api/payments/older" + query("before=" + encodeURIComponent(nextCursor)))
        .then(function (r) {
          if (mine !== generation) return;
          r.data.forEach(function (p) { upsert(p, true); });
          nextCursor = r.next_cursor;
          olderButton.disabled = false;
          showState();
        })
        .catch(function (err) {
          if (mine !== generation) return;
          olderError.textContent = err.message;
          olderButton.disabled = false;
        });
    });
    handlers.push({
      event: function (e) { if (e.object_type === "payment" && e.data && e.data.payment) upsert(e.data.payment, false); },
      resync: function () { loadFirstPage().catch(function () {}); }
    });
  }

  /* ---- overview stats: re-fetched (at most once a second) when payment events arrive ---- */
  var stats = document.querySelector('[data-test-id="stats-container"]');
  if (stats) {
    var statsTimer = null;
    var statsLastRun = 0;
    var statsAsked = 0;
    var statsShown = 0;
    var fetchStats = function () {
      statsTimer = null;
      statsLastRun = Date.now();
      var mine = ++statsAsked;
      request("GET", "/dashboard/api/stats?mode=" + encodeURIComponent(stats.getAttribute("data-mode") || "all")).then(function (s) {
        if (mine < statsShown) return; // an older answer that arrived late
        statsShown = mine;
        ["total_transactions", "total_amount", "success_rate"].forEach(function (key) {
          stats.querySelector('[data-test-id="' + key.replace(/_/g, "-") + '"]').textContent = s[key];
        });
      }).catch(function () {});
    };
    // Trailing throttle: a burst of events costs one fetch a second, and the last event
    // of a burst is always followed by a fetch that sees it (pushes come after commit).
    var scheduleStats = function () {
      if (statsTimer === null) statsTimer = setTimeout(fetchStats, Math.max(0, statsLastRun + 1000 - Date.now()));
    };
    handlers.push({
      event: function (e) { if (e.object_type === "payment") scheduleStats(); },
      resync: scheduleStats
    });
  }

  /* ---- webhooks page ---- */
  var configForm = document.getElementById("webhook-config-form");
  if (configForm) {
    var flash = function (text) {
      var el = document.getElementById("webhook-flash");
      el.textContent = text;
      el.hidden = !text;
    };
    var showConfig = function (c) {
      var secret = document.getElementById("webhook-secret");
      if (secret && c.secret != null) secret.textContent = c.secret;
      configForm.url.value = c.url;
    };
    configForm.addEventListener("submit", function (e) {
      e.preventDefault();
      document.getElementById("webhook-url-error").textContent = "";
      request("POST", "/dashboard/api/webhooks/config", { url: configForm.url.value.trim() })
        .then(function (c) { showConfig(c); flash("Webhook URL saved"); })
        .catch(function (err) { document.getElementById("webhook-url-error").textContent = err.message; });
    });
    var regenerate = document.getElementById("regenerate-secret");
    if (regenerate) regenerate.addEventListener("click", function () {
      request("POST", "/dashboard/api/webhooks/regenerate-secret")
        .then(function (c) { showConfig(c); flash("New secret generated: update your receiver"); })
        .catch(function (err) { flash(err.message); });
    });
    document.getElementById("test-webhook").addEventListener("click", function () {
      request("POST", "/dashboard/api/webhooks/test")
        .then(function () { flash("Test webhook sent"); refreshLogs(); })
        .catch(function (err) { flash(err.message); });
    });

    var logsBody = document.querySelector("#webhook-logs-table tbody");
    var renderLog = function (d) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-test-id", "webhook-log-item");
      tr.setAttribute("data-webhook-id", d.id);
      tr.appendChild(cell("webhook-event", d.event));
      var status = cell("webhook-status", d.status);
      status.firstChild.className = "badge " + d.status;
      tr.appendChild(status);
      tr.appendChild(cell("webhook-attempts", d.attempts));
      tr.appendChild(cell("webhook-last-attempt", d.last_attempt_display));
      tr.appendChild(cell("webhook-response-code", d.response_code == null ? "\u2014" : d.response_code));
      var td = document.createElement("td");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = "Retry";
      button.setAttribute("data-test-id", "retry-webhook-button");
      button.setAttribute("data-webhook-id", d.id);
      td.appendChild(button);
      tr.appendChild(td);
      return tr;
    };
    var pending = null;
    var refreshLogs = function () {
      if (pending) return;
      pending = request("GET", "/dashboard/api/webhooks/logs").then(function (r) {
        var rows = r.data.map(renderLog);
        logsBody.replaceChildren.apply(logsBody, rows);
      }).catch(function () {}).then(function () { pending = null; });
    };
    logsBody.addEventListener("click", function (e) {
      var button = e.target.closest('[data-test-id="retry-webhook-button"]');
      if (!button) return;
      button.disabled = true;
      request("POST", "/dashboard/api/webhooks/" + encodeURIComponent(button.getAttribute("data-webhook-id")) + "/retry")
        .then(function () { flash("Webhook retry scheduled"); refreshLogs(); })
        .catch(function (err) { flash(err.message); button.disabled = false; });
    });
    // Delivery attempts are not outbox events: every event nudges a refresh, and a slow
    // poll (only while the page is visible) catches attempt results and retries.
    handlers.push({ event: function () { setTimeout(refreshLogs, 300); }, resync: refreshLogs });
    setInterval(function () { if (!document.hidden) refreshLogs(); }, 2000);
  }

  /* ---- confirmation before any form marked data-confirm (refund, capture, cancel, …) ---- */
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) e.preventDefault();
  });

  /* ---- one payment's page: the live part is re-rendered by the server on its events ---- */
  var paymentLive = document.getElementById("payment-live");
  if (paymentLive) {
    var paymentId = paymentLive.getAttribute("data-payment-id");
    var detailAsked = 0, detailShown = 0, detailTimer = null;
    var refreshDetail = function () {
      detailTimer = null;
      var mine = ++detailAsked;
      request("GET", "/dashboard/api/payments/" + encodeURIComponent(paymentId) + "/detail").then(function (r) {
        if (mine < detailShown) return; // a late answer never overwrites a newer one
        detailShown = mine;
        paymentLive.innerHTML = r.html; // rendered by our own template, escaped there
        paymentLive.setAttribute("data-version", r.version);
      }).catch(function () {});
    };
    var scheduleDetail = function () { if (detailTimer === null) detailTimer = setTimeout(refreshDetail, 150); };
    var concerns = function (e) {
      if (e.object_id === paymentId) return true;
      var refund = e.data && e.data.refund;
      return !!(refund && refund.payment_id === paymentId);
    };
    handlers.push({ event: function (e) { if (concerns(e)) scheduleDetail(); }, resync: scheduleDetail });
  }

  window.TenderDashboard = { request: request, handlers: handlers, formatAmount: formatAmount, cell: cell };
  window.addEventListener("load", function () { if (handlers.length) connect(); });
  document.body.setAttribute("data-ready", "true"); // every handler above is attached
})();
