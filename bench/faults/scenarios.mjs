// The three faults of bench/faults.sh, each a timeline over the load and
// what it measures. `w` (the world, from bench/faults.mjs) holds the nodes'
// `urls`, the `peers` and `pairs`, the `load`, the live `receipts`
// ({at, cross}), the call's two devices (`call`, node fault only), `t0`,
// `faultAt` and `end` (ms since t0), `downMs` (how long Redis or MariaDB
// stays down), and `log`.
//
// Each scenario returns {rows, checks, data}: rows for the printed table,
// [what, ok] checks that decide the exit status, and data for the JSON.

import { ctl, sleep, summary, waitUntil } from './load.mjs';

/** Node index (0-based) killed in the node fault. */
export const DOOMED = 2;
/** Longest pause in same-node live delivery that still counts as "never stopped". */
const MAX_LOCAL_GAP_MS = 2000;
/** Cross-node delivery must be back this soon after Redis answers again. */
const MAX_CROSS_RESUME_MS = 15_000;
/** A send made while the database is down must be answered this fast (p99). */
const MAX_REFUSAL_P99_MS = 1000;

const LIVE_CALL = new Set(['initiated', 'ringing', 'answered', 'ongoing']);
const secs = (ms) => (ms === null || ms === undefined ? null : Math.round(ms / 10) / 100);

/** Which node each end of pair i starts on: [user, astrologer]. */
export function layout(fault, i) {
  // Redis: half the pairs stay on one node (delivery there must not stop).
  if (fault === 'redis' && i % 2 === 1) return [i % 3, i % 3];
  return [i % 3, (i + 1) % 3]; // the two ends on different nodes
}

/** Runs the load for the rest of the planned duration (at least `minMs` more). */
async function finish(w, minMs = 0) {
  await sleep(Math.max(minMs, w.t0 + w.end - Date.now()));
  w.load.stop();
  w.log(`load stopped; waiting for ${w.load.pending} unacknowledged sends`);
  const left = await w.load.drain(60_000);
  if (left) w.log(`${left} sends still unacknowledged after 60 s`);
}

/** Polls GET /api/calls/{id} until the call is over; {status, endReason, at}. */
async function callOutcome(url, token, id, ms) {
  let last;
  try {
    return await waitUntil(
      'the call to end',
      async () => {
        try {
          const res = await fetch(`${url}/api/calls/${id}`, {
            headers: { authorization: `Bearer ${token}` },
            signal: AbortSignal.timeout(5000),
          });
          const body = await res.json();
          last = body?.data;
          if (last && !LIVE_CALL.has(last.status)) return { status: last.status, endReason: last.endReason, at: Date.now() };
        } catch {
          // a node or the database busy: poll again
        }
        return null;
      },
      ms,
      250,
    );
  } catch {
    return { status: last?.status ?? 'unknown', endReason: last?.endReason ?? null, at: null };
  }
}

