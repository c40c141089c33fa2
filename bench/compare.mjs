#!/usr/bin/env node
// Compares two bench/socket_load.sh result files side by side (the first is
// the baseline, e.g. the Node reference; the second e.g. Samvad): per rate
// of a sweep, sends accepted and refused, deliveries, p99 and loss, whether
// the step passed, the whole machine's CPU (cores), then the ratio of their
// highest passing rates and, per rate, how much more (or less) p99 and
// machine CPU a message cost on the second than on the first. For the
// connections scenario: connections held, open rate, handshake p99, RSS per
// connection, drops.
//
// Either side may be several runs of the same sweep, comma-separated
// (socket_load.sh --repeat): each figure is then the median of the runs at
// that rate (loss: the largest), "pass" says how many runs passed, and the
// highest passing rate is the highest rate that most runs passed.
//
//   node bench/compare.mjs bench/results/node-1000.json bench/results/samvad-1000.json
//   node bench/compare.mjs a-run1.json,a-run2.json,a-run3.json b-run1.json,b-run2.json,b-run3.json

import { readFileSync } from "node:fs";

const [aPath, bPath] = process.argv.slice(2);
if (!aPath || !bPath) {
  console.error("usage: node bench/compare.mjs BASELINE.json[,...] OTHER.json[,...]");
  process.exit(2);
}

const median = (values) => {
  const v = values.filter((x) => x !== null && x !== undefined).sort((x, y) => x - y);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

// One result, or the runs of one side folded into one (medians per rate).
function load(paths) {
  const runs = paths.split(",").map((path) => JSON.parse(readFileSync(path, "utf8")));
  if (runs.length === 1) return runs[0];
  if (runs.some((r) => !r.steps)) {
    console.error(`${paths}: several runs are compared only for sweeps (pairs, group)`);
    process.exit(2);
  }
  const rates = [...new Set(runs.flatMap((r) => (r.steps ?? []).map((s) => s.rate)))].sort((x, y) => x - y);
  const steps = rates.map((rate) => {
    const at = runs.map((r) => r.steps.find((s) => s.rate === rate)).filter(Boolean);
    const m = (f) => median(at.map(f));
    const passed = at.filter((s) => s.pass).length;
    return {
      rate,
      acceptedPerSecond: m((s) => s.acceptedPerSecond),
      refusedPerSecond: m((s) => s.refusedPerSecond),
      deliveredPerSecond: m((s) => s.deliveredPerSecond),
      latencyMs: { p50: m((s) => s.latencyMs?.p50), p99: m((s) => s.latencyMs?.p99) },
      lost: Math.max(...at.map((s) => s.lost ?? 0)),
      pass: passed * 2 > runs.length,
      passed: `${passed}/${runs.length}`,
      cpuCores: { machine: m((s) => s.cpuCores?.machine) },
    };
  });
  const passing = steps.filter((s) => s.pass).map((s) => s.rate);
  return {
    ...runs[0],
    label: `${runs[0].label} (median of ${runs.length})`,
    steps,
    highestPassingRate: passing.length ? Math.max(...passing) : null,
  };
}

const a = load(aPath);
const b = load(bPath);
const name = (r, path) => r.label ?? path;
const num = (v) => (v === null || v === undefined ? "-" : Number(v).toLocaleString("en-US"));

function table(head, rows) {
  const all = [head, ...rows].map((r) => r.map(String));
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const left = (i) => i === 0 || head[i] === "server";
  const line = (r) => r.map((c, i) => (left(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(all[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of all.slice(1)) console.log(line(r));
}

const scenario = a.scenario ?? "pairs";
console.log(`\n== ${name(a, aPath)} vs ${name(b, bPath)}: ${scenario}, ${a.connections} / ${b.connections} connections`);

if (scenario === "connections") {
  const row = (r, path) => [
    name(r, path),
    `${num(r.hold?.heldAtEnd)}/${num(r.connections)}`,
    num(r.connect?.openedPerSecond),
    num(r.connect?.handshakeMs?.p99),
    num(r.connect?.serverRssPerConnectionKiB),
    num(r.hold?.dropped),
    num(r.connect?.failed),
  ];
  table(["server", "held", "opened/s", "handshake p99 ms", "RSS/conn KiB", "dropped", "failed"], [row(a, aPath), row(b, bPath)]);
  process.exit(0);
}

const pass = (s) => s.passed ?? (s.pass ? "yes" : "no");
const rates = [...new Set([...a.steps, ...b.steps].map((s) => s.rate))].sort((x, y) => x - y);
const rows = [];
for (const rate of rates) {
  for (const [r, path] of [[a, aPath], [b, bPath]]) {
    const s = r.steps.find((step) => step.rate === rate);
    if (!s) continue;
    rows.push([
      num(rate),
      name(r, path),
      num(s.acceptedPerSecond),
      num(s.refusedPerSecond),
      num(s.deliveredPerSecond),
      num(s.latencyMs?.p50),
      num(s.latencyMs?.p99),
      num(s.lost),
      pass(s),
      num(s.cpuCores?.machine),
    ]);
  }
}
table(["rate", "server", "accepted/s", "refused/s", "delivered/s", "p50 ms", "p99 ms", "lost", "pass", "machine cores"], rows);
const threshold = b.passP99Ms ?? a.passP99Ms ?? 50;
const ha = a.highestPassingRate ?? null;
const hb = b.highestPassingRate ?? null;
const ratio = ha && hb ? `${(hb / ha).toFixed(2)}x` : "n/a (a side passed no step)";
console.log(
  `\nhighest passing rate (p99 <= ${threshold} ms, 0 lost, every send answered, >= 95% delivered): ${name(a, aPath)} ${num(ha)}, ${name(b, bPath)} ${num(hb)}; ` +
    `${name(b, bPath)}/${name(a, aPath)} ${ratio}`,
);
// Machine CPU per accepted message, the second against the first, at each
// rate both ran (on a CPU-bound machine, the cost that limits throughput).
const perMessage = (s) =>
  s?.cpuCores?.machine && s.acceptedPerSecond ? s.cpuCores.machine / s.acceptedPerSecond : null;
const cost = rates
  .map((rate) => {
    const [x, y] = [a, b].map((r) => perMessage(r.steps.find((step) => step.rate === rate)));
    return x && y ? `${num(rate)}: ${y >= x ? "+" : ""}${(((y - x) / x) * 100).toFixed(0)}%` : null;
  })
  .filter(Boolean);
if (cost.length) {
  console.log(`machine CPU per message, ${name(b, bPath)} against ${name(a, aPath)}: ${cost.join(", ")}`);
}
// The p99 the second adds to the first's, at each rate both ran.
const added = rates
  .map((rate) => {
    const [x, y] = [a, b].map((r) => r.steps.find((step) => step.rate === rate)?.latencyMs?.p99);
    return x != null && y != null ? `${num(rate)}: ${y >= x ? "+" : ""}${(y - x).toFixed(1)} ms` : null;
  })
  .filter(Boolean);
if (added.length) {
  console.log(`p99, ${name(b, bPath)} against ${name(a, aPath)}: ${added.join(", ")}`);
}
