#!/usr/bin/env node
// Sequential REST sends: messages/s and latency of
// POST /api/conversations/{id}/messages, one request at a time, in two cases:
//   one     one user sends into their direct conversation with an astrologer;
//   across  100 users (--convs), each in a direct conversation with the same
//           astrologer and each with their own token, send round robin: the
//           shape of real traffic, many users each chatting with someone.
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

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import http from "node:http";
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

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
  };
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

// ---------------------------------------------------------------- main

async function main() {
  await api("GET", "/health");
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