/** kill -9 of node 3 mid-run, with a call between a device there and one on node 1. */
async function node(w) {
  const { caller, callee } = w.call;
  const invite = await caller.request('call:invite', { to: callee.id, callType: 'voice', type: 'offer', sdp: 'v=0 fault bench offer' });
  if (invite?.success !== true) throw new Error(`call:invite failed: ${JSON.stringify(invite)}`);
  const callId = invite.data.callId;
  const answer = await callee.request('call:answer', { callId, type: 'answer', sdp: 'v=0 fault bench answer' });
  if (answer?.success !== true) throw new Error(`call:answer failed: ${JSON.stringify(answer)}`);
  w.log(`call ${callId}: ${caller.label}@node${caller.node + 1} -> ${callee.label}@node${callee.node + 1}, ${answer.data.call?.status ?? answer.data.status}`);

  w.load.start();
  await sleep(w.faultAt);
  const kill = await ctl(`kill-node ${DOOMED + 1}`);
  w.log(`node ${DOOMED + 1} killed (kill -9)`);
  const ended = callOutcome(w.urls[callee.node], callee.token, callId, 60_000);
  await finish(w);
  const moved = w.peers.filter((p) => p.home === DOOMED);
  await waitUntil('the devices of the killed node to reconnect and resync', () => moved.every((p) => p.drops[0]?.syncedAt), 30_000).catch(
    () => w.log('some devices of the killed node did not reconnect and resync within 30 s'),
  );
  const call = await ended;
  const callMs = call.at ? call.at - kill.applied : null;
  w.log(`call: ${call.status}/${call.endReason} ${callMs === null ? 'not within 60 s' : `${secs(callMs)} s after the kill`}`);

  const drops = moved.map((p) => p.drops[0]).filter(Boolean);
  const reconnect = summary(drops.filter((d) => d.connectedAt).map((d) => d.connectedAt - kill.applied));
  const resync = summary(drops.filter((d) => d.syncedAt).map((d) => d.syncedAt - kill.applied));
  const elsewhere = drops.filter((d) => d.connectedAt && d.to !== DOOMED).length;
  const others = w.peers.filter((p) => p.home !== DOOMED && p.drops.length > 0).length;
  return {
    rows: [
      ['devices on the killed node', moved.length],
      ['  reconnected to another node', `${elsewhere} (p50 ${secs(reconnect.p50)} s, max ${secs(reconnect.max)} s after the kill)`],
      ['  resynced', `${resync.count} (p50 ${secs(resync.p50)} s, max ${secs(resync.max)} s after the kill)`],
      ['devices of other nodes that dropped', others],
      ['call on the killed node', `${call.status}/${call.endReason}, ${callMs === null ? 'not ended within 60 s' : `${secs(callMs)} s after the kill`}`],
    ],
    checks: [
      ['every device of the killed node reconnected to another node', elsewhere === moved.length && moved.length > 0],
      ['the call ended with network_error', call.endReason === 'network_error'],
    ],
    data: {
      killedNode: DOOMED + 1,
      killAtS: secs(kill.applied - w.t0),
      devicesMoved: moved.length,
      reconnectedElsewhere: elsewhere,
      reconnectMs: reconnect,
      resyncMs: resync,
      otherDevicesDropped: others,
      call: { id: callId, status: call.status, endReason: call.endReason, endedAfterKillMs: callMs },
    },
  };
}

/** The longest pause between live deliveries in [from, to] (counting the edges). */
function longestPause(times, from, to) {
  let last = from;
  let longest = 0;
  for (const at of times) {
    if (at < from) continue;
    if (at > to) break;
    longest = Math.max(longest, at - last);
    last = at;
  }
  return Math.max(longest, to - last);
}

/**
 * Of the messages of `pairs` acknowledged in [from, to]: how many reached
 * the recipient live, and how many of those within `ms` of their ack.
 */
function liveAfterAck(pairs, from, to, ms) {
  const r = { acked: 0, live: 0, onTime: 0, lateMs: [] };
  for (const { a, b } of pairs) {
    for (const [sender, recipient] of [[a, b], [b, a]]) {
      for (const send of sender.sends.values()) {
        if (!send.acked || send.acked.at < from || send.acked.at > to) continue;
        r.acked += 1;
        const seen = recipient.seen.get(send.acked.id);
        if (seen?.via !== 'live') continue;
        r.live += 1;
        if (seen.at - send.acked.at <= ms) r.onTime += 1;
        else r.lateMs.push(seen.at - send.acked.at);
      }
    }
  }
  return r;
}

