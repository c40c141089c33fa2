// What bench/faults.mjs checks after a run, against the database itself
// (the `mysql`/`mariadb` command line client, FAULTS_MYSQL): every
// acknowledged message is stored as acknowledged; each (sender,
// clientMsgId) is stored once; every stored message reached its recipient,
// live or by resync; no recipient was shown one clientMsgId under two ids.

import { execFileSync } from 'node:child_process';

const uuid = (hex) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
const unhex = (id) => id.replaceAll('-', '').toLowerCase();

/** The text messages of the tenant: {conversationId, seq, id, senderId, cmid}. */
export function storedMessages(mysql, tenantId) {
  const [program, ...args] = mysql.split(/\s+/).filter(Boolean);
  const sql =
    'SELECT LOWER(HEX(conversation_id)), seq, LOWER(HEX(id)), LOWER(HEX(sender_id)), client_msg_id ' +
    `FROM messages WHERE tenant_id = UNHEX('${unhex(tenantId)}') AND type = 'text'`;
  const out = execFileSync(program, [...args, '-N', '-B', '-e', sql], { maxBuffer: 1 << 28 }).toString();
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [conversation, seq, id, sender, cmid] = line.split('\t');
      return { conversationId: uuid(conversation), seq: Number(seq), id: uuid(id), senderId: uuid(sender), cmid: cmid === 'NULL' ? null : cmid };
    });
}

/**
 * The counts of one run. `pairs`: [{a, b}] of Peers that talk to each
 * other (each is the other's recipient); `stored`: storedMessages().
 */
export function count(pairs, stored) {
  const peers = pairs.flatMap(({ a, b }) => [a, b]);
  const bySender = new Map(peers.map((p) => [p.id, p]));
  const recipient = new Map(pairs.flatMap(({ a, b }) => [[a.id, b], [b.id, a]]));
  const storedById = new Map(stored.map((m) => [m.id, m]));
  const r = {
    queued: 0,
    acknowledged: 0,
    ackedNotStored: [],
    ackedMismatch: [],
    stored: 0,
    storedDuplicates: [],
    storedNotAcked: 0,
    delivered: 0,
    deliveredBy: { live: 0, catchup: 0, 'resync-connect': 0, 'resync-gap': 0, 'resync-final': 0 },
    notDelivered: [],
    shownDuplicates: peers.flatMap((p) => p.shownDuplicates),
    liveRepeats: peers.reduce((n, p) => n + p.liveRepeats, 0),
    retriedThenAcked: 0,
    refusals: 0,
    noAnswers: 0,
    refusedCodes: {},
    failed: [],
    neverAcked: 0,
  };
  const acked = new Set();
  for (const p of peers) {
    for (const s of p.sends.values()) {
      r.queued += 1;
      const refusals = s.attempts.filter((a) => a.outcome !== 'ok' && a.outcome !== 'no_answer');
      r.refusals += refusals.length;
      r.noAnswers += s.attempts.filter((a) => a.outcome === 'no_answer').length;
      for (const a of refusals) r.refusedCodes[a.outcome] = (r.refusedCodes[a.outcome] ?? 0) + 1;
      if (s.failed) r.failed.push({ sender: p.label, cmid: s.cmid, ...s.failed });
      if (!s.acked) {
        if (!s.failed) r.neverAcked += 1;
        continue;
      }
      r.acknowledged += 1;
      acked.add(`${p.id}/${s.cmid}`);
      if (s.attempts.length > 1) r.retriedThenAcked += 1;
      const row = storedById.get(s.acked.id);
      if (!row) r.ackedNotStored.push({ sender: p.label, cmid: s.cmid, id: s.acked.id, seq: s.acked.seq });
      else if (row.cmid !== s.cmid || row.senderId !== p.id || row.seq !== s.acked.seq) {
        r.ackedMismatch.push({ sender: p.label, cmid: s.cmid, acked: s.acked, stored: row });
      }
    }
  }
  const byClientId = new Map();
  for (const m of stored) {
    const sender = bySender.get(m.senderId);
    if (!sender) continue; // not one of this run's devices
    r.stored += 1;
    const key = `${m.senderId}/${m.cmid}`;
    if (byClientId.has(key)) r.storedDuplicates.push({ sender: sender.label, cmid: m.cmid, ids: [byClientId.get(key), m.id] });
    else byClientId.set(key, m.id);
    if (!acked.has(key)) r.storedNotAcked += 1;
    const seen = recipient.get(m.senderId).seen.get(m.id);
    if (seen) {
      r.delivered += 1;
      r.deliveredBy[seen.via] += 1;
    } else {
      r.notDelivered.push({ sender: sender.label, to: recipient.get(m.senderId).label, cmid: m.cmid, id: m.id, seq: m.seq });
    }
  }
  r.lost = r.ackedNotStored.length + r.ackedMismatch.length + r.notDelivered.length;
  r.duplicated = r.shownDuplicates.length + r.storedDuplicates.length;
  return r;
}

