#!/usr/bin/env node
// REST sends: messages/s and latency of POST /api/conversations/{id}/messages.
// Sequentially (the default), one request at a time, in two cases:
//   one     one user sends into their direct conversation with an astrologer;
//   across  100 users (--convs), each in a direct conversation with the same
//           astrologer and each with their own token, send round robin: the
//           shape of real traffic, many users each chatting with someone.
// Or concurrently (--concurrency N, below): N clients at once, closed loop
// or at a fixed arrival rate.
// Afterwards every conversation is read back (GET .../messages?after=) and
// must hold seq 1..N without gaps, with the ids the sends returned.
//
// Run it with bench/run.sh, which builds the release binary, starts a server
// on a fresh database, runs this script (passing extra arguments on) and
// cleans up. By hand, against a running server (Node 20, no npm packages):
//
//   node bench/rest_send.mjs [baseUrl] [--one 2000] [--convs 100] [--per-conv 20]
//        [--warmup 500] [--tenant bench] [--admin-email admin@bench.test]
//        [--admin-password bench-admin-password] [--order one,across|across,one]
//        [--client fetch|http]
//   node bench/rest_send.mjs [baseUrl] --concurrency 64 [--duration 30]
//        [--warmup-seconds 5] [--rate R] [--astrologers A]
//
// The tenant and its admin must exist: run.sh creates them with `samvad
// tenant create`; on a fresh dev server the demo tenant works too (--tenant
// demo --admin-email admin@demo.test --admin-password samvad-demo). The
// script lifts the tenant's send and login limits (PATCH /api/settings) and
// gives its participants unique emails, so it can run repeatedly.
//
// --client  fetch (default): Node's global fetch (undici, keep-alive).
//           http: node:http with a keep-alive agent, which costs the client
//           far less CPU per request. Client and server share the cores of
//           a small machine, so the client's CPU shows in the numbers.
// --order   which case runs first (the first one measured tends to be a
//           little slower).
//
// Concurrent mode (issue 13 asks for >= 3,000 sends/s from 64 concurrent
// clients at p99 <= 50 ms):
// --concurrency N   N clients send at once; the sequential cases do not run
//           (--one, --convs, --per-conv, --warmup, --order are ignored).
//           Each client is a user with their own token and their own
//           keep-alive connection (node:http, one Agent of one socket per
//           client: cheap on CPU, whatever --client says), sending into
//           their own direct conversation with an astrologer: many users
//           each chatting with an astrologer, each astrologer in several of
//           those chats at once. Only the users send, so a conversation has
//           one send in flight at a time (two clients never wait for the
//           same conversation's seq lock) and its seqs follow the
//           acknowledgements.
// --astrologers A   how many astrologers the users talk to (default
//           ceil(N / 8): user i talks to astrologer i mod A).
// --duration S      measured seconds (default 30), after
// --warmup-seconds S  seconds of the same load, not measured (default 5).
// --rate R  open loop: R sends a second in total at fixed intervals, round
//           robin over the clients (each sends R/N a second). A client whose
//           previous send is unanswered queues the next one, and latency
//           counts from the scheduled time, queueing included (the request
//           alone is serviceLatencyMs; the deepest queue is maxBacklog).
//           After the window the queues drain for up to max(10, S)
//           seconds; the window's sends still queued then count as notSent.
//           Without --rate: closed loop, each client sends its next message
//           as soon as the previous one is answered.
// Counted are the sends started (closed loop) or scheduled (open loop)
// within the measured window, each awaited. Reported: accepted sends a
// second, the latency (p50/p90/p95/p99/max) of the accepted sends, sends
// refused with 503 `overloaded` (the server's send queue, SAMVAD_SEND_QUEUE,
// is full; only past 256 clients by default) apart from the other errors by
// status and code ("network ECONNRESET", "timeout" after 30 s), the
// client's own CPU and event loop delay (near 1 core, the client is the
// bottleneck). A refused or failed send is not retried: the client goes on
// with its next message. Afterwards every conversation must hold seq 1..N
// without gaps and, at each acknowledged seq, the id that was acknowledged
// (a send that timed out or lost its connection may be stored all the
// same: counted as unacknowledged, not a problem).
//
// Optional environment, for the cost breakdown (bench/run.sh sets it):
//   BENCH_SERVER_PID, BENCH_DB_PID
//       CPU milliseconds per message of those processes (/proc/PID/stat).
//   BENCH_MYSQL="mysql -h127.0.0.1 -uroot"
//       SHOW GLOBAL STATUS deltas per message: statements, commits, fsyncs.
//       The counters are global, so keep the MariaDB server otherwise quiet
//       (Com_insert is then 1.0 per message).
//   BENCH_FSYNC_DIR
//       A directory on the database's disk: the summary then includes that
//       disk's fsync latency (200 x write 4 KiB + fsync).
//
// Prints progress to stderr and one JSON summary to stdout.

