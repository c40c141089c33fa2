// Seed 004's admin <-> astrologer flow over `dm:*` events: join, send (to
// every device of both sides, the sender's other device included), typing
// (to the other party, never to the typist), mark read, and dm:error when a
// request without an ack fails.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ok } from './lib/rest.mjs';
import { closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let world;
let conversationId;
let admin; // the admin's socket
let astro1; // the astrologer's phone
let astro2; // the astrologer's laptop

before(async () => {
  world = await createWorld('dm');
  const laptop = await world.astro.login('laptop');
  admin = await connect(world.admin.token, { dialect: 'dm', label: 'admin' });
  astro1 = await connect(world.astro.token, { dialect: 'dm', label: 'astro/phone' });
  astro2 = await connect(laptop.token, { dialect: 'dm', transports: ['polling'], label: 'astro/laptop' });
  // Seed 004: the admin opens the conversation with the astrologer.
  const opened = await ok('GET', `/api/admin/conversations/${world.astro.id}`, { token: world.admin.token });
  conversationId = opened.conversation.id;
  assert.equal(opened.conversation.type, 'admin_astrologer');
  // The astrologer's side finds the same conversation.
  const mine = await ok('GET', '/api/conversations/admin', { token: world.astro.token });
  assert.equal(mine.conversation.id, conversationId);
});
after(closeAll);

describe('seed 004: admin <-> astrologer over dm:* events', () => {
  test('dm:join_conversation answers and emits dm:joined', async () => {
    for (const client of [admin, astro1, astro2]) {
      const data = await client.must('dm:join_conversation', { conversationId });
      assert.deepEqual(data, { conversationId });
      assert.deepEqual(await client.waitFor('dm:joined'), { conversationId });
    }
  });

  test('dm:send_message reaches both sides, the sender and the sender\'s other device', async () => {
    const sent = await admin.must('dm:send_message', { conversationId, content: 'Namaste, Asha ji', clientMsgId: 'a-1' });
    assert.equal(sent.conversationId, conversationId);
    assert.equal(sent.senderId, world.admin.id);
    assert.equal(sent.senderType, 'admin');
    assert.equal(sent.status, 'sent');
    for (const client of [admin, astro1, astro2]) {
      const heard = await client.waitFor('dm:message_received', (m) => m.id === sent.id);
      assert.equal(heard.content, 'Namaste, Asha ji');
      assert.equal(heard.text, 'Namaste, Asha ji');
      assert.equal(heard.seq, sent.seq);
      assert.equal(heard.senderType, 'admin');
      assert.equal(heard.clientMsgId, 'a-1');
    }

    // The astrologer answers from the phone: the laptop hears it too.
    const reply = await astro1.must('dm:send_message', { conversationId, text: 'Namaste!', messageType: 'text' });
    assert.equal(reply.seq, sent.seq + 1);
    for (const client of [admin, astro1, astro2]) {
      const heard = await client.waitFor('dm:message_received', (m) => m.id === reply.id);
      assert.equal(heard.senderId, world.astro.id);
      assert.equal(heard.senderType, 'astrologer');
    }

    // A retry with the same clientMsgId returns the first message, once.
    const again = await admin.must('dm:send_message', { conversationId, content: 'Namaste, Asha ji', clientMsgId: 'a-1' });
    assert.equal(again.id, sent.id);
    const marker = await admin.must('dm:send_message', { conversationId, content: 'marker' });
    assert.equal(marker.seq, reply.seq + 1, 'the retry took no seq');
    await astro2.waitFor('dm:message_received', (m) => m.id === marker.id);
    assert.equal(astro2.heard('dm:message_received', (m) => m.id === sent.id).length, 1, 'the retry was not broadcast');
  });

  test('seed 004\'s REST endpoints produce the same dm:message_received', async () => {
    const viaRest = await ok('POST', '/api/conversations/admin/messages', {
      token: world.astro.token,
      body: { content: 'sent from the astrologer\'s REST endpoint' },
    });
    const heard = await admin.waitFor('dm:message_received', (m) => m.id === viaRest.id);
    assert.equal(heard.seq, viaRest.seq);
    const fromAdmin = await ok('POST', `/api/admin/conversations/${world.astro.id}/messages`, {
      token: world.admin.token,
      body: { content: 'and from the admin\'s' },
    });
    await astro2.waitFor('dm:message_received', (m) => m.id === fromAdmin.id);
    await astro1.waitFor('dm:message_received', (m) => m.id === fromAdmin.id);
  });

  test('typing reaches the other party, not the typist\'s own devices', async () => {
    const started = await admin.must('dm:typing_start', { conversationId });
    assert.deepEqual(started, { conversationId });
    for (const client of [astro1, astro2]) {
      const typing = await client.waitFor('dm:typing_start', (t) => t.conversationId === conversationId);
      assert.equal(typing.userId, world.admin.id);
      assert.equal(typing.isTyping, true);
    }
    await admin.must('dm:typing_stop', { conversationId });
    for (const client of [astro1, astro2]) {
      const stopped = await client.waitFor('dm:typing_stop', (t) => t.conversationId === conversationId);
      assert.equal(stopped.userId, world.admin.id);
      assert.equal(stopped.isTyping, false);
    }

    // The astrologer types on the phone: the admin hears it, the laptop (the
    // typist's other device) and the phone do not.
    await astro1.must('dm:typing_start', { conversationId });
    const typing = await admin.waitFor('dm:typing_start', (t) => t.userId === world.astro.id);
    assert.equal(typing.conversationId, conversationId);
    await Promise.all([admin.barrier(), astro1.barrier(), astro2.barrier()]);
    assert.deepEqual(admin.heard('dm:typing_start', (t) => t.userId === world.admin.id), []);
    assert.deepEqual(astro1.heard('dm:typing_start', (t) => t.userId === world.astro.id), []);
    assert.deepEqual(astro2.heard('dm:typing_start', (t) => t.userId === world.astro.id), []);
  });

  test('dm:mark_read with messageIds tells the other side dm:messages_read', async () => {
    const sent = await admin.must('dm:send_message', { conversationId, content: 'please read this' });
    await astro1.waitFor('dm:message_received', (m) => m.id === sent.id);
    const marked = await astro1.must('dm:mark_read', { conversationId, messageIds: [sent.id] });
    assert.equal(marked.conversationId, conversationId);
    assert.equal(marked.readSeq, sent.seq);
    assert.ok(marked.deliveredSeq >= sent.seq, 'read implies delivered');
    const read = await admin.waitFor('dm:messages_read', (r) => r.readSeq === sent.seq);
    assert.equal(read.conversationId, conversationId);
    assert.equal(read.readBy, world.astro.id);
    assert.equal(read.userId, world.astro.id);
    assert.equal(read.seq, sent.seq);
    // Both of the reader's devices hear it too (their unread count changed).
    await astro2.waitFor('dm:messages_read', (r) => r.readSeq === sent.seq);
    // The admin's view of the message says read.
    const history = await ok('GET', `/api/admin/conversations/${world.astro.id}/messages?after=0`, { token: world.admin.token });
    assert.equal(history.items.find((m) => m.id === sent.id).status, 'read');
  });

  test('a failed request without an ack comes back as dm:error; the socket stays up', async () => {
    astro1.socket.emit('dm:send_message', { content: 'where to?' });
    const error = await astro1.waitFor('dm:error', (e) => e.event === 'dm:send_message');
    assert.equal(error.success, false);
    assert.equal(error.code, 'validation_failed');
    assert.equal(error.error.code, 'validation_failed');
    assert.equal(typeof error.message, 'string');

    astro1.socket.emit('dm:join_conversation', { conversationId: '01900000-0000-7000-8000-000000000000' });
    const notFound = await astro1.waitFor('dm:error', (e) => e.event === 'dm:join_conversation');
    assert.equal(notFound.code, 'not_found');

    astro1.socket.emit('dm:mark_read', { conversationId });
    const noSeq = await astro1.waitFor('dm:error', (e) => e.event === 'dm:mark_read');
    assert.equal(noSeq.code, 'validation_failed');

    // Only the socket that asked hears its error.
    await astro2.barrier();
    assert.deepEqual(astro2.heard('dm:error'), []);
    const sent = await astro1.must('dm:send_message', { conversationId, content: 'still connected' });
    assert.ok(sent.seq > 0);
  });

  test('dm:leave_conversation stops typing in that conversation; messages still arrive', async () => {
    await astro2.must('dm:leave_conversation', { conversationId });
    const refused = await astro2.request('dm:typing_start', { conversationId });
    assert.equal(refused.success, false);
    assert.equal(refused.error.code, 'not_found');
    // Messages go to every device of every member, joined or not.
    const sent = await admin.must('dm:send_message', { conversationId, content: 'to all your devices' });
    await astro2.waitFor('dm:message_received', (m) => m.id === sent.id);
    await astro2.must('dm:join_conversation', { conversationId });
    await astro2.must('dm:typing_start', { conversationId });
  });
});
