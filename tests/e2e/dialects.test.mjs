// Both dialects of the old backends next to seed 004's: the Backend
// (Electron) and Backend1 (Flutter) event names, as clients send them and as
// they hear them. A socket picks what it hears with `dialect` (auth.dialect
// or ?dialect=): `dm`, `backend`, `backend1`, or `all` (the default). Events
// with one name go to every dialect.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ok } from './lib/rest.mjs';
import { closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

const DIALECTS = ['dm', 'backend', 'backend1', 'all'];

/** The names each dialect hears for a message, a read and typing. */
const NAMES = {
  dm: { message: ['dm:message_received'], read: ['dm:messages_read'], typing: ['dm:typing_start'], stopped: ['dm:typing_stop'] },
  backend: { message: ['receive-message'], read: ['read_up_to'], typing: ['typing'], stopped: ['typing-stopped'] },
  backend1: { message: ['message'], read: ['read_up_to'], typing: ['typing'], stopped: ['typing-stopped'] },
  all: {
    message: ['dm:message_received', 'receive-message', 'message'],
    read: ['dm:messages_read', 'read_up_to'],
    typing: ['dm:typing_start', 'typing'],
    stopped: ['dm:typing_stop', 'typing-stopped'],
  },
};
const EVERY = {
  message: ['dm:message_received', 'receive-message', 'message'],
  read: ['dm:messages_read', 'read_up_to'],
  typing: ['dm:typing_start', 'typing'],
  stopped: ['dm:typing_stop', 'typing-stopped'],
};

let world;
let conversationId;
/** `{dm, backend, backend1, all}` sockets of the user and of the astrologer. */
const user = {};
const astro = {};

before(async () => {
  world = await createWorld('dialects');
  conversationId = await world.tenant.open(world.user, world.astro);
  for (const dialect of DIALECTS) {
    // The user's `backend1` socket asks in the query string (?token=&dialect=),
    // the others in `auth`.
    const useQuery = dialect === 'backend1';
    user[dialect] = await connect(world.user.token, {
      dialect: dialect === 'all' ? undefined : dialect,
      useQuery,
      label: `user/${dialect}`,
    });
    astro[dialect] = await connect(world.astro.token, {
      dialect: dialect === 'all' ? undefined : dialect,
      label: `astro/${dialect}`,
    });
  }
});
after(closeAll);

/** All sockets of both sides. */
const everyone = () => [...Object.values(user), ...Object.values(astro)];

/**
 * A later message every socket hears: since events leave in order, each
 * socket has heard all earlier events once it hears this one.
 */
async function settle() {
  const marker = await ok('POST', `/api/conversations/${conversationId}/messages`, {
    token: world.astro.token,
    body: { content: 'marker' },
  });
  await Promise.all(
    DIALECTS.flatMap((d) => [user[d], astro[d]].map((c) => c.waitFor(NAMES[d].message[0], (m) => m.id === marker.id))),
  );
}

/** Asserts each of `sides` heard exactly its dialect's names of `kind`. */
function assertNames(sides, kind, match) {
  for (const side of sides) {
    for (const dialect of DIALECTS) {
      const client = side[dialect];
      for (const name of EVERY[kind]) {
        const count = client.heard(name, match).length;
        const expected = NAMES[dialect][kind].includes(name) ? 1 : 0;
        assert.equal(count, expected, `${client.label} heard ${name} ${count} times, expected ${expected}`);
      }
    }
  }
}

describe('dialects', () => {
  test('every dialect hears catchupDelivered on connect', () => {
    for (const client of everyone()) {
      assert.equal(client.heard('catchupDelivered').length, 1, client.label);
      assert.ok(Array.isArray(client.heard('catchupDelivered')[0].conversations));
    }
  });

  test('send-message (Backend) and message (Backend1) send; each dialect hears its own name', async () => {
    const viaBackend = await user.backend.must('send-message', { conversation: conversationId, text: 'from Electron' });
    assert.equal(viaBackend.content, 'from Electron');
    const viaBackend1 = await user.backend1.must('message', { conversationId, content: 'from Flutter', type: 'text' });
    assert.equal(viaBackend1.seq, viaBackend.seq + 1);
    await settle();
    for (const sent of [viaBackend, viaBackend1]) {
      assertNames([user, astro], 'message', (m) => m.id === sent.id);
      // The same payload under every name.
      const payloads = EVERY.message.map((name) => astro.all.heard(name, (m) => m.id === sent.id)[0]);
      assert.deepEqual(payloads[1], payloads[0]);
      assert.deepEqual(payloads[2], payloads[0]);
      // Both spellings the seeds read.
      const m = payloads[0];
      assert.equal(m.conversation, conversationId);
      assert.equal(m.conversationId, conversationId);
      assert.equal(m.sender, world.user.id);
      assert.equal(m.from, world.user.id);
      assert.equal(m.text, m.content);
      assert.equal(m.messageType, 'text');
    }
  });

  test('typing and typing-stopped reach the other side in each dialect, not the typist', async () => {
    await user.backend1.must('typing', { conversationId });
    await user.backend.must('typing-stopped', { conversationId });
    await Promise.all(everyone().map((c) => c.barrier()));
    const byUser = (t) => t.userId === world.user.id;
    assertNames([astro], 'typing', byUser);
    assertNames([astro], 'stopped', byUser);
    for (const client of Object.values(user)) {
      for (const name of [...EVERY.typing, ...EVERY.stopped]) {
        assert.deepEqual(client.heard(name), [], `${client.label} heard its own ${name}`);
      }
    }
    assert.equal(astro.backend.heard('typing', byUser)[0].isTyping, true);
    assert.equal(astro.backend.heard('typing-stopped', byUser)[0].isTyping, false);
  });

  test('delivered is one name for all; read_up_to and dm:messages_read are heard per dialect', async () => {
    const sent = await user.all.must('dm:send_message', { conversationId, content: 'receipts, please' });
    const delivered = await astro.backend1.must('delivered', { conversationId, seq: sent.seq });
    assert.equal(delivered.deliveredSeq, sent.seq);
    const read = await astro.backend.must('read_up_to', { conversationId, seq: sent.seq });
    assert.equal(read.readSeq, sent.seq);
    await settle();
    const byAstro = (r) => r.userId === world.astro.id && r.seq === sent.seq;
    for (const client of Object.values(user)) {
      const heard = client.heard('delivered', (r) => byAstro(r) && r.deliveredSeq === sent.seq);
      assert.equal(heard.length, 1, `${client.label} hears delivered`);
      assert.equal(heard[0].conversationId, conversationId);
    }
    assertNames([user, astro], 'read', byAstro);
    assert.equal(user.dm.heard('dm:messages_read', byAstro)[0].readBy, world.astro.id);
  });

  test('message_edited and message_deleted reach every dialect', async () => {
    const sent = await user.dm.must('dm:send_message', { conversationId, content: 'typo hre' });
    await ok('PATCH', `/api/messages/${sent.id}`, { token: world.user.token, body: { content: 'typo here' } });
    await ok('DELETE', `/api/messages/${sent.id}?forEveryone=true`, { token: world.user.token });
    for (const client of everyone()) {
      const edited = await client.waitFor('message_edited', (m) => m.id === sent.id);
      assert.equal(edited.content, 'typo here');
      assert.ok(edited.editedAt, 'editedAt is set');
      const deleted = await client.waitFor('message_deleted', (m) => m.messageId === sent.id);
      assert.equal(deleted.forEveryone, true);
      assert.equal(deleted.conversationId, conversationId);
    }
  });

  test('presence and user-status-changed reach every dialect', async () => {
    const om = await world.tenant.participant('astrologer', 'Om');
    await world.tenant.consult(world.user, om);
    await world.tenant.open(world.user, om);
    const omSocket = await connect(om.token, { label: 'om' });
    for (const client of Object.values(user)) {
      for (const name of ['presence', 'user-status-changed']) {
        const heard = await client.waitFor(name, (p) => p.userId === om.id && p.online === true);
        assert.equal(heard.status, 'online');
      }
    }
    omSocket.close();
  });

  test('chat_request and user_profile_updated reach every dialect', async () => {
    const asker = await world.tenant.participant('user', 'Ravi');
    const request = await ok('POST', '/api/chat-requests', { token: asker.token, body: { astrologerId: world.astro.id } });
    for (const client of Object.values(astro)) {
      await client.waitFor('chat_request', (r) => r.id === request.id);
    }
    await ok('PATCH', '/api/users/me', { token: world.astro.token, body: { status: 'In a session' } });
    for (const client of everyone()) {
      const profile = await client.waitFor('user_profile_updated', (p) => p.id === world.astro.id);
      assert.equal(profile.status, 'In a session');
      assert.equal(profile.userId, world.astro.id);
      assert.equal(profile.type, 'astrologer');
    }
  });
});
