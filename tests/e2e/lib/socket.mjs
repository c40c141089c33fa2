// Socket.IO clients for the e2e suite: the official socket.io-client, a
// record of every event a socket heard, and waiting with a timeout (a
// timeout is a failure, never a pause).

import assert from 'node:assert/strict';

import { io } from 'socket.io-client';

import { BASE } from './rest.mjs';

/** Every client made in this file, closed by `closeAll`. */
const open = new Set();

/** How long a test waits for anything before it fails. */
export const TIMEOUT_MS = 10_000;

/** Resolves with `promise`, or rejects after `ms` saying what was awaited. */
export function withTimeout(promise, what, ms = TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * One device's socket and everything it heard, in order.
 *
 * Options: `dialect`, `transports` (socket.io-client's), `extraHeaders`
 * (e.g. a browser's `Origin`), `useQuery` (send the token and dialect as
 * ?token=&dialect= instead of in `auth`),
 * `ackCatchup` (default true: acknowledge catchupDelivered at once), `label`
 * (for messages), `base` (another node's URL; default SAMVAD_BASE_URL). The
 * client never reconnects by itself.
 *
 * `events` keeps `{event, data, args, ack, at}` for every server event, and
 * `disconnect` with its reason (see `waitFor`).
 */
export class Client {
  constructor(token, options = {}) {
    const {
      dialect,
      transports,
      extraHeaders,
      query,
      useQuery = false,
      ackCatchup = true,
      label = 'socket',
      base = BASE,
    } = options;
    this.label = label;
    this.events = [];
    this.waiters = [];
    this.ackCatchup = ackCatchup;
    const auth = {};
    const q = { ...(query ?? {}) };
    if (useQuery) {
      if (token !== undefined) q.token = token;
      if (dialect !== undefined) q.dialect = dialect;
    } else {
      if (token !== undefined) auth.token = token;
      if (dialect !== undefined) auth.dialect = dialect;
    }
    this.socket = io(base, {
      autoConnect: false,
      forceNew: true,
      multiplex: false,
      reconnection: false,
      timeout: TIMEOUT_MS,
      auth,
      query: q,
      ...(transports ? { transports } : {}),
      ...(extraHeaders ? { extraHeaders } : {}),
    });
    this.socket.onAny((event, ...args) => this.record(event, args));
    open.add(this);
    this.socket.on('disconnect', (reason) => this.record('disconnect', [reason]));
  }

  record(event, args) {
    const ack = typeof args.at(-1) === 'function' ? args.pop() : null;
    const entry = { event, data: args[0], args, ack, at: Date.now() };
    if (event === 'catchupDelivered' && ack && this.ackCatchup) ack({ ok: true });
    this.events.push(entry);
    for (const waiter of [...this.waiters]) {
      if (waiter.event === event && waiter.match(entry.data, entry)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(entry);
      }
    }
  }

  /** Connects; resolves once connected, rejects with the connect_error. */
  connect() {
    const s = this.socket;
    const connected = new Promise((resolve, reject) => {
      const onConnect = () => {
        s.off('connect_error', onError);
        resolve(this);
      };
      const onError = (err) => {
        s.off('connect', onConnect);
        reject(err);
      };
      s.once('connect', onConnect);
      s.once('connect_error', onError);
    });
    s.connect();
    return withTimeout(connected, `${this.label} to connect`);
  }

  /** Events named `event` heard so far (optionally only those matching). */
  heard(event, match = () => true) {
    return this.events.filter((e) => e.event === event && match(e.data, e)).map((e) => e.data);
  }

  /**
   * The first `event` matching `match`, heard already or from now on, among
   * those not consumed yet. Rejects after `ms`.
   */
  waitFor(event, match = () => true, ms = TIMEOUT_MS) {
    this.consumed ??= new Set();
    const found = this.events.find(
      (e) => e.event === event && !this.consumed.has(e) && match(e.data, e),
    );
    if (found) {
      this.consumed.add(found);
      return Promise.resolve(found.data);
    }
    const promise = new Promise((resolve) => {
      this.waiters.push({
        event,
        match: (data, entry) => !this.consumed.has(entry) && match(data, entry),
        resolve: (entry) => {
          this.consumed.add(entry);
          resolve(entry.data);
        },
      });
    });
    return withTimeout(promise, `${this.label} to hear ${event}`, ms);
  }

  /** Like `waitFor`, but leaves the event for a later `waitFor`. */
  async peek(event, match = () => true, ms = TIMEOUT_MS) {
    const data = await this.waitFor(event, match, ms);
    const entry = this.events.find((e) => e.event === event && e.data === data);
    this.consumed.delete(entry);
    return data;
  }

  /** Emits with an ack and resolves with the answer (rejects on timeout). */
  async request(event, ...args) {
    try {
      return await this.socket.timeout(TIMEOUT_MS).emitWithAck(event, ...args);
    } catch (err) {
      throw new Error(`${this.label}: no ack of ${event} within ${TIMEOUT_MS} ms (${err.message})`);
    }
  }

  /** `request` that must succeed; returns `data`. */
  async must(event, ...args) {
    const answer = await this.request(event, ...args);
    if (answer?.success !== true) {
      throw new Error(`${event} failed: ${JSON.stringify(answer)}`);
    }
    return answer.data;
  }

  /**
   * A round trip on this socket: everything the server queued for it before
   * now has been heard once this resolves.
   */
  async barrier() {
    const answer = await this.request('presence', { ids: [] });
    if (answer?.success !== true) throw new Error(`barrier failed: ${JSON.stringify(answer)}`);
  }

  /** Resolves with the reason of this socket's next (unconsumed) disconnect. */
  disconnected(ms = TIMEOUT_MS) {
    return this.waitFor('disconnect', () => true, ms);
  }

  get connected() {
    return this.socket.connected;
  }

  get transport() {
    return this.socket.io.engine?.transport?.name;
  }

  close() {
    this.socket.disconnect();
  }
}

/**
 * Connects a new client (see `Client` for the options) and waits for its
 * catchupDelivered, the last thing the server does for a new connection.
 */
export async function connect(token, options = {}) {
  const client = new Client(token, options);
  await client.connect();
  await client.peek('catchupDelivered');
  return client;
}

/** Connects and expects a refusal; resolves with the connect_error message. */
export async function refused(token, options = {}) {
  const client = new Client(token, options);
  try {
    await client.connect();
  } catch (err) {
    client.close();
    return err.message;
  }
  client.close();
  throw new Error(`${options.label ?? 'socket'} connected but should have been refused`);
}

/** Closes every client this file opened (call from `after`). */
export function closeAll() {
  for (const client of open) client.close();
  open.clear();
}

/** Asserts the failure envelope `{success:false, error:{code, message}, message}`. */
export function assertError(answer, code) {
  assert.equal(answer?.success, false, `expected an error, got ${JSON.stringify(answer)}`);
  assert.equal(typeof answer.error?.message, 'string', JSON.stringify(answer));
  assert.equal(answer.message, answer.error.message, JSON.stringify(answer));
  if (code !== undefined) {
    const codes = Array.isArray(code) ? code : [code];
    assert.ok(codes.includes(answer.error.code), `expected ${codes.join(' or ')}, got ${JSON.stringify(answer)}`);
  }
  return answer.error.code;
}
