/* Dashboard batch upload: parse the CSV in the page, check every row against the batch
 * rules (the server checks again, with the database), show each row's error before anything
 * is sent, submit the valid rows as one batch, then poll its progress every second until it
 * is completed. No card number is ever read from the file: a card column stops the upload. */
(function () {
  "use strict";
  var form = document.getElementById("batch-form");
  if (!form) return;
  var $ = function (id) { return document.querySelector('[data-test-id="' + id + '"]'); };
  var REFERENCE = /^[A-Za-z0-9._:\/-]{1,64}$/;
  var VPA = /^[a-zA-Z0-9._-]+@[a-zA-Z0-9]+$/;
  var COLUMNS = ["reference", "amount", "currency", "vpa", "payment_method_id", "order_id", "customer_id"];
  var MAX = 1000;
  var valid = [];

  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : form.querySelector("[name=csrfmiddlewaretoken]").value;
  }

  // RFC 4180: commas, quotes ("" inside quotes), CRLF or LF.
  function parseCsv(text) {
    var rows = [], row = [], field = "", quoted = false;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
        else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { row.push(field); field = ""; }
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(field); field = "";
        if (row.some(function (v) { return v.trim() !== ""; })) rows.push(row);
        row = [];
      } else field += c;
    }
    row.push(field);
    if (row.some(function (v) { return v.trim() !== ""; })) rows.push(row);
    return rows;
  }

  function checkRow(item, seen) {
    if (!REFERENCE.test(item.reference || "")) return "reference: 1-64 of A-Z a-z 0-9 . _ : / -";
    if (seen[item.reference]) return "reference repeats row " + seen[item.reference];
    if (!!item.order_id === !!item.amount) return "give amount or order_id (one of them)";
    if (item.amount && !/^[0-9]+$/.test(item.amount)) return "amount: whole minor units (50000 is ₹500.00)";
    if (item.amount && parseInt(item.amount, 10) < 100) return "amount: at least 100";
    if (item.currency && !/^[A-Z]{3}$/.test(item.currency)) return "currency: ISO 4217, like INR";
    if (!!item.vpa === !!item.payment_method_id) return "give vpa or payment_method_id (one of them)";
    if (item.vpa && !VPA.test(item.vpa)) return "vpa: name@bank";
    return "";
  }

  function toItem(item) {
    var out = { reference: item.reference };
    if (item.amount) out.amount = parseInt(item.amount, 10);
    ["currency", "vpa", "payment_method_id", "order_id", "customer_id"].forEach(function (k) { if (item[k]) out[k] = item[k]; });
    if (out.vpa) out.method = "upi";
    return out;
  }

  function render(rows) {
    var table = $("batch-rows"), body = table.querySelector("tbody");
    body.innerHTML = "";
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-test-id", "batch-row");
      if (r.error) tr.className = "row-error";
      [r.line, r.item.reference, r.item.amount || r.item.order_id, r.item.vpa || r.item.payment_method_id, r.error]
        .forEach(function (value, index) {
          var td = document.createElement("td");
          td.textContent = value || "";
          if (index === 4) td.setAttribute("data-test-id", "batch-row-error");
          tr.appendChild(td);
        });
      body.appendChild(tr);
    });
    table.hidden = rows.length === 0;
  }

  function load(text) {
    var rows = parseCsv(text);
    valid = [];
    if (!rows.length) { $("batch-summary").textContent = "The file is empty."; return; }
    var header = rows[0].map(function (h) { return h.trim().toLowerCase(); });
    if (header.some(function (h) { return /card|number|cvv/.test(h); })) {
      render([]);
      $("batch-summary").textContent = "This file has a card column: card numbers are never accepted in a batch. " +
        "Save the card and use its payment_method_id.";
      $("batch-submit").disabled = true;
      return;
    }
    var unknown = header.filter(function (h) { return COLUMNS.indexOf(h) < 0; });
    if (header.indexOf("reference") < 0 || unknown.length) {
      $("batch-summary").textContent = "Header must be " + COLUMNS.join(",") + (unknown.length ? " (unknown: " + unknown.join(", ") + ")" : "");
      $("batch-submit").disabled = true;
      return;
    }
    var seen = {}, checked = [];
    rows.slice(1, MAX + 1).forEach(function (cells, index) {
      var item = {};
      header.forEach(function (h, i) { item[h] = (cells[i] || "").trim(); });
      var error = checkRow(item, seen);
      if (!error) { seen[item.reference] = index + 2; valid.push(toItem(item)); }
      checked.push({ line: index + 2, item: item, error: error });
    });
    render(checked);
    var bad = checked.length - valid.length;
    var extra = rows.length - 1 > MAX ? " Only the first " + MAX + " rows are read." : "";
    $("batch-summary").textContent = valid.length + " valid rows, " + bad + " with errors." + extra;
    $("batch-submit").disabled = valid.length === 0;
  }

  $("batch-file-input").addEventListener("change", function (event) {
    var file = event.target.files[0];
    if (!file) return;
    var reader = new FileReader();
    reader.onload = function () { load(String(reader.result)); };
    reader.readAsText(file);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var reference = $("batch-reference-input").value.trim();
    if (!REFERENCE.test(reference)) { $("batch-summary").textContent = "Give the batch a reference (1-64 of A-Z a-z 0-9 . _ : / -)."; return; }
    $("batch-submit").disabled = true;
    fetch("/dashboard/api/batches", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ reference: reference, items: valid }),
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (!result.ok) {
        $("batch-summary").textContent = (result.data.error || {}).description || "The batch was refused";
        $("batch-submit").disabled = false;
        return;
      }
      var list = $("batch-server-rejections");
      list.innerHTML = "";
      result.data.rejected.forEach(function (r) {
        var li = document.createElement("li");
        li.textContent = (r.reference || "item " + r.index) + ": " + r.error.description;
        list.appendChild(li);
      });
      $("batch-rejected").textContent = String(result.data.rejected.length);
      $("batch-id").textContent = result.data.id;
      $("batch-progress").hidden = false;
      $("batch-summary").textContent = "Batch " + result.data.id + ": " + result.data.accepted + " payments accepted.";
      poll(result.data.id);
    }).catch(function () {
      $("batch-summary").textContent = "Network error: try again";
      $("batch-submit").disabled = false;
    });
  });

  function poll(batchId) {
    fetch("/dashboard/api/batches/" + encodeURIComponent(batchId), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (b) {
        if (!b) { setTimeout(function () { poll(batchId); }, 1000); return; }
        $("batch-success").textContent = String(b.success_count);
        $("batch-failed").textContent = String(b.failed_count);
        $("batch-pending").textContent = String(b.pending_count);
        $("batch-status").textContent = b.status;
        var bar = $("batch-progress-bar");
        bar.max = Math.max(1, b.accepted);
        bar.value = b.success_count + b.failed_count;
        if (b.status !== "completed") setTimeout(function () { poll(batchId); }, 1000);
      })
      .catch(function () { setTimeout(function () { poll(batchId); }, 1000); });
  }
  document.body.setAttribute("data-batches-ready", "true"); // the upload's handlers are attached
})();
