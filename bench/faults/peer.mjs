// One participant's device for bench/faults.mjs, as a careful app would
// write it with the official socket.io-client:
// - connects over websocket to one node; when the connection drops, opens a
//   new socket on the next node of the list (failover; socket.io-client by
//   itself would only retry the same URL), unless `failover` is false;
// - sends from an outbox, at most `maxInflight` at a time, each with its own
//   `clientMsgId`; a send whose ack is a retryable error, times out, or is
//   cut off by a disconnect is sent again with the SAME clientMsgId; only a
//   success ack counts as acknowledged;
// - keeps what it received by message id (a repeat is dropped) and the
//   peer's clientMsgIds (two ids for one clientMsgId is a duplicate shown to
//   the user);
// - resyncs its conversation by seq (`sync {conversationId, afterSeq}`) from
//   the end of the gap-free run of seqs it has: after every (re)connect,
//   when a live message shows a gap that does not fill within a second, and
//   once at the end (`finalSync`).
// Each message is counted by how it first arrived: `live`, `catchup`
// (catchupDelivered), `resync-connect`, `resync-gap` or `resync-final`.

import { io } from 'socket.io-client';

/** Error codes after which the same send is tried again. */
export const RETRYABLE = new Set(['unavailable', 'overloaded', 'internal', 'rate_limited']);

/** How long a send or a sync waits for its ack. */
export const ACK_TIMEOUT_MS = 10_000;

const now = () => Date.now();
const jitter = (ms) => ms + Math.floor(Math.random() * ms);

export class Peer {
  /**
   * `urls`: every node; `node`: the index to connect to first;
   * `onReceive(peer, message, via, at)`: called for each new message of the peer.
   */
  constructor({ label, id, token, conversationId, urls, node, failover = true, maxInflight = 4, onReceive }) {
    Object.assign(this, { label, id, token, conversationId, urls, failover, maxInflight, onReceive });
    this.node = node;
    this.home = node;
    this.socket = null;
    this.closed = false;
    this.downSince = null;
    /** Each drop and what came after: {from, to, reason, downAt, connectedAt, syncedAt}. */
    this.drops = [];
    this.connectErrors = 0;
    /** Messages of the peer by id: {seq, via, at, cmid}. */
    this.seen = new Map();
    this.peerCmids = new Map();
    this.shownDuplicates = [];
    this.liveRepeats = 0;
    this.seqs = new Set();
    this.contiguous = 0;
    this.maxSeq = 0;
    this.syncing = null;
    this.syncFailures = 0;
    this.gapTimer = null;
    /** Own sends by clientMsgId. */
    this.sends = new Map();
    this.outbox = [];
    this.inflight = 0;
    this.counter = 0;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
  }

