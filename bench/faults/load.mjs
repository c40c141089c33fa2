// The pieces of bench/faults.mjs that are not about one device: the send
// rate over all devices, asking bench/faults.sh to inject a fault, waiting
// with a bound, and percentiles.

import readline from 'node:readline';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `every` ms until it is truthy; throws after `ms` saying what was awaited. */
export async function waitUntil(what, check, ms, every = 100) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** The q-quantile (0..1) of `values` (nearest rank); null when empty. */
export function quantile(values, q) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function summary(values) {
  return {
    count: values.length,
    p50: quantile(values, 0.5),
    p99: quantile(values, 0.99),
    max: values.length ? Math.max(...values) : null,
  };
}

/**
 * Sends `rate` new messages a second in total, round robin over `peers`;
 * a device whose outbox already holds `outboxCap` messages is skipped (a
 * person does not type on forever while the app shows them unsent).
 */
export class Load {
  constructor(peers, rate, outboxCap = 25) {
    Object.assign(this, { peers, rate, outboxCap });
    this.queued = 0;
    this.skipped = 0;
    this.timer = null;
    this.next = 0;
  }

  start() {
    let last = Date.now();
    let credit = 0;
    this.startedAt = last;
    this.timer = setInterval(() => {
      const t = Date.now();
      credit += (this.rate * (t - last)) / 1000;
      last = t;
      for (; credit >= 1; credit -= 1) {
        const peer = this.peers[this.next++ % this.peers.length];
        if (peer.outbox.length >= this.outboxCap) this.skipped += 1;
        else {
          peer.enqueue();
          this.queued += 1;
        }
      }
    }, 10);
  }

  stop() {
    clearInterval(this.timer);
    this.stoppedAt = Date.now();
  }

  get pending() {
    return this.peers.reduce((n, p) => n + p.pending, 0);
  }

  /** Waits until every queued send has an answer that settles it; returns how many did not. */
  async drain(ms) {
    try {
      await waitUntil('every send to be acknowledged', () => this.pending === 0, ms, 200);
    } catch {
      // reported by the caller
    }
    return this.pending;
  }
}

// Talking to bench/faults.sh: a request is one line on stdout (nothing else
// is printed there), the answer one line on stdin: `ok <t1> [<t2>]` (epoch
// ms: when the fault was applied and when it was done) or `error <why>`.
let lines;
const waiting = [];

/** Asks faults.sh to do `command` (kill-node 3, redis-stop, redis-start, mysql-stop, mysql-start). */
export async function ctl(command, ms = 120_000) {
  if (!lines) {
    lines = readline.createInterface({ input: process.stdin });
    lines.on('line', (line) => waiting.shift()?.(line));
  }
  const answer = new Promise((resolve) => waiting.push(resolve));
  process.stdout.write(`${command}\n`);
  let timer;
  const line = await Promise.race([
    answer,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`faults.sh did not answer \`${command}\` within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
  const [word, ...rest] = line.trim().split(' ');
  if (word !== 'ok') throw new Error(`faults.sh could not ${command}: ${rest.join(' ')}`);
  const [applied, done] = rest.map(Number);
  return { applied, done: done || applied };
}

/** Lets the process end once the run is over. */
export function ctlDone() {
  lines?.close();
}
