// User <-> astrologer over Socket.IO under the relationship rules: no
// consultation, no conversation; a consultation or an accepted chat request
// opens it; a block stops it, both ways.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ok } from './lib/rest.mjs';
import { assertError, closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let world;
let astro;

before(async () => {
  world = await createWorld('rules');
  astro = await connect(world.astro.token, { label: 'astro' });
});
after(closeAll);

describe('relationship rules on the socket', () => {
  test('a user without a consultation cannot write; after POST /api/consultations they can', async () => {
    const newcomer = await world.tenant.participant('user', 'Nina');
    const socket = await connect(newcomer.token, { label: 'nina' });

    for (const event of ['dm:send_message', 'send-message', 'message']) {
      const refused = await socket.request(event, { to: world.astro.id, content: 'may I ask?' });
      assertError(refused, 'no_relationship');
    }
    // Nothing reached the astrologer.
    await astro.barrier();
    assert.deepEqual(astro.heard('dm:message_received', (m) => m.senderId === newcomer.id), []);

    await world.tenant.consult(newcomer, world.astro);
    const sent = await socket.must('dm:send_message', { to: world.astro.id, content: 'thank you for the reading' });
    assert.equal(sent.senderId, newcomer.id);
    const heard = await astro.waitFor('dm:message_received', (m) => m.id === sent.id);
    assert.equal(heard.senderType, 'user');
    // The conversation it opened was announced to both.
    const created = await astro.waitFor('conversation_created', (c) => c.id === sent.conversationId);
    assert.equal(created.type, 'user_astrologer');
    assert.deepEqual([...created.members].sort(), [newcomer.id, world.astro.id].sort());
    // The astrologer may answer into it by id.
    const reply = await astro.must('dm:send_message', { conversationId: sent.conversationId, content: 'you are welcome' });
    await socket.waitFor('dm:message_received', (m) => m.id === reply.id);
  });

  test('an accepted chat request opens the conversation; both hear chat_request', async () => {
    const asker = await world.tenant.participant('user', 'Ravi');
    const socket = await connect(asker.token, { label: 'ravi' });

    const request = await ok('POST', '/api/chat-requests', {
      token: asker.token,
      body: { to: world.astro.id, note: 'About my chart' },
    });
    for (const client of [socket, astro]) {
      const heard = await client.waitFor('chat_request', (r) => r.id === request.id && r.status === 'pending');
      assert.equal(heard.fromId, asker.id);
      assert.equal(heard.toId, world.astro.id);
      assert.equal(heard.note, 'About my chart');
    }
    assertError(await socket.request('send-message', { to: world.astro.id, text: 'hello?' }), 'no_relationship');

    await ok('POST', `/api/chat-requests/${request.id}/accept`, { token: world.astro.token });
    for (const client of [socket, astro]) {
      await client.waitFor('chat_request', (r) => r.id === request.id && r.status === 'accepted');
    }
    const sent = await socket.must('send-message', { recipientId: world.astro.id, text: 'thank you for accepting' });
    await astro.waitFor('dm:message_received', (m) => m.id === sent.id);
  });

  test('a user cannot open a conversation with another user or an unserved astrologer', async () => {
    const user = await connect(world.user.token, { label: 'uma' });
    assertError(await user.request('dm:send_message', { to: world.stranger.id, content: 'hi' }), 'not_allowed');
    const other = await world.tenant.participant('astrologer', 'Om');
    assertError(await user.request('dm:send_message', { to: other.id, content: 'hi' }), 'no_relationship');
    // An astrologer cannot start with a user they do not serve either.
    const om = await connect(other.token, { label: 'om' });
    assertError(await om.request('dm:send_message', { to: world.user.id, content: 'hi' }), 'no_relationship');
    // Nobody may message themselves.
    assertError(await user.request('dm:send_message', { to: world.user.id, content: 'me' }), 'validation_failed');
  });

  test('a block stops messages both ways until it is lifted', async () => {
    const user = await connect(world.user.token, { label: 'uma' });
    const conversationId = await world.tenant.open(world.user, world.astro);
    const before = await user.must('dm:send_message', { conversationId, content: 'before the block' });
    await astro.waitFor('dm:message_received', (m) => m.id === before.id);

    await ok('POST', '/api/blocks', { token: world.astro.token, body: { participantId: world.user.id } });
    assertError(await user.request('dm:send_message', { conversationId, content: 'blocked?' }), 'blocked');
    assertError(await user.request('message', { to: world.astro.id, content: 'blocked?' }), 'blocked');
    assertError(await astro.request('dm:send_message', { conversationId, content: 'and me?' }), 'blocked');
    // Without an ack the refusal is a dm:error.
    user.socket.emit('send-message', { conversationId, content: 'blocked, no ack' });
    const error = await user.waitFor('dm:error', (e) => e.event === 'send-message');
    assert.equal(error.code, 'blocked');
    await astro.barrier();
    assert.deepEqual(astro.heard('dm:message_received', (m) => m.conversationId === conversationId && m.seq > before.seq), []);

    await ok('DELETE', `/api/blocks/${world.user.id}`, { token: world.astro.token });
    const afterwards = await user.must('dm:send_message', { conversationId, content: 'after the block' });
    assert.equal(afterwards.seq, before.seq + 1, 'the refused sends took no seq');
    await astro.waitFor('dm:message_received', (m) => m.id === afterwards.id);
  });

  test('a participant the admin blocked can no longer be written to, nor write', async () => {
    const other = await world.tenant.participant('astrologer', 'Veda');
    await world.tenant.consult(world.user, other);
    const conversationId = await world.tenant.open(world.user, other);
    const vedaSocket = await connect(other.token, { label: 'veda' });
    const user = await connect(world.user.token, { label: 'uma' });
    await user.must('dm:send_message', { conversationId, content: 'before' });

    await ok('POST', `/api/participants/${other.id}/block`, { token: world.admin.token });
    await vedaSocket.disconnected();
    // A new direct conversation with a blocked participant is refused.
    const fresh = await world.tenant.participant('user', 'Dev');
    await world.tenant.consult(fresh, other);
    const devSocket = await connect(fresh.token, { label: 'dev' });
    assertError(await devSocket.request('dm:send_message', { to: other.id, content: 'hello?' }), 'unavailable');
  });
});