/** The private redis-server killed mid-run and started again `downMs` later (3 s). */
async function redis(w) {
  w.load.start();
  await sleep(w.faultAt);
  const stop = await ctl('redis-stop');
  w.log('Redis killed');
  await sleep(w.downMs);
  const start = await ctl('redis-start');
  w.log('Redis started again');
  const firstCrossAfter = () => w.receipts.find((r) => r.cross && r.at > start.done);
  const resumed = await waitUntil('cross-node live delivery to resume', firstCrossAfter, 30_000).catch(() => null);
  w.log(resumed ? `cross-node delivery back ${secs(resumed.at - start.done)} s after the restart` : 'cross-node delivery did not come back within 30 s');
  await finish(w, 2000);

  const until = resumed?.at ?? start.done + 30_000;
  const cross = w.receipts.filter((r) => r.cross).map((r) => r.at);
  const local = w.receipts.filter((r) => !r.cross).map((r) => r.at);
  const lastCross = cross.filter((at) => at < until).at(-1) ?? null;
  const crossDuring = cross.filter((at) => at > stop.applied && at < start.done).length;
  const localPause = longestPause(local, stop.applied, until);
  const localDuring = local.filter((at) => at > stop.applied && at < until).length;
  const resumeMs = resumed ? resumed.at - start.done : null;
  // Same-node pairs (their two ends on one node all along), by what was
  // acknowledged while Redis was down.
  const samePairs = w.pairs.filter(({ a, b }) => a.home === b.home && a.drops.length + b.drops.length === 0);
  const same = liveAfterAck(samePairs, stop.applied, start.done, 1000);
  const late = summary(same.lateMs);
  return {
    rows: [
      ['Redis down', `${secs(start.done - stop.applied)} s (killed at +${secs(stop.applied - w.t0)} s)`],
      ['cross-node live deliveries while down', crossDuring],
      ['cross-node live gap', resumed && lastCross ? `${secs(resumed.at - lastCross)} s` : '-'],
      ['cross-node delivery resumed', resumeMs === null ? 'no' : `${secs(resumeMs)} s after Redis came back`],
      ['same-node live deliveries, down to resumed', localDuring],
      ['same-node longest pause, down to resumed', `${secs(localPause)} s`],
      ['same-node messages acked while down', `${same.acked}: live ${same.live}, within 1 s of the ack ${same.onTime}${late.count ? `, late by up to ${secs(late.max)} s` : ''}`],
    ],
    checks: [
      [`cross-node delivery resumed within ${MAX_CROSS_RESUME_MS / 1000} s of the restart`, resumeMs !== null && resumeMs <= MAX_CROSS_RESUME_MS],
      [`same-node delivery never stopped (no pause over ${MAX_LOCAL_GAP_MS / 1000} s)`, localDuring > 0 && localPause <= MAX_LOCAL_GAP_MS],
      ['every same-node message acked while Redis was down was delivered live within 1 s', same.acked > 0 && same.onTime === same.acked],
    ],
    data: {
      stoppedAtS: secs(stop.applied - w.t0),
      downMs: start.done - stop.applied,
      crossDeliveriesWhileDown: crossDuring,
      crossGapMs: resumed && lastCross ? resumed.at - lastCross : null,
      crossResumedAfterRestartMs: resumeMs,
      localDeliveriesDuringOutage: localDuring,
      localLongestPauseMs: localPause,
      sameNodeAckedWhileDown: same.acked,
      sameNodeLive: same.live,
      sameNodeLiveWithin1s: same.onTime,
      sameNodeLateMs: late,
    },
  };
}

/** Every attempt of every send: {at, ms, outcome, ackAt}. */
function attempts(w) {
  return w.peers.flatMap((p) => [...p.sends.values()].flatMap((s) => s.attempts.map((a) => ({ ...a, ackAt: a.at + a.ms }))));
}