import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import http from "node:http";
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const opts = {
    baseUrl: "http://127.0.0.1:8080",
    one: 2000,
    convs: 100,
    perConv: 20,
    warmup: 500,
    tenant: process.env.BENCH_TENANT ?? "bench",
    adminEmail: process.env.BENCH_ADMIN_EMAIL ?? "admin@bench.test",
    adminPassword: process.env.BENCH_ADMIN_PASSWORD ?? "bench-admin-password",
    setupConcurrency: 4,
    order: "one,across",
    client: "fetch",
    concurrency: 0,
    astrologers: 0,
    duration: 30,
    warmupSeconds: 5,
    rate: 0,
  };
  const names = {
    "--one": ["one", Number],
    "--convs": ["convs", Number],
    "--per-conv": ["perConv", Number],
    "--warmup": ["warmup", Number],
    "--tenant": ["tenant", String],
    "--admin-email": ["adminEmail", String],
    "--admin-password": ["adminPassword", String],
    "--setup-concurrency": ["setupConcurrency", Number],
    "--order": ["order", String],
    "--client": ["client", String],
    "--concurrency": ["concurrency", Number],
    "--astrologers": ["astrologers", Number],
    "--duration": ["duration", Number],
    "--warmup-seconds": ["warmupSeconds", Number],
    "--rate": ["rate", Number],
  };
  const given = new Set();
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    if (arg.startsWith("--") && arg.includes("=")) {
      [arg, value] = [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)];
    }
    if (arg === "-h" || arg === "--help") {
      process.stdout.write(readFileSync(new URL(import.meta.url)).toString().split("\nimport ")[0] + "\n");
      process.exit(0);
    }
    if (names[arg]) {
      const [key, type] = names[arg];
      value ??= argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      opts[key] = type(value);
      given.add(arg);
      if (type === Number && !(Number.isInteger(opts[key]) && opts[key] >= 0)) {
        throw new Error(`${arg} must be a whole number`);
      }
    } else if (!arg.startsWith("-")) {
      opts.baseUrl = arg.replace(/\/+$/, "");
    } else {
      throw new Error(`unknown option ${arg} (try --help)`);
    }
  }
  if (opts.convs < 1 || opts.one < 1 || opts.perConv < 1) {
    throw new Error("--one, --convs and --per-conv must be at least 1");
  }
  if (!["fetch", "http"].includes(opts.client)) {
    throw new Error("--client is fetch or http");
  }
  if (!["one,across", "across,one"].includes(opts.order)) {
    throw new Error("--order is one,across or across,one");
  }
  const concurrentOnly = ["--astrologers", "--duration", "--warmup-seconds", "--rate"].filter((o) => given.has(o));
  if (!opts.concurrency && concurrentOnly.length > 0) {
    throw new Error(`${concurrentOnly.join(", ")} only apply with --concurrency`);
  }
  if (opts.concurrency) {
    if (opts.duration < 1) throw new Error("--duration must be at least 1");
    opts.astrologers ||= Math.ceil(opts.concurrency / 8);
    if (opts.astrologers > opts.concurrency) throw new Error("--astrologers must be at most --concurrency");
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const log = (...a) => process.stderr.write(a.join(" ") + "\n");

// ---------------------------------------------------------------- HTTP

class HttpError extends Error {}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

// One request with the chosen client: { status, text }.
async function request(method, path, headers, payload) {
  if (opts.client === "fetch") {
    const res = await fetch(opts.baseUrl + path, { method, headers, body: payload });
    return { status: res.status, text: await res.text() };
  }
  return new Promise((resolve, reject) => {
    if (payload !== undefined) headers["content-length"] = Buffer.byteLength(payload);
    const req = http.request(opts.baseUrl + path, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}

async function api(method, path, { token, body, expect = [200, 201] } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await request(method, path, headers, body === undefined ? undefined : JSON.stringify(body));
  const text = res.text;
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!expect.includes(res.status) || !json?.success) {
    throw new HttpError(`${method} ${path} -> ${res.status}: ${text.slice(0, 300)}`);
  }
  return json.data;
}

// Runs `fn` over `items` with at most `n` in flight (setup only).
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

// ---------------------------------------------------------------- cost probes

const CLK_TCK = 100; // USER_HZ on Linux
function procCpuSeconds(pid) {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[11], fields[12] are utime and stime (fields 14 and 15 of stat).
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

// Busy CPU seconds of the whole machine (all cores), from /proc/stat.
function machineBusySeconds() {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    const busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + (cpu[7] ?? 0);
    return busy / CLK_TCK;
  } catch {
    return undefined;
  }
}

const STATUS_VARS = [
  "Questions",
  "Com_stmt_execute",
  "Com_select",
  "Com_insert",
  "Com_update",
  "Com_begin",
  "Com_commit",
  "Innodb_data_fsyncs",
  "Innodb_log_writes",
];
function mysqlStatus() {
  const cmd = process.env.BENCH_MYSQL;
  if (!cmd) return undefined;
  const [bin, ...args] = cmd.split(/\s+/).filter(Boolean);
  const list = STATUS_VARS.map((v) => `'${v}'`).join(",");
  const out = execFileSync(bin, [...args, "-N", "-B", "-e", `SHOW GLOBAL STATUS WHERE Variable_name IN (${list})`], {
    encoding: "utf8",
  });
  return Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((line) => line.split("\t"))
      .map(([k, v]) => [k, Number(v)]),
  );
}

function probe() {
  return {
    at: performance.now(),
    client: process.cpuUsage(),
    server: procCpuSeconds(process.env.BENCH_SERVER_PID),
    db: procCpuSeconds(process.env.BENCH_DB_PID),
    machine: machineBusySeconds(),
    status: mysqlStatus(),
  };
}

// Cost per message between two probes, in CPU milliseconds and statements.
function costs(before, after, messages) {
  const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
  const clientCpu =
    (after.client.user - before.client.user + after.client.system - before.client.system) / 1e6;
  const out = {
    clientCpuMsPerMsg: round((clientCpu * 1000) / messages),
  };
  if (before.server !== undefined && after.server !== undefined) {
    out.serverCpuMsPerMsg = round(((after.server - before.server) * 1000) / messages);
  }
  if (before.db !== undefined && after.db !== undefined) {
    out.dbCpuMsPerMsg = round(((after.db - before.db) * 1000) / messages);
  }
  if (before.machine !== undefined && after.machine !== undefined) {
    // Cores kept busy by everything else on the machine during the case
    // (0 on a quiet machine; a compiler next door shows up as ~1).
    const seconds = (after.at - before.at) / 1000;
    const ours =
      clientCpu + (after.server ?? 0) - (before.server ?? 0) + (after.db ?? 0) - (before.db ?? 0);
    out.otherCoresBusy = round((after.machine - before.machine - ours) / seconds, 2);
  }
  if (before.status && after.status) {
    out.dbPerMsg = Object.fromEntries(
      STATUS_VARS.map((v) => [v, round((after.status[v] - before.status[v]) / messages, 2)]),
    );
  }
  return out;
}

// ---------------------------------------------------------------- setup

const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const PASSWORD = "bench-participant-password";

async function login(email, password) {
  const data = await api("POST", "/api/auth/login", {
    body: { tenant: opts.tenant, email, password, deviceName: "bench" },
  });
  return data.accessToken;
}

async function setup() {
  const t0 = performance.now();
  const admin = await login(opts.adminEmail, opts.adminPassword);
  // Lift the limits a benchmark would hit: sends per participant (30 per
  // 60 s by default) and logins from one address (30 per 60 s).
  const lots = { max: 100000, perSeconds: 1 };
  await api("PATCH", "/api/settings", {
    token: admin,
    body: { messagesPerParticipant: lots, loginPerIp: lots, loginPerAccount: lots },
  });

  const astrologer = await api("POST", "/api/participants", {
    token: admin,
    body: {
      type: "astrologer",
      name: "Bench Astrologer",
      email: `astro-${runId}@bench.test`,
      password: PASSWORD,
    },
  });

  // User 0 owns the single-conversation case; users 1..convs the round robin.
  const indices = Array.from({ length: opts.convs + 1 }, (_, i) => i);
  const users = await pool(indices, opts.setupConcurrency, async (i) => {
    const email = `user-${runId}-${i}@bench.test`;
    const user = await api("POST", "/api/participants", {
      token: admin,
      body: { type: "user", name: `Bench User ${i}`, email, password: PASSWORD },
    });
    await api("POST", "/api/consultations", {
      token: admin,
      body: { userId: user.id, astrologerId: astrologer.id, status: "active" },
    });
    const token = await login(email, PASSWORD);
    const conversation = await api("POST", "/api/conversations", {
      token,
      body: { participantId: astrologer.id },
    });
    return { index: i, id: user.id, token, conversationId: conversation.id, sent: [] };
  });
  log(`setup: 1 astrologer, ${users.length} users with consultations and conversations in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { astrologer, solo: users[0], many: users.slice(1) };
}

// ---------------------------------------------------------------- sending

let counter = 0;
// One send as `user` into their conversation; returns the latency in ms.
async function send(user, label) {
  const n = user.sent.length + 1;
  const body = {
    content: `bench ${label} ${n}: the stars are aligned for a quick reply`,
    clientMsgId: `${runId}-${++counter}`,
  };
  const start = performance.now();
  const message = await api("POST", `/api/conversations/${user.conversationId}/messages`, {
    token: user.token,
    body,
  });
  const ms = performance.now() - start;
  if (message.seq !== n) {
    throw new Error(`conversation ${user.conversationId}: sent message ${n} got seq ${message.seq}`);
  }
  user.sent.push(message.id);
  return ms;
}

function percentile(sorted, p) {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function summarize(name, description, latencies, elapsedMs, cost, chunks) {
  const sorted = Float64Array.from(latencies).sort();
  const r2 = (x) => Math.round(x * 100) / 100;
  return {
    name,
    description,
    messages: latencies.length,
    seconds: r2(elapsedMs / 1000),
    messagesPerSecond: Math.round((latencies.length * 1000) / elapsedMs),
    latencyMs: {
      mean: r2(latencies.reduce((a, b) => a + b, 0) / latencies.length),
      p50: r2(percentile(sorted, 50)),
      p95: r2(percentile(sorted, 95)),
      p99: r2(percentile(sorted, 99)),
      max: r2(sorted[sorted.length - 1]),
    },
    // messages/s over consecutive slices of the run: drift shows here.
    messagesPerSecondBySlice: chunks,
    ...cost,
  };
}

async function measure(name, description, sends) {
  const latencies = new Array(sends.length);
  const slice = Math.max(1, Math.ceil(sends.length / 4));
  const chunks = [];
  const before = probe();
  let sliceStart = before.at;
  for (let i = 0; i < sends.length; i++) {
    latencies[i] = await sends[i]();
    if ((i + 1) % slice === 0 || i + 1 === sends.length) {
      const now = performance.now();
      chunks.push(Math.round(((i % slice) + 1) * 1000 / (now - sliceStart)));
      sliceStart = now;
    }
  }
  const after = probe();
  const result = summarize(name, description, latencies, after.at - before.at, costs(before, after, sends.length), chunks);
  log(
    `${name}: ${result.messages} messages in ${result.seconds} s = ${result.messagesPerSecond} msg/s; ` +
      `p50 ${result.latencyMs.p50} ms, p95 ${result.latencyMs.p95} ms, p99 ${result.latencyMs.p99} ms`,
  );
  return result;
}

// The floor under every send: a sequential GET /ping (HTTP through fetch
// and poem, no database).
async function pingFloor(n) {
  const one = async () => {
    const start = performance.now();
    const res = await request("GET", "/ping", {});
    if (res.status !== 200) throw new HttpError(`GET /ping -> ${res.status}`);
    return performance.now() - start;
  };
  for (let i = 0; i < 100; i++) await one();
  return measure("ping", `${n} sequential GET /ping (no database): the HTTP floor`, Array.from({ length: n }, () => one));
}

// What one durable commit costs on this disk at least.
function fsyncFloor(dir, n = 200) {
  if (!dir) return undefined;
  const path = join(dir, `fsync-probe-${runId}`);
  const fd = openSync(path, "w");
  const block = Buffer.alloc(4096, 1);
  const times = [];
  try {
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      writeSync(fd, block, 0, block.length, (i % 64) * 4096);
      fsyncSync(fd);
      times.push(performance.now() - start);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  times.sort((a, b) => a - b);
  const r3 = (x) => Math.round(x * 1000) / 1000;
  return { dir, writes: n, p50Ms: r3(percentile(times, 50)), p95Ms: r3(percentile(times, 95)) };
}

// A fixed piece of CPU work (SHA-256 over 32 MiB), in ms: this VM's speed
// varies from run to run, and this tells slow runs from slow code.
function cpuProbe() {
  const block = Buffer.alloc(1 << 20, 7);
  const start = performance.now();
  const hash = createHash("sha256");
  for (let i = 0; i < 32; i++) hash.update(block);
  hash.digest();
  return Math.round((performance.now() - start) * 10) / 10;
}

// ---------------------------------------------------------------- verification

// Reads every message of each conversation oldest first, 100 a page, and
// checks seq 1..N without gaps, with the ids the sends returned.
async function verify(users) {
  const problems = [];
  let messages = 0;
  for (const user of users) {
    const expected = user.sent.length;
    let after = 0;
    let lastSeq;
    for (;;) {
      const page = await api(
        "GET",
        `/api/conversations/${user.conversationId}/messages?after=${after}&limit=100`,
        { token: user.token },
      );
      lastSeq = page.lastSeq;
      for (const m of page.items) {
        if (m.seq !== after + 1) {
          problems.push(`${user.conversationId}: seq ${m.seq} after ${after}`);
        } else if (m.id !== user.sent[m.seq - 1]) {
          problems.push(`${user.conversationId}: seq ${m.seq} is ${m.id}, the send returned ${user.sent[m.seq - 1]}`);
        }
        after = m.seq;
        messages++;
      }
      if (!page.hasMore || page.items.length === 0) break;
    }
    if (after !== expected || lastSeq !== expected) {
      problems.push(`${user.conversationId}: read up to seq ${after} (lastSeq ${lastSeq}), sent ${expected}`);
    }
  }
  return { conversations: users.length, messages, ok: problems.length === 0, problems: problems.slice(0, 20) };
}

// ---------------------------------------------------------------- concurrent mode

// Like probe(), but SHOW GLOBAL STATUS runs without blocking the event loop
// (the clients' requests keep going while the mysql client runs); the CPU
// counters are read at the call.
async function probeAsync() {
  const p = {
    at: performance.now(),
    client: process.cpuUsage(),
    server: procCpuSeconds(process.env.BENCH_SERVER_PID),
    db: procCpuSeconds(process.env.BENCH_DB_PID),
    machine: machineBusySeconds(),
    status: undefined,
  };
  const cmd = process.env.BENCH_MYSQL;
  if (cmd) {
    const [bin, ...args] = cmd.split(/\s+/).filter(Boolean);
    const list = STATUS_VARS.map((v) => `'${v}'`).join(",");
    const out = await new Promise((resolve, reject) =>
      execFile(bin, [...args, "-N", "-B", "-e", `SHOW GLOBAL STATUS WHERE Variable_name IN (${list})`], { encoding: "utf8" }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    p.status = Object.fromEntries(
      out
        .trim()
        .split("\n")
        .map((line) => line.split("\t"))
        .map(([k, v]) => [k, Number(v)]),
    );
  }
  return p;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// N users, each with a token and a direct conversation with astrologer
// i mod A, and a keep-alive Agent of one socket.
async function setupConcurrent() {
  const t0 = performance.now();
  const admin = await login(opts.adminEmail, opts.adminPassword);
  const lots = { max: 100000, perSeconds: 1 };
  await api("PATCH", "/api/settings", {
    token: admin,
    body: { messagesPerParticipant: lots, loginPerIp: lots, loginPerAccount: lots },
  });
  const astrologers = await pool(
    Array.from({ length: opts.astrologers }, (_, i) => i),
    opts.setupConcurrency,
    (i) =>
      api("POST", "/api/participants", {
        token: admin,
        body: { type: "astrologer", name: `Bench Astrologer ${i}`, email: `astro-${runId}-${i}@bench.test`, password: PASSWORD },
      }),
  );
  const clients = await pool(
    Array.from({ length: opts.concurrency }, (_, i) => i),
    opts.setupConcurrency,
    async (i) => {
      const email = `user-${runId}-${i}@bench.test`;
      const astrologer = astrologers[i % astrologers.length];
      const user = await api("POST", "/api/participants", {
        token: admin,
        body: { type: "user", name: `Bench User ${i}`, email, password: PASSWORD },
      });
      await api("POST", "/api/consultations", {
        token: admin,
        body: { userId: user.id, astrologerId: astrologer.id, status: "active" },
      });
      const token = await login(email, PASSWORD);
      const conversation = await api("POST", "/api/conversations", { token, body: { participantId: astrologer.id } });
      return {
        index: i,
        token,
        conversationId: conversation.id,
        path: `/api/conversations/${conversation.id}/messages`,
        authorization: `Bearer ${token}`,
        agent: new http.Agent({ keepAlive: true, maxSockets: 1 }),
        acked: new Map(), // seq -> id of every acknowledged send
        duplicateSeqs: [], // seqs acknowledged twice (must stay empty)
        sends: 0,
        queue: [], // open loop: scheduled times waiting for this client
        head: 0,
        busy: false,
      };
    },
  );
  log(
    `setup: ${astrologers.length} astrologer(s), ${clients.length} users with consultations and conversations in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return clients;
}

const url = new URL(opts.baseUrl);
const SEND_TIMEOUT_MS = 30000;

// One POST on the client's own connection: resolves { status, text } or
// { error } (network error or timeout), never rejects.
function postMessage(client, payload) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r) => {
      if (!done) {
        done = true;
        resolve(r);
      }
    };
    const req = http.request(
      {
        host: url.hostname,
        port: url.port || 80,
        path: client.path,
        method: "POST",
        agent: client.agent,
        headers: {
          authorization: client.authorization,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(payload),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => finish({ status: res.statusCode, text }));
        res.on("error", (err) => finish({ error: err.code ?? err.message }));
      },
    );
    req.setTimeout(SEND_TIMEOUT_MS, () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })));
    req.on("error", (err) => finish({ error: err.code ?? err.message }));
    req.end(payload);
  });
}

