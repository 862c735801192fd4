// A Tender webhook receiver in Node.js, verified with the public `standardwebhooks` package.
//
//   WEBHOOK_SECRET=whsec_... PORT=4001 node receiver.js
//
// Every request is verified before a byte of it is believed: the `webhook-signature` must be
// an HMAC of `webhook-id.webhook-timestamp.body` with your endpoint's secret, and the
// timestamp within five minutes (replays of old captures fail). Delivery is at least once, so
// a repeated `webhook-id` is acknowledged and not applied twice. One JSON line per request
// goes to stdout.
"use strict";

const http = require("node:http");
const { Webhook, WebhookVerificationError } = require("standardwebhooks");

// Secrets Tender generates are `whsec_` + base64 and the library takes them as they are. The
// seeded demo secret (`whsec_test_abc123`) is not base64: Tender keys its HMAC with the
// secret's raw bytes, and so must we.
function verifierFor(secret) {
  const encoded = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  const isBase64 = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) && encoded.length % 4 === 0;
  if (isBase64 && Buffer.from(encoded, "base64").length >= 16) {
    return new Webhook(secret);
  }
  return new Webhook(secret, { format: "raw" });
}

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error("set WEBHOOK_SECRET to your endpoint's whsec_… secret");
  process.exit(2);
}
const verifier = verifierFor(secret);
const seen = new Set(); // a database table with a unique webhook_id in a real receiver
const MAX_BODY = 1024 * 1024;

const server = http.createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(405, { Allow: "POST" }).end();
    return;
  }
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      res.writeHead(413).end();
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (res.writableEnded) return;
    const body = Buffer.concat(chunks);
    let event;
    try {
      event = verifier.verify(body, req.headers); // throws unless signed and fresh
    } catch (err) {
      // WebhookVerificationError: bad or stale signature; anything else: not our JSON.
      const reason = err instanceof WebhookVerificationError ? err.message : `unreadable body: ${err.message}`;
      console.log(JSON.stringify({ verified: false, error: reason }));
      res.writeHead(400, { "Content-Type": "text/plain" }).end("bad signature");
      return;
    }
    const id = req.headers["webhook-id"];
    const repeat = seen.has(id);
    seen.add(id);
    // Not every event carries a payment or a refund (reconciliation.completed, endpoint tests):
    // take the first object with an id, and accept an event with no data at all.
    const data = event.data || {};
    const object = data.payment || data.refund || Object.values(data).find((v) => v && v.id) || {};
    console.log(JSON.stringify({ verified: true, id, event: event.event, object_id: object.id, repeat }));
    res.writeHead(204).end(); // answer fast; do slow work in a queue of your own
  });
});

const port = Number(process.env.PORT || 4001);
server.listen(port, process.env.HOST || "127.0.0.1", () => {
  console.log(JSON.stringify({ listening: port }));
});
