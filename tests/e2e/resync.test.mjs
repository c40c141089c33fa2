// Reconnect and resync: a device that drops off misses nothing. On
// reconnect, catchupDelivered carries what was not delivered (and, once
// acknowledged, the sender hears `delivered`); `sync {conversationId,
// afterSeq}` and REST `?after=` give the same gap-free run of seqs.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ok } from './lib/rest.mjs';
import { closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let world;
let conversationId;
let user;

before(async () => {
  world = await createWorld('resync');
  conversationId = await world.tenant.open(world.user, world.astro);
  user = await connect(world.user.token, { label: 'user' });
});
after(closeAll);

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const seqs = (messages) => messages.map((m) => m.seq);

/** Drops the connection as a network failure would, and waits for the client to notice. */
async function drop(client) {
  client.socket.io.engine.close();
  const reason = await client.disconnected();
  assert.ok(['forced close', 'transport close'].includes(reason), reason);
}

/** Reconnects the same client; resolves with the new catchupDelivered entry for this conversation. */
async function reconnect(client) {
  const start = client.events.length;
  await client.connect();
  const catchup = await client.waitFor('catchupDelivered', (_, entry) => client.events.indexOf(entry) >= start);
  return catchup.conversations.find((c) => c.conversationId === conversationId);
}

/** Every message after `afterSeq` through `sync`, `limit` at a time. */
async function syncAll(client, afterSeq, limit) {
  const items = [];
  let cursor = afterSeq;
  for (let page = 0; page < 100; page++) {
    const data = await client.must('sync', { conversationId, afterSeq: cursor, limit });
    assert.equal(data.conversationId, conversationId);
    items.push(...data.items);
    if (!data.hasMore) return { items, lastSeq: data.lastSeq };
    assert.ok(data.items.length > 0, 'hasMore with an empty page');
    cursor = data.items.at(-1).seq;
  }
  throw new Error('sync never finished');
}

describe('reconnect and resync', () => {
  test('messages sent while a device was away come back by catch-up, sync and REST, without gaps', async () => {
    const astro = await connect(world.astro.token, { transports: ['websocket'], label: 'astro' });
    // Two messages arrive live; the device acknowledges them.
    for (const content of ['live 1', 'live 2']) {
      const sent = await user.must('dm:send_message', { conversationId, content });
      await astro.waitFor('dm:message_received', (m) => m.id === sent.id);
    }
    await astro.must('delivered', { conversationId, seq: 2 });
    await user.waitFor('delivered', (r) => r.userId === world.astro.id && r.seq === 2);

    await drop(astro);
    const away = [];
    for (let i = 1; i <= 5; i++) {
      away.push(await world.tenant.send(world.user, conversationId, `while away ${i}`));
    }
    assert.deepEqual(seqs(away), range(3, 7));

    const caught = await reconnect(astro);
    assert.ok(caught, 'the conversation is in the catch-up');
    assert.deepEqual(seqs(caught.messages), range(3, 7), 'exactly what was not delivered, oldest first');
    assert.deepEqual(caught.messages.map((m) => m.id), away.map((m) => m.id));
    assert.equal(caught.lastSeq, 7);
    assert.equal(caught.hasMore, false);
    // The catch-up was acknowledged: the sender hears that all of it arrived.
    const delivered = await user.waitFor('delivered', (r) => r.userId === world.astro.id && r.seq === 7);
    assert.equal(delivered.deliveredSeq, 7);

    const synced = await syncAll(astro, 2, 100);
    assert.deepEqual(seqs(synced.items), range(3, 7));
    assert.equal(synced.lastSeq, 7);
    const paged = await syncAll(astro, 2, 2);
    assert.deepEqual(seqs(paged.items), range(3, 7), 'paging with limit 2 gives the same');
    const rest = await ok('GET', `/api/conversations/${conversationId}/messages?after=2`, { token: world.astro.token });
    assert.deepEqual(seqs(rest.items), range(3, 7));
    assert.deepEqual(rest.items.map((m) => m.id), synced.items.map((m) => m.id));
    // Nothing after the end.
    assert.deepEqual((await astro.must('sync', { conversationId, afterSeq: 7 })).items, []);
    astro.close();
  });

  test('a catch-up that is not acknowledged is sent again on the next connect', async () => {
    const astro = await connect(world.astro.token, { label: 'astro/no-ack', ackCatchup: false });
    await drop(astro);
    const away = [];
    for (let i = 1; i <= 2; i++) away.push(await world.tenant.send(world.user, conversationId, `unacked ${i}`));
    const first = await reconnect(astro);
    assert.deepEqual(seqs(first.messages), seqs(away));
    await drop(astro);

    astro.ackCatchup = true;
    const again = await reconnect(astro);
    assert.deepEqual(seqs(again.messages), seqs(away), 'not acknowledged: sent again');
    await user.waitFor('delivered', (r) => r.userId === world.astro.id && r.seq === away.at(-1).seq);
    astro.close();
  });

  test('messages sent while the device reconnects are all seen: live, caught up or synced', async () => {
    const astro = await connect(world.astro.token, { transports: ['polling'], label: 'astro/polling' });
    const start = (await astro.must('sync', { conversationId, afterSeq: 0, limit: 1 })).lastSeq;
    await drop(astro);
    const sending = (async () => {
      const sent = [];
      for (let i = 1; i <= 12; i++) {
        sent.push(await world.tenant.send(world.user, conversationId, `racing ${i}`));
      }
      return sent;
    })();
    const liveFrom = astro.events.length;
    const caught = await reconnect(astro);
    const sent = await sending;
    const last = sent.at(-1).seq;
    // Whatever the live feed and the catch-up missed, sync fills in.
    const live = astro.events
      .slice(liveFrom)
      .filter((e) => e.event === 'dm:message_received' && e.data.conversationId === conversationId)
      .map((e) => e.data);
    const known = new Map([...(caught?.messages ?? []), ...live].map((m) => [m.seq, m]));
    // As a client would: sync from the end of what it has without a gap.
    let contiguous = start;
    while (known.has(contiguous + 1)) contiguous++;
    const synced = await syncAll(astro, contiguous, 5);
    for (const m of synced.items) known.set(m.seq, m);
    assert.deepEqual([...known.keys()].sort((a, b) => a - b), range(start + 1, last), 'no gaps, nothing missing');
    for (const m of sent) assert.equal(known.get(m.seq).id, m.id);
    astro.close();
  });
});