// What the run counts: sends within the measured window, [t0, t1).
const run = {
  t0: Infinity,
  t1: Infinity,
  latencies: [], // accepted sends in the window, ms (open loop: from the scheduled time)
  service: [], // open loop: accepted sends in the window, ms from the request's start
  slices: [], // accepted sends in the window by second
  refused: 0,
  errors: {},
  warmupAccepted: 0,
};

// One send by `client`, counted by `at` (when it started, or in the open
// loop when it was due). Returns false after a network error.
async function sendConcurrent(client, at) {
  const n = ++client.sends;
  const payload = JSON.stringify({
    content: `bench concurrent ${client.index} ${n}: the stars are aligned for a quick reply`,
    clientMsgId: `${runId}-c${client.index}-${n}`,
  });
  const start = performance.now();
  const res = await postMessage(client, payload);
  const end = performance.now();
  const inWindow = at >= run.t0 && at < run.t1;
  if (res.error !== undefined) {
    if (inWindow) {
      const key = res.error === "timeout" ? "timeout" : `network ${res.error}`;
      run.errors[key] = (run.errors[key] ?? 0) + 1;
    }
    return false;
  }
  let json;
  try {
    json = JSON.parse(res.text);
  } catch {
    json = undefined;
  }
  if ((res.status === 200 || res.status === 201) && json?.success) {
    const message = json.data;
    if (client.acked.has(message.seq)) client.duplicateSeqs.push(message.seq);
    client.acked.set(message.seq, message.id);
    if (inWindow) {
      run.latencies.push(end - at);
      if (at !== start) run.service.push(end - start);
      const second = Math.floor((at - run.t0) / 1000);
      run.slices[second] = (run.slices[second] ?? 0) + 1;
    } else if (at < run.t0) {
      run.warmupAccepted++;
    }
  } else if (inWindow) {
    const code = json?.error?.code ?? "?";
    if (res.status === 503 && code === "overloaded") run.refused++;
    else run.errors[`${res.status} ${code}`] = (run.errors[`${res.status} ${code}`] ?? 0) + 1;
  }
  return true;
}