  /** Connects to the first node; resolves after its catchupDelivered. */
  start(timeoutMs = 20_000) {
    this.open(this.node);
    const timer = setTimeout(
      () => this.rejectReady(new Error(`${this.label} did not connect to ${this.urls[this.home]} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    return this.ready.finally(() => clearTimeout(timer));
  }

  open(node) {
    if (this.closed) return;
    this.node = node;
    const socket = io(this.urls[node], {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      multiplex: false,
      timeout: 5000,
      auth: { token: this.token, dialect: 'dm' },
    });
    this.socket = socket;
    const mine = (fn) => (...args) => socket === this.socket && fn(...args);
    let synced = false;
    const syncAfterConnect = () => {
      if (synced) return;
      synced = true;
      this.syncUntilDone('resync-connect', socket).then((done) => {
        const drop = this.drops.at(-1);
        if (done && drop && drop.syncedAt === null && drop.connectedAt !== null) drop.syncedAt = now();
      });
    };
    socket.on('connect', mine(() => {
      const drop = this.drops.at(-1);
      if (drop && drop.connectedAt === null) {
        drop.connectedAt = now();
        drop.to = node;
      }
      this.downSince = null;
      // The rooms are joined once catchupDelivered comes; sync then (or
      // after 3 s if the catch-up does not come, e.g. the database is down).
      setTimeout(syncAfterConnect, 3000);
      this.pump();
    }));
    socket.on('catchupDelivered', mine((payload, ack) => {
      if (typeof ack === 'function') ack({ ok: true });
      for (const c of payload?.conversations ?? []) {
        if (c.conversationId !== this.conversationId) continue;
        for (const m of c.messages ?? []) this.record(m, 'catchup');
      }
      this.resolveReady(this);
      syncAfterConnect();
    }));
    socket.on('dm:message_received', mine((m) => this.record(m, 'live')));
    socket.on('disconnect', mine((reason) => {
      if (this.closed) return;
      this.lost(reason);
    }));
    socket.on('connect_error', mine((err) => {
      this.connectErrors += 1;
      socket.close();
      this.lost(`connect_error: ${err.message}`);
    }));
  }

  /** The socket is gone: try the next node shortly (unless `failover` is off). */
  lost(reason) {
    if (this.downSince === null) {
      this.downSince = now();
      this.drops.push({ from: this.node, to: null, reason, downAt: this.downSince, connectedAt: null, syncedAt: null });
    }
    if (!this.failover) return; // this device stays away (the call's party on a killed node)
    const next = (this.node + 1) % this.urls.length;
    setTimeout(() => this.open(next), jitter(150));
  }

  get connected() {
    return Boolean(this.socket?.connected);
  }

  /** A request on the current socket; rejects on timeout or disconnect. */
  request(event, data, ms = ACK_TIMEOUT_MS) {
    if (!this.connected) return Promise.reject(new Error(`${this.label} is not connected`));
    return this.socket.timeout(ms).emitWithAck(event, data);
  }

  // --- receiving -----------------------------------------------------------

  record(m, via) {
    if (m?.conversationId !== this.conversationId || typeof m.seq !== 'number') return;
    this.markSeq(m.seq);
    if (m.senderId === this.id) return; // our own message, heard back
    const at = now();
    const before = this.seen.get(m.id);
    if (before) {
      if (via === 'live' && before.via === 'live') this.liveRepeats += 1;
      return;
    }
    this.seen.set(m.id, { seq: m.seq, via, at, cmid: m.clientMsgId });
    if (m.clientMsgId) {
      const other = this.peerCmids.get(m.clientMsgId);
      if (other && other !== m.id) this.shownDuplicates.push({ cmid: m.clientMsgId, ids: [other, m.id] });
      else this.peerCmids.set(m.clientMsgId, m.id);
    }
    this.onReceive?.(this, m, via, at);
    if (via === 'live' && m.seq > this.contiguous) this.gapSoon();
  }

  markSeq(seq) {
    this.seqs.add(seq);
    if (seq > this.maxSeq) this.maxSeq = seq;
    while (this.seqs.has(this.contiguous + 1)) this.contiguous += 1;
  }

  /** A gap that a second does not fill is fetched with `sync`. */
  gapSoon() {
    if (this.gapTimer) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      if (this.maxSeq > this.contiguous) this.syncUntilDone('resync-gap', this.socket);
    }, 1000);
  }

  /** Everything after the gap-free run, page by page; false if it failed. */
  async syncOnce(via) {
    for (let page = 0; page < 10_000; page += 1) {
      let answer;
      try {
        answer = await this.request('sync', { conversationId: this.conversationId, afterSeq: this.contiguous, limit: 100 });
      } catch {
        return false;
      }
      if (answer?.success !== true) return false;
      const { items = [], hasMore, lastSeq } = answer.data;
      for (const m of items) this.record(m, via);
      if (typeof lastSeq === 'number' && lastSeq > this.maxSeq) this.maxSeq = lastSeq;
      if (!hasMore || items.length === 0) return true;
    }
    return false;
  }

  /**
   * `syncOnce`, again every half second while it fails, for as long as
   * `socket` is this device's socket. One at a time: a sync for a newer
   * socket waits for the one before it to end.
   */
  syncUntilDone(via, socket) {
    if (this.syncing?.socket === socket) return this.syncing.promise;
    const before = this.syncing?.promise ?? Promise.resolve();
    const entry = { socket };
    entry.promise = (async () => {
      await before;
      try {
        while (!this.closed && socket === this.socket) {
          if (this.connected && (await this.syncOnce(via))) return true;
          this.syncFailures += 1;
          await new Promise((r) => setTimeout(r, 500));
        }
        return false;
      } finally {
        if (this.syncing === entry) this.syncing = null;
      }
    })();
    this.syncing = entry;
    return entry.promise;
  }

  /** The last resync, after the load: retried until it succeeds or `ms` pass. */
  async finalSync(ms = 30_000) {
    const deadline = now() + ms;
    while (now() < deadline) {
      if (this.syncing) await this.syncing.promise;
      if (this.connected && (await this.syncOnce('resync-final'))) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  }

  // --- sending -------------------------------------------------------------

  /** Queues a new message; returns its clientMsgId. */
  enqueue() {
    this.counter += 1;
    const cmid = `${this.label}-${this.counter}`;
    const send = { cmid, content: `fault bench ${cmid} ${now()}`, createdAt: now(), attempts: [], acked: null, failed: null };
    this.sends.set(cmid, send);
    this.outbox.push(send);
    this.pump();
    return cmid;
  }

  /** Sends not acknowledged and not refused for good. */
  get pending() {
    let n = 0;
    for (const s of this.sends.values()) if (!s.acked && !s.failed) n += 1;
    return n;
  }

  pump() {
    while (this.inflight < this.maxInflight && this.outbox.length > 0 && this.connected) {
      this.attempt(this.outbox.shift());
    }
  }

  attempt(send) {
    const socket = this.socket;
    const node = this.node;
    const started = now();
    this.inflight += 1;
    const payload = { conversationId: this.conversationId, content: send.content, clientMsgId: send.cmid };
    socket.timeout(ACK_TIMEOUT_MS).emit('dm:send_message', payload, (err, answer) => {
      this.inflight -= 1;
      const at = now();
      const ms = at - started;
      if (err) {
        // No answer: timed out, or the socket dropped first.
        send.attempts.push({ at: started, ms, node, outcome: 'no_answer', why: err.message });
        this.retry(send, 200);
      } else if (answer?.success === true) {
        send.attempts.push({ at: started, ms, node, outcome: 'ok' });
        send.acked = { at, id: answer.data.id, seq: answer.data.seq, node };
        this.markSeq(answer.data.seq);
      } else {
        const code = answer?.error?.code ?? 'no_code';
        send.attempts.push({ at: started, ms, node, outcome: code });
        if (RETRYABLE.has(code)) this.retry(send, code === 'overloaded' ? 1000 : 300);
        else send.failed = { code, message: answer?.error?.message };
      }
      this.pump();
    });
  }

  retry(send, ms) {
    setTimeout(() => {
      this.outbox.unshift(send);
      this.pump();
    }, jitter(ms));
  }

  close() {
    this.closed = true;
    clearTimeout(this.gapTimer);
    this.socket?.disconnect();
  }
}