/** The private mariadbd stopped (SIGTERM) mid-run and started again `downMs` (3 s) after it exited. */
async function mysql(w) {
  w.load.start();
  await sleep(w.faultAt);
  const stop = await ctl('mysql-stop');
  w.log(`MariaDB stopped (SIGTERM; exited after ${secs(stop.done - stop.applied)} s)`);
  await sleep(w.downMs);
  const start = await ctl('mysql-start');
  w.log('MariaDB started again');
  const firstOk = () =>
    attempts(w)
      .filter((a) => a.outcome === 'ok' && a.ackAt >= start.applied)
      .sort((x, y) => x.ackAt - y.ackAt)[0];
  const recovered = await waitUntil('a send to be acknowledged after the restart', firstOk, 60_000).catch(() => null);
  w.log(recovered ? `sends acknowledged again ${secs(recovered.ackAt - start.applied)} s after mariadbd was started` : 'no send acknowledged within 60 s of the restart');
  await finish(w, 2000);

  const all = attempts(w);
  // Nothing is refused before the stop; everything after it counts,
  // including what a pool's stale connections cost after the restart.
  const window = all.filter((a) => a.ackAt >= stop.applied);
  const refused = window.filter((a) => a.outcome !== 'ok' && a.outcome !== 'no_answer');
  const latency = summary(refused.map((a) => a.ms));
  const codes = {};
  for (const a of refused) codes[a.outcome] = (codes[a.outcome] ?? 0) + 1;
  const noAnswer = window.filter((a) => a.outcome === 'no_answer').length;
  // From its exit to the moment mariadbd was started again (when it began
  // to answer is only known to within faults.sh's polling).
  const ackedWhileDown = all.filter((a) => a.outcome === 'ok' && a.ackAt > stop.done && a.ackAt < start.applied).length;
  const not503 = refused.filter((a) => a.outcome !== 'unavailable' && a.outcome !== 'overloaded').length;
  // Every send made while the database was down, whatever its answer (a
  // send that waits for the database to come back is not refused fast).
  const during = all.filter((a) => a.at >= stop.applied && a.at < start.done);
  const answer = summary(during.map((a) => (a.outcome === 'no_answer' ? Math.max(a.ms, 10_000) : a.ms)));
  const duringOutcomes = {};
  for (const a of during) duringOutcomes[a.outcome] = (duringOutcomes[a.outcome] ?? 0) + 1;
  const recoveryMs = recovered ? recovered.ackAt - start.applied : null;
  return {
    rows: [
      ['MariaDB down', `${secs(start.done - stop.applied)} s (SIGTERM at +${secs(stop.applied - w.t0)} s, exited ${secs(stop.done - stop.applied)} s later)`],
      ['sends refused (from the stop on)', `${refused.length} ${JSON.stringify(codes)}`],
      ['time to a refusal', `p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms`],
      ['sends made while down', `${during.length} ${JSON.stringify(duringOutcomes)}`],
      ['  time to their answer', `p50 ${answer.p50} ms, p99 ${answer.p99} ms, max ${answer.max} ms`],
      ['sends without an answer (from the stop on)', noAnswer],
      ['acknowledged while MariaDB was down', ackedWhileDown],
      ['sends acknowledged again', recoveryMs === null ? 'no' : `${secs(recoveryMs)} s after mariadbd was started (it answered faults.sh after ${secs(start.done - start.applied)} s)`],
    ],
    checks: [
      ['sends were refused while MariaDB was down', refused.length > 0],
      ['every refusal was a 503 (unavailable/overloaded)', not503 === 0],
      [`sends made while down were answered fast (p99 <= ${MAX_REFUSAL_P99_MS} ms)`, answer.p99 !== null && answer.p99 <= MAX_REFUSAL_P99_MS],
      ['nothing acknowledged while MariaDB was down', ackedWhileDown === 0],
      ['the nodes recovered without a restart', recoveryMs !== null],
    ],
    data: {
      stoppedAtS: secs(stop.applied - w.t0),
      exitMs: stop.done - stop.applied,
      downMs: start.done - stop.applied,
      refused: refused.length,
      refusedCodes: codes,
      refusalMs: latency,
      sendsWhileDown: during.length,
      sendsWhileDownOutcomes: duringOutcomes,
      answerWhileDownMs: answer,
      noAnswerDuringOutage: noAnswer,
      ackedWhileDown,
      startedToAnsweringMs: start.done - start.applied,
      ackedAgainAfterStartMs: recoveryMs,
    },
  };
}

export const SCENARIOS = { node, redis, mysql };