// Closed loop: each client sends back to back until `stop()` says so.
async function closedLoop(clients, stop) {
  await Promise.all(
    clients.map(async (client) => {
      while (!stop()) {
        // After a network error, do not spin on a server that is gone.
        if (!(await sendConcurrent(client, performance.now()))) await sleep(10);
      }
    }),
  );
}

// Open loop: arrival i is due at start + i / rate and goes to client
// i mod N, which sends its queue in order, one request at a time.
function openLoop(clients, start, end) {
  const interval = 1000 / opts.rate;
  let next = 0;
  let maxBacklog = 0;
  let abandon = false;
  const pump = async (client) => {
    client.busy = true;
    while (client.head < client.queue.length && !abandon) {
      const at = client.queue[client.head++];
      if (!(await sendConcurrent(client, at))) await sleep(10);
    }
    client.queue = [];
    client.head = 0;
    client.busy = false;
  };
  const generate = async () => {
    for (;;) {
      const now = performance.now();
      const due = Math.min(Math.floor((Math.min(now, end) - start) / interval) + 1, Math.ceil((end - start) / interval));
      for (; next < due; next++) {
        const client = clients[next % clients.length];
        client.queue.push(start + next * interval);
        maxBacklog = Math.max(maxBacklog, client.queue.length - client.head - (client.busy ? 0 : 1));
        if (!client.busy) pump(client);
      }
      if (now >= end) break;
      await sleep(1);
    }
  };
  // Arrivals of the measured window still queued.
  const notSent = () =>
    clients.reduce((n, c) => n + c.queue.slice(c.head).filter((at) => at >= run.t0 && at < run.t1).length, 0);
  return {
    generated: generate(),
    // Waits for the queues to drain, at most `ms`; then abandons the rest.
    async drain(ms) {
      const deadline = performance.now() + ms;
      while (clients.some((c) => c.busy) && performance.now() < deadline) await sleep(20);
      const left = notSent();
      abandon = true;
      while (clients.some((c) => c.busy)) await sleep(20);
      return left;
    },
    maxBacklog: () => maxBacklog,
  };
}