const fmt = (v) => (v === null || v === undefined ? '-' : typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : String(v));

/** Prints `rows` ([label, value]) as a two-column table under `title`. */
export function table(title, rows) {
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [`== ${title}`, ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${fmt(value)}`)];
  console.error(lines.join('\n'));
}

/** The rows every fault prints. */
export function countRows(r) {
  const by = r.deliveredBy;
  return [
    ['sends queued', r.queued],
    ['acknowledged', r.acknowledged],
    ['stored', r.stored],
    ['stored, not acknowledged', r.storedNotAcked],
    ['delivered', `${r.delivered} (live ${by.live}, by resync ${r.delivered - by.live}: catch-up ${by.catchup}, after reconnect ${by['resync-connect']}, gap ${by['resync-gap']}, final ${by['resync-final']})`],
    ['refused-then-retried (sends)', r.retriedThenAcked],
    ['refusals (error acks)', `${r.refusals} ${JSON.stringify(r.refusedCodes)}`],
    ['sends without an answer (timeout/disconnect)', r.noAnswers],
    ['refused for good', r.failed.length],
    ['never acknowledged', r.neverAcked],
    ['duplicated', `${r.duplicated} (shown ${r.shownDuplicates.length}, stored ${r.storedDuplicates.length}); same id heard live twice (deduped): ${r.liveRepeats}`],
    ['lost', `${r.lost} (acked not stored ${r.ackedNotStored.length}, acked differently stored ${r.ackedMismatch.length}, stored not delivered ${r.notDelivered.length})`],
  ];
}

/** The checks every fault must pass: [what, ok]. */
export function countChecks(r) {
  return [
    ['0 acknowledged messages lost', r.ackedNotStored.length + r.ackedMismatch.length === 0],
    ['every stored message delivered to its recipient', r.notDelivered.length === 0],
    ['no duplicates (shown or stored)', r.duplicated === 0],
    ['every send acknowledged in the end', r.neverAcked === 0],
    ['no send refused for good', r.failed.length === 0],
    ['something was acknowledged', r.acknowledged > 0],
  ];
}

/**
 * Per second since `t0`: sends acknowledged and refused (by when their
 * answer came), the slowest answer, live deliveries across nodes and
 * within one node. Printed when a check fails; kept in the JSON.
 */
export function perSecond(peers, receipts, t0) {
  const rows = [];
  const row = (at) => {
    const s = Math.floor((at - t0) / 1000);
    if (s < 0) return null;
    while (rows.length <= s) rows.push({ s: rows.length, acked: 0, refused: 0, noAnswer: 0, slowestMs: 0, liveCross: 0, liveLocal: 0 });
    return rows[s];
  };
  for (const p of peers) {
    for (const send of p.sends.values()) {
      for (const a of send.attempts) {
        const r = row(a.at + a.ms);
        if (!r) continue;
        if (a.outcome === 'ok') r.acked += 1;
        else if (a.outcome === 'no_answer') r.noAnswer += 1;
        else r.refused += 1;
        r.slowestMs = Math.max(r.slowestMs, a.ms);
      }
    }
  }
  for (const { at, cross } of receipts) {
    const r = row(at);
    if (r) r[cross ? 'liveCross' : 'liveLocal'] += 1;
  }
  return rows;
}

export function printPerSecond(rows) {
  console.error('  second  acked  refused  no-answer  slowest-ms  live-cross  live-local');
  for (const r of rows) {
    console.error(
      `  ${String(r.s).padStart(6)}  ${String(r.acked).padStart(5)}  ${String(r.refused).padStart(7)}  ${String(r.noAnswer).padStart(9)}  ${String(r.slowestMs).padStart(10)}  ${String(r.liveCross).padStart(10)}  ${String(r.liveLocal).padStart(10)}`,
    );
  }
}
