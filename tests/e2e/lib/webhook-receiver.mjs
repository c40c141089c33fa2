// A webhook receiver for the API tests (tests/api/webhooks): every POST is
// checked with the official Standard Webhooks library (`standardwebhooks`,
// the one receivers use), recorded, and answered with the next status of
// the plan (200 once the plan is used up). Control routes, for the test:
//   POST /_secret {"secret": "whsec_..."}   the secret to verify with
//   POST /_plan   {"statuses": [500, 410]}  how the next deliveries are answered
//   GET  /_received                         what came, in order
// Prints `listening <port>` once it takes connections.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

let secret = null;
let plan = [];
const received = [];

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

const server = http.createServer(async (req, res) => {
  const body = await readBody(req);
  if (req.url === '/_secret' && req.method === 'POST') {
    secret = JSON.parse(body).secret;
    return json(res, 200, { ok: true });
  }
  if (req.url === '/_plan' && req.method === 'POST') {
    plan = JSON.parse(body).statuses;
    return json(res, 200, { ok: true });
  }
  if (req.url === '/_received' && req.method === 'GET') {
    return json(res, 200, received);
  }
  let verified = false;
  let error = null;
  let payload = null;
  try {
    payload = new Webhook(secret).verify(body, req.headers);
    verified = true;
  } catch (err) {
    error = String(err && err.message ? err.message : err);
    try { payload = JSON.parse(body); } catch { payload = null; }
  }
  const status = plan.length > 0 ? plan.shift() : 200;
  received.push({
    path: req.url,
    id: req.headers['webhook-id'] ?? null,
    timestamp: req.headers['webhook-timestamp'] ?? null,
    signature: req.headers['webhook-signature'] ?? null,
    verified,
    error,
    payload,
    answered: status,
  });
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(status < 300 ? 'thanks' : `refused with ${status}`);
});

server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