function latencyStats(latencies) {
  if (latencies.length === 0) return null;
  const sorted = Float64Array.from(latencies).sort();
  const r2 = (x) => Math.round(x * 100) / 100;
  return {
    mean: r2(latencies.reduce((a, b) => a + b, 0) / latencies.length),
    p50: r2(percentile(sorted, 50)),
    p90: r2(percentile(sorted, 90)),
    p95: r2(percentile(sorted, 95)),
    p99: r2(percentile(sorted, 99)),
    max: r2(sorted[sorted.length - 1]),
  };
}

async function measureConcurrent(clients) {
  const n = clients.length;
  const open = opts.rate > 0;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const start = performance.now();
  run.t0 = start + opts.warmupSeconds * 1000;
  run.t1 = run.t0 + opts.duration * 1000;
  log(
    open
      ? `open loop: ${opts.rate} sends/s over ${n} clients, ${opts.warmupSeconds} s warm-up, ${opts.duration} s measured`
      : `closed loop: ${n} clients, ${opts.warmupSeconds} s warm-up, ${opts.duration} s measured`,
  );
  let stopping = false;
  let loop;
  let drained;
  if (open) loop = openLoop(clients, start, run.t1);
  else drained = closedLoop(clients, () => stopping);

  await sleep(run.t0 - performance.now());
  const before = await probeAsync();
  loopDelay.enable();
  await sleep(run.t1 - performance.now());
  const after = await probeAsync();
  loopDelay.disable();
  let notSent;
  if (open) {
    await loop.generated;
    notSent = await loop.drain(Math.max(10, opts.duration) * 1000);
  } else {
    stopping = true;
    await drained;
  }
  for (const client of clients) client.agent.destroy();

  const accepted = run.latencies.length;
  const seconds = opts.duration;
  const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
  const wall = (after.at - before.at) / 1000;
  const clientCpu = (after.client.user - before.client.user + after.client.system - before.client.system) / 1e6;
  const result = {
    name: open ? "openLoop" : "closedLoop",
    description: open
      ? `${opts.rate} sends/s offered at fixed intervals, round robin over ${n} users (each with one keep-alive connection), each into their own direct conversation with one of ${opts.astrologers} astrologer(s); latency from the scheduled time`
      : `${n} users (each with one keep-alive connection) send back to back, each into their own direct conversation with one of ${opts.astrologers} astrologer(s)`,
    clients: n,
    conversations: n,
    astrologers: opts.astrologers,
    ...(open ? { offeredPerSecond: opts.rate } : {}),
    seconds,
    messages: accepted,
    messagesPerSecond: Math.round(accepted / seconds),
    refused: run.refused,
    errors: run.errors,
    latencyMs: latencyStats(run.latencies),
    ...(open ? { serviceLatencyMs: latencyStats(run.service), maxBacklog: loop.maxBacklog(), notSent } : {}),
    messagesPerSecondBySlice: Array.from({ length: seconds }, (_, i) => run.slices[i] ?? 0),
    warmup: { seconds: opts.warmupSeconds, messages: run.warmupAccepted },
    clientCpuCores: round(clientCpu / wall),
    clientEventLoopDelayMs: {
      p50: round(loopDelay.percentile(50) / 1e6),
      p99: round(loopDelay.percentile(99) / 1e6),
      max: round(loopDelay.max / 1e6),
    },
    ...costs(before, after, Math.max(1, accepted)),
  };
  const errors = Object.values(run.errors).reduce((a, b) => a + b, 0);
  log(
    `${result.name}: ${accepted} sends in ${seconds} s = ${result.messagesPerSecond} sends/s; ` +
      (result.latencyMs
        ? `p50 ${result.latencyMs.p50} ms, p90 ${result.latencyMs.p90} ms, p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms; `
        : "") +
      `refused ${run.refused}, errors ${errors}${errors ? " " + JSON.stringify(run.errors) : ""}` +
      (open ? `; max backlog ${result.maxBacklog}, not sent ${notSent}` : "") +
      `; client ${result.clientCpuCores} cores`,
  );
  return result;
}

