// Tenancy over Socket.IO: a socket of tenant B can neither join, send to,
// sync, read, mark or type in tenant A's conversations, nor reach A's
// participants; A's ids are simply not found. Nothing of A reaches B.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { call, ok } from './lib/rest.mjs';
import { assertError, closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let a;
let b;
let conversationA; // user <-> astrologer in tenant A
let adminConversationA; // admin <-> astrologer in tenant A
let first; // a message in conversationA

before(async () => {
  [a, b] = await Promise.all([createWorld('tenant-a'), createWorld('tenant-b')]);
  conversationA = await a.tenant.open(a.user, a.astro);
  adminConversationA = (await ok('GET', `/api/admin/conversations/${a.astro.id}`, { token: a.admin.token })).conversation.id;
  first = await a.tenant.send(a.user, conversationA, 'private to tenant A');
});
after(closeAll);

describe('tenancy', () => {
  test('B\'s sockets get not_found for everything in A\'s conversations', async () => {
    for (const who of ['admin', 'astro', 'user']) {
      const socket = await connect(b[who].token, { label: `B/${who}` });
      for (const id of [conversationA, adminConversationA]) {
        const attempts = [
          ['dm:join_conversation', { conversationId: id }],
          ['dm:send_message', { conversationId: id, content: 'from tenant B' }],
          ['send-message', { conversation: id, text: 'from tenant B' }],
          ['message', { conversationId: id, content: 'from tenant B' }],
          ['sync', { conversationId: id, afterSeq: 0 }],
          ['dm:mark_read', { conversationId: id, seq: 1 }],
          ['dm:mark_read', { conversationId: id, messageIds: [first.id] }],
          ['read_up_to', { conversationId: id, seq: 1 }],
          ['delivered', { conversationId: id, seq: 1 }],
          ['dm:typing_start', { conversationId: id }],
          ['typing-stopped', { conversationId: id }],
        ];
        for (const [event, payload] of attempts) {
          const answer = await socket.request(event, payload);
          assert.doesNotThrow(() => assertError(answer, 'not_found'), `${who} ${event}: ${JSON.stringify(answer)}`);
        }
      }
      socket.close();
    }
    // Nothing changed in A.
    const history = await ok('GET', `/api/conversations/${conversationA}/messages?after=0`, { token: a.user.token });
    assert.deepEqual(history.items.map((m) => m.id), [first.id]);
    const seen = await ok('GET', `/api/conversations/${conversationA}`, { token: a.astro.token });
    assert.equal(seen.unreadCount, 1, 'B could not mark A\'s messages read');
  });

  test('A\'s participants cannot be reached or looked up from B', async () => {
    const admin = await connect(b.admin.token, { label: 'B/admin' });
    const user = await connect(b.user.token, { label: 'B/user' });
    assertError(await admin.request('dm:send_message', { to: a.astro.id, content: 'hello A' }), 'not_found');
    assertError(await user.request('send-message', { recipientId: a.astro.id, text: 'hello A' }), 'not_found');
    assert.deepEqual(await admin.must('presence', { ids: [a.astro.id, a.user.id, a.admin.id] }), []);
    const rest = await call('GET', `/api/admin/conversations/${a.astro.id}`, { token: b.admin.token });
    assert.equal(rest.status, 404);
    assertError(rest.body, 'not_found');
  });

  test('nothing that happens in A reaches B\'s sockets', async () => {
    const bSockets = await Promise.all(
      ['admin', 'astro', 'user', 'stranger'].map((who) => connect(b[who].token, { label: `B/${who}` })),
    );
    const aUser = await connect(a.user.token, { label: 'A/user' });
    const aAstro = await connect(a.astro.token, { label: 'A/astro' });
    const sent = await aUser.must('dm:send_message', { conversationId: conversationA, content: 'still private' });
    await aAstro.must('dm:typing_start', { conversationId: conversationA });
    await aAstro.must('read_up_to', { conversationId: conversationA, seq: sent.seq });
    await ok('PATCH', '/api/users/me', { token: a.astro.token, body: { status: 'Busy in A' } });
    await aUser.waitFor('user_profile_updated', (p) => p.id === a.astro.id);
    // B's own traffic, after all of A's: once B has it, A's would have come first.
    const bConversation = await b.tenant.open(b.user, b.astro);
    const marker = await b.tenant.send(b.user, bConversation, 'B marker');
    for (const socket of bSockets.slice(1, 3)) {
      await socket.waitFor('dm:message_received', (m) => m.id === marker.id);
    }
    await Promise.all(bSockets.map((s) => s.barrier()));
    for (const socket of bSockets) {
      const leaked = socket.events.filter((e) => JSON.stringify(e.data ?? null).includes(conversationA) || JSON.stringify(e.data ?? null).includes(a.astro.id));
      assert.deepEqual(leaked.map((e) => e.event), [], `${socket.label} heard about tenant A`);
    }
  });
});
