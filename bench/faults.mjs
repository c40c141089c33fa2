#!/usr/bin/env node
// The load generator and checker of bench/faults.sh (run by it: it reads the
// seed, talks to the nodes, asks faults.sh on stdout to inject the fault and
// reads the answer on stdin). One run is one fault:
//
//   node bench/faults.mjs --fault node|redis|mysql --seed seed.json \
//     --urls http://127.0.0.1:A,http://127.0.0.1:B,http://127.0.0.1:C \
//     --rate 150 --duration 20 [--down 3] --mysql "mariadb -h127.0.0.1 -P3307 -uroot db" \
//     [--out bench/results/faults-node.json]
//
// Every seeded pair is a user and an astrologer in one conversation; each
// end is a device (bench/faults/peer.mjs) on the node bench/faults/
// scenarios.mjs `layout` gives it, and all of them send at --rate msgs/s in
// total for --duration s, the fault in the middle (scenarios.mjs). After
// the load every device resyncs once more, and the database is read
// (bench/faults/verify.mjs): acknowledged, stored, delivered (live or by
// resync), duplicated, lost. Prints a table on stderr (stdout is the
// channel to faults.sh), writes --out as JSON, and exits 1 if a check
// failed, 2 if the run could not be made.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';

import { Load, ctlDone, sleep } from './faults/load.mjs';
import { Peer } from './faults/peer.mjs';
import { DOOMED, SCENARIOS, layout } from './faults/scenarios.mjs';
import { count, countChecks, countRows, perSecond, printPerSecond, storedMessages, table } from './faults/verify.mjs';

const { values: opts } = parseArgs({
  options: {
    fault: { type: 'string' },
    seed: { type: 'string' },
    urls: { type: 'string' },
    rate: { type: 'string', default: '150' },
    duration: { type: 'string', default: '20' },
    down: { type: 'string', default: '3' },
    mysql: { type: 'string', default: process.env.FAULTS_MYSQL },
    out: { type: 'string' },
    commit: { type: 'string', default: '' },
  },
});
for (const required of ['fault', 'seed', 'urls', 'mysql']) {
  if (!opts[required]) {
    console.error(`faults.mjs: --${required} is required (run bench/faults.sh)`);
    process.exit(2);
  }
}
const scenario = SCENARIOS[opts.fault];
if (!scenario) {
  console.error(`faults.mjs: --fault is node, redis or mysql, not ${opts.fault}`);
  process.exit(2);
}

const fault = opts.fault;
const urls = opts.urls.split(',');
const rate = Number(opts.rate);
const durationMs = Number(opts.duration) * 1000;
const seed = JSON.parse(readFileSync(opts.seed, 'utf8')).data;
const t0 = Date.now();
const log = (what) => console.error(`[${fault} +${((Date.now() - w.t0) / 1000).toFixed(1)}s] ${what}`);

// The world the scenario works in.
const w = {
  urls,
  peers: [],
  pairs: [],
  receipts: [],
  call: null,
  t0,
  faultAt: Math.round(durationMs * 0.35),
  end: durationMs,
  downMs: Number(opts.down) * 1000,
  log,
};

// Live deliveries, and whether the two ends of the pair were on different nodes then.
const onReceive = (peer, m, via, at) => {
  if (via === 'live') w.receipts.push({ at, cross: peer.node !== peer.other.node });
};

let pairsSeed = seed.pairs;
if (fault === 'node') {
  // The last pair is the call's: its user on the node to be killed, its
  // astrologer on node 1, neither failing over (the call must end).
  const last = pairsSeed.at(-1);
  pairsSeed = pairsSeed.slice(0, -1);
  const peer = (who, node) =>
    new Peer({ label: `call-${who}`, id: last[who].id, token: last[who].token, conversationId: last.conversationId, urls, node, failover: false });
  w.call = { caller: peer('user', DOOMED), callee: peer('astrologer', 0) };
}
pairsSeed.forEach((pair, i) => {
  const [userNode, astroNode] = layout(fault, i);
  const make = (who, node) =>
    new Peer({ label: `p${i}${who[0]}`, id: pair[who].id, token: pair[who].token, conversationId: pair.conversationId, urls, node, onReceive });
  const a = make('user', userNode);
  const b = make('astrologer', astroNode);
  a.other = b;
  b.other = a;
  w.pairs.push({ a, b });
  w.peers.push(a, b);
});
w.load = new Load(w.peers, rate);