// Reads every conversation back: seq 1..lastSeq without gaps, and at each
// acknowledged seq the acknowledged id.
async function verifyConcurrent(clients) {
  const problems = [];
  let messages = 0;
  let acked = 0;
  let unacknowledged = 0;
  await pool(clients, 4, async (client) => {
    let after = 0;
    let lastSeq;
    for (;;) {
      const page = await api("GET", `${client.path}?after=${after}&limit=100`, { token: client.token });
      lastSeq = page.lastSeq;
      for (const m of page.items) {
        if (m.seq !== after + 1) problems.push(`${client.conversationId}: seq ${m.seq} after ${after}`);
        const id = client.acked.get(m.seq);
        if (id === undefined) unacknowledged++;
        else if (id !== m.id) problems.push(`${client.conversationId}: seq ${m.seq} is ${m.id}, the send acknowledged ${id}`);
        after = m.seq;
        messages++;
      }
      if (!page.hasMore || page.items.length === 0) break;
    }
    if (lastSeq !== after) problems.push(`${client.conversationId}: read up to seq ${after}, lastSeq ${lastSeq}`);
    for (const seq of client.acked.keys()) {
      if (seq > after) problems.push(`${client.conversationId}: acknowledged seq ${seq} is not stored (read up to ${after})`);
    }
    for (const seq of client.duplicateSeqs) problems.push(`${client.conversationId}: seq ${seq} acknowledged twice`);
    acked += client.acked.size + client.duplicateSeqs.length;
  });
  return {
    conversations: clients.length,
    messages,
    acknowledged: acked,
    unacknowledged,
    ok: problems.length === 0,
    problems: problems.slice(0, 20),
  };
}

