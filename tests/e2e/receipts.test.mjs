// Receipts: the delivered and read cursors move forward only, the other
// party hears each move, and REST shows the same cursors and statuses.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ok } from './lib/rest.mjs';
import { closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let world;
let conversationId;
let user;
let astro;
let sent;

before(async () => {
  world = await createWorld('receipts');
  conversationId = await world.tenant.open(world.user, world.astro);
  user = await connect(world.user.token, { label: 'user' });
  astro = await connect(world.astro.token, { label: 'astro' });
  sent = [];
  for (const content of ['one', 'two', 'three']) {
    sent.push(await user.must('dm:send_message', { conversationId, content }));
  }
  await astro.waitFor('dm:message_received', (m) => m.id === sent[2].id);
});
after(closeAll);

/**
 * A message (from the user, over REST) after everything so far: once both
 * have heard it, every earlier event has arrived.
 */
async function settle() {
  const marker = await world.tenant.send(world.user, conversationId, 'marker');
  await user.waitFor('message', (m) => m.id === marker.id);
  await astro.waitFor('message', (m) => m.id === marker.id);
  return marker;
}

/** The user's view of their messages' statuses, by seq. */
async function statuses() {
  const page = await ok('GET', `/api/conversations/${conversationId}/messages?after=0`, { token: world.user.token });
  return Object.fromEntries(page.items.filter((m) => m.senderId === world.user.id).map((m) => [m.seq, m.status]));
}

describe('receipts', () => {
  test('sending moves nothing for the recipient: the messages are "sent"', async () => {
    assert.deepEqual(await statuses(), { 1: 'sent', 2: 'sent', 3: 'sent' });
    const mine = await ok('GET', `/api/conversations/${conversationId}`, { token: world.astro.token });
    assert.equal(mine.unreadCount, 3);
  });

  test('delivered moves the cursor and the sender hears it', async () => {
    const answer = await astro.must('delivered', { conversationId, seq: sent[2].seq });
    assert.deepEqual(answer, { conversationId, deliveredSeq: 3, readSeq: 0 });
    const heard = await user.waitFor('delivered', (r) => r.userId === world.astro.id);
    assert.deepEqual(
      { ...heard },
      { conversationId, userId: world.astro.id, participantId: world.astro.id, seq: 3, deliveredSeq: 3, readSeq: 0 },
    );
    assert.deepEqual(await statuses(), { 1: 'delivered', 2: 'delivered', 3: 'delivered' });
  });

  test('read_up_to moves the read cursor; both names are heard; unread drops', async () => {
    const answer = await astro.must('read_up_to', { conversationId, seq: 2 });
    assert.deepEqual(answer, { conversationId, deliveredSeq: 3, readSeq: 2 });
    const legacy = await user.waitFor('read_up_to', (r) => r.userId === world.astro.id);
    assert.equal(legacy.seq, 2);
    assert.equal(legacy.readSeq, 2);
    assert.equal(legacy.deliveredSeq, 3);
    const dm = await user.waitFor('dm:messages_read', (r) => r.userId === world.astro.id);
    assert.equal(dm.readBy, world.astro.id);
    assert.equal(dm.seq, 2);
    assert.deepEqual(await statuses(), { 1: 'read', 2: 'read', 3: 'delivered' });
    const mine = await ok('GET', `/api/conversations/${conversationId}`, { token: world.astro.token });
    assert.equal(mine.unreadCount, 1);
  });

  test('cursors never move back, and a move that changes nothing is not announced', async () => {
    const backwards = await astro.must('delivered', { conversationId, seq: 1 });
    assert.equal(backwards.deliveredSeq, 3);
    const readBack = await astro.must('dm:mark_read', { conversationId, seq: 1 });
    assert.equal(readBack.readSeq, 2);
    await settle();
    assert.equal(user.heard('delivered', (r) => r.userId === world.astro.id).length, 1);
    assert.equal(user.heard('read_up_to', (r) => r.userId === world.astro.id).length, 1);
  });

  test('reading past the end stops at the last message; read implies delivered', async () => {
    const marker = await settle();
    const answer = await astro.must('dm:mark_read', { conversationId, seq: 10_000 });
    assert.equal(answer.readSeq, marker.seq);
    assert.equal(answer.deliveredSeq, marker.seq);
    const read = await user.waitFor('dm:messages_read', (r) => r.readSeq === marker.seq);
    assert.equal(read.deliveredSeq, marker.seq);
    const all = await statuses();
    assert.equal(Object.keys(all).length, marker.seq);
    assert.ok(Object.values(all).every((s) => s === 'read'), JSON.stringify(all));
    const mine = await ok('GET', `/api/conversations/${conversationId}`, { token: world.astro.token });
    assert.equal(mine.unreadCount, 0);
  });
});