const all = [...w.peers, ...(w.call ? [w.call.caller, w.call.callee] : [])];
let status = 0;
let result;
try {
  await Promise.all(all.map((p) => p.start()));
  w.t0 = Date.now();
  log(`${w.peers.length} devices connected over ${urls.length} nodes (${w.pairs.length} pairs); ${rate} msgs/s for ${durationMs / 1000} s, the fault at +${w.faultAt / 1000} s`);
  const measured = await scenario(w);
  log('final resync of every device');
  const synced = await Promise.all(w.peers.map((p) => p.finalSync(30_000)));
  const unsynced = synced.filter((ok) => !ok).length;
  // Live events still on their way are not waited for: the final sync read
  // the database, which holds everything a live event could bring.
  const counts = count(w.pairs, storedMessages(opts.mysql, seed.tenantId));
  const checks = [
    ...countChecks(counts),
    ['every device resynced at the end', unsynced === 0],
    ...measured.checks,
  ];
  const title = `fault: ${{ node: 'node killed with kill -9', redis: 'Redis restarted', mysql: 'MariaDB restarted' }[fault]} (${w.pairs.length} pairs, ${rate} msgs/s, ${durationMs / 1000} s)`;
  const dropped = w.peers.filter((p) => p.drops.length > 0).length;
  table(title, [...countRows(counts), ['devices whose connection dropped', dropped], ...measured.rows]);
  for (const [what, ok] of checks) console.error(`  ${ok ? 'PASS' : 'FAIL'}  ${what}`);
  const failed = checks.filter(([, ok]) => !ok);
  const seconds = perSecond(w.peers, w.receipts, w.t0);
  printPerSecond(seconds);
  if (failed.length) status = 1;
  for (const list of ['ackedNotStored', 'ackedMismatch', 'notDelivered', 'storedDuplicates', 'shownDuplicates', 'failed']) {
    if (counts[list].length) console.error(`  ${list} (first 10): ${JSON.stringify(counts[list].slice(0, 10))}`);
  }
  const trim = (list) => ({ count: list.length, first: list.slice(0, 20) });
  result = {
    fault,
    commit: opts.commit || undefined,
    date: new Date().toISOString(),
    nodes: urls.length,
    pairs: w.pairs.length,
    rate,
    durationS: durationMs / 1000,
    faultAtS: w.faultAt / 1000,
    downS: w.downMs / 1000,
    passed: failed.length === 0,
    checks: Object.fromEntries(checks),
    counts: {
      queued: counts.queued,
      skipped: w.load.skipped,
      acknowledged: counts.acknowledged,
      stored: counts.stored,
      storedNotAcknowledged: counts.storedNotAcked,
      delivered: counts.delivered,
      deliveredBy: counts.deliveredBy,
      refusedThenRetried: counts.retriedThenAcked,
      refusals: counts.refusals,
      refusedCodes: counts.refusedCodes,
      noAnswers: counts.noAnswers,
      refusedForGood: trim(counts.failed),
      neverAcknowledged: counts.neverAcked,
      duplicated: counts.duplicated,
      liveRepeats: counts.liveRepeats,
      lost: counts.lost,
      ackedNotStored: trim(counts.ackedNotStored),
      ackedMismatch: trim(counts.ackedMismatch),
      notDelivered: trim(counts.notDelivered),
      storedDuplicates: trim(counts.storedDuplicates),
      shownDuplicates: trim(counts.shownDuplicates),
      unsyncedDevices: unsynced,
      devicesDropped: dropped,
    },
    [fault]: measured.data,
    perSecond: seconds,
  };
} catch (err) {
  console.error(`faults.mjs (${fault}): ${err.stack ?? err}`);
  status = 2;
} finally {
  for (const p of all) p.close();
  ctlDone();
}
if (result && opts.out) {
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
  console.error(`  results: ${opts.out}`);
}
// socket.io-client's timers may linger for a moment; the verdict is in.
await sleep(100);
process.exit(status);