async function mainConcurrent() {
  const loadBefore = loadavg();
  const cpuBefore = cpuProbe();
  const fsync = fsyncFloor(process.env.BENCH_FSYNC_DIR);
  const clients = await setupConcurrent();
  const ping = await pingFloor(1000);
  const result = await measureConcurrent(clients);
  const cpuAfter = cpuProbe();
  const verification = await verifyConcurrent(clients);
  log(
    `verify: ${verification.messages} messages in ${verification.conversations} conversations, ` +
      `${verification.acknowledged} acknowledged, ${verification.unacknowledged} stored without an acknowledgement: ` +
      (verification.ok ? "seq 1..N without gaps, every acknowledged id stored" : `PROBLEMS ${verification.problems.slice(0, 3).join("; ")}`),
  );
  const summary = {
    baseUrl: opts.baseUrl,
    node: process.version,
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      loadAverageBefore: loadBefore.map((x) => Math.round(x * 100) / 100),
      loadAverageAfter: loadavg().map((x) => Math.round(x * 100) / 100),
      cpuProbeMs: [cpuBefore, cpuAfter],
      fsync,
    },
    setup: {
      tenant: opts.tenant,
      mode: opts.rate > 0 ? "open" : "closed",
      concurrency: opts.concurrency,
      astrologers: opts.astrologers,
      users: clients.length,
      rate: opts.rate || undefined,
      duration: opts.duration,
      warmupSeconds: opts.warmupSeconds,
      clientMsgId: true,
      client: "http (one keep-alive connection per client)",
    },
    cases: [result],
    floor: ping,
    verification,
  };
  process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  if (!verification.ok) process.exitCode = 1;
}

