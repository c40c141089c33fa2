// The media benchmark (bench/media.sh runs it against a fresh server):
//
// 1. Upload throughput: files of --file-mib MiB uploaded with
//    POST /api/files/upload by --concurrency clients for --count files,
//    in MB/s of request bodies; side by side in the same run with a
//    reference: a bare Node HTTP server that streams each body to a file
//    (no parsing, no checks), which bounds what this machine's loopback and
//    disk give an upload.
// 2. A 4,000 x 3,000 JPEG (--photo, made by media.sh): the upload's latency
//    (which includes decoding it under the pixel cap and stripping its
//    metadata) and the thumbnails' latency (upload answered -> both
//    thumbnails made by the worker), over --photos uploads.
//
// Prints one JSON summary. Environment: BENCH_TENANT, BENCH_ADMIN_EMAIL,
// BENCH_ADMIN_PASSWORD (as bench/run.sh sets them).

import { createServer } from "node:http";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";

const base = process.argv[2];
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const opts = {
  fileMib: Number(arg("file-mib", 20)),
  count: Number(arg("count", 40)),
  concurrency: Number(arg("concurrency", 4)),
  photo: arg("photo", null),
  photos: Number(arg("photos", 10)),
};

async function api(method, path, { token, body, form } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let payload;
  if (form) payload = form;
  else if (body) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(base + path, { method, headers, body: payload });
  const json = await res.json();
  if (!json.success) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

async function pool(n, total, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < total) await fn(next++);
    }),
  );
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/// Uploads `count` bodies of `bytes` with `upload(i)`: MB/s and latencies.
async function throughput(name, bytes, upload) {
  const latencies = [];
  const t0 = performance.now();
  await pool(opts.concurrency, opts.count, async (i) => {
    const t = performance.now();
    await upload(i);
    latencies.push(performance.now() - t);
  });
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    name,
    files: opts.count,
    fileMiB: opts.fileMib,
    concurrency: opts.concurrency,
    mbPerSecond: round((opts.count * bytes.length) / 1e6 / seconds),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
  };
}

/// The reference: a bare HTTP server streaming each body into a file.
async function reference(bytes) {
  const dir = mkdtempSync(join(tmpdir(), "samvad-media-ref-"));
  let n = 0;
  const server = createServer(async (req, res) => {
    await pipeline(req, createWriteStream(join(dir, `f${n++}`)));
    res.end('{"success":true}');
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}/upload`;
  try {
    return await throughput("reference: bare Node server, body to a file", bytes, async () => {
      const form = new FormData();
      form.append("file", new Blob([bytes]), "big.bin");
      const res = await fetch(url, { method: "POST", body: form });
      await res.text();
    });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function photos(token) {
  const photo = readFileSync(opts.photo);
  const uploads = [];
  const thumbs = [];
  for (let i = 0; i < opts.photos; i++) {
    const form = new FormData();
    form.append("file", new Blob([photo]), "chart.jpg");
    const t0 = performance.now();
    const file = await api("POST", "/api/files/upload", { token, form });
    const t1 = performance.now();
    uploads.push(t1 - t0);
    for (;;) {
      const now = await api("GET", `/api/files/${file.id}`, { token });
      if (now.thumbnails?.ready) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    thumbs.push(performance.now() - t1);
  }
  uploads.sort((a, b) => a - b);
  thumbs.sort((a, b) => a - b);
  return {
    name: "4000x3000 JPEG",
    bytes: photo.length,
    photos: opts.photos,
    uploadP50Ms: round(percentile(uploads, 50)),
    uploadMaxMs: round(uploads[uploads.length - 1]),
    thumbnailsP50Ms: round(percentile(thumbs, 50)),
    thumbnailsMaxMs: round(thumbs[thumbs.length - 1]),
  };
}

const token = (
  await api("POST", "/api/auth/login", {
    body: {
      tenant: process.env.BENCH_TENANT,
      email: process.env.BENCH_ADMIN_EMAIL,
      password: process.env.BENCH_ADMIN_PASSWORD,
      deviceName: "bench",
    },
  })
).accessToken;
const bytes = randomBytes(opts.fileMib * 1024 * 1024);
bytes[0] = 1; // sniffs as a plain file
const samvad = await throughput("samvad: POST /api/files/upload", bytes, async () => {
  const form = new FormData();
  form.append("file", new Blob([bytes]), "big.bin");
  await api("POST", "/api/files/upload", { token, form });
});
const ref = await reference(bytes);
const summary = {
  uploads: [samvad, ref],
  ratio: round(samvad.mbPerSecond / ref.mbPerSecond, 2),
  photo: opts.photo ? await photos(token) : null,
};
console.log(JSON.stringify(summary, null, 2));