// ---------------------------------------------------------------- main

async function main() {
  await api("GET", "/health");
  if (opts.concurrency) return mainConcurrent();
  const loadBefore = loadavg();
  const cpuBefore = cpuProbe();
  const fsync = fsyncFloor(process.env.BENCH_FSYNC_DIR);
  const { solo, many } = await setup();
  const ping = await pingFloor(1000);

  // Warm up both paths (connections, statement caches, session caches,
  // buffer pool pages, and the JIT of the client itself: with 100 sends the
  // first measured slices were still markedly slower); then measure.
  for (let i = 0; i < opts.warmup; i++) await send(solo, "warmup");
  for (let i = 0; i < Math.max(opts.warmup, many.length); i++) await send(many[i % many.length], "warmup");
  log(`warm-up: ${opts.warmup} sends into one conversation, ${Math.max(opts.warmup, many.length)} round robin`);

  const total = opts.convs * opts.perConv;
  const cases = {
    one: () =>
      measure(
        "oneConversation",
        `one user sends ${opts.one} messages, one at a time, into one direct conversation with an astrologer`,
        Array.from({ length: opts.one }, () => () => send(solo, "one")),
      ),
    across: () =>
      measure(
        "acrossConversations",
        `${opts.convs} users send ${opts.perConv} messages each, one request at a time, round robin (user 1, 2, ... ${opts.convs}, 1, ...), each into their own direct conversation with the same astrologer`,
        Array.from({ length: total }, (_, i) => () => send(many[i % many.length], "spread")),
      ),
  };
  const results = {};
  for (const name of opts.order.split(",")) results[name] = await cases[name]();
  const [one, spread] = [results.one, results.across];

  const cpuAfter = cpuProbe();
  const verification = await verify([solo, ...many]);
  log(`verify: ${verification.messages} messages in ${verification.conversations} conversations, ${verification.ok ? "seq 1..N without gaps" : "PROBLEMS"}`);

  const summary = {
    baseUrl: opts.baseUrl,
    node: process.version,
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      loadAverageBefore: loadBefore.map((x) => Math.round(x * 100) / 100),
      loadAverageAfter: loadavg().map((x) => Math.round(x * 100) / 100),
      // ms for a fixed SHA-256 job before and after the cases (lower is faster)
      cpuProbeMs: [cpuBefore, cpuAfter],
      fsync,
    },
    setup: {
      tenant: opts.tenant,
      astrologers: 1,
      users: many.length + 1,
      warmup: opts.warmup,
      clientMsgId: true,
      order: opts.order,
      client: opts.client,
    },
    cases: [one, spread],
    floor: ping,
    verification,
  };
  process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  if (!verification.ok) process.exitCode = 1;
}

main().catch((err) => {
  log(`bench failed: ${err.stack ?? err}`);
  process.exitCode = 1;
});
