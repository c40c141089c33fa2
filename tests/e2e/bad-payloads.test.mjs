// Bad payloads: wrong types, missing fields, unknown or foreign ids, values
// JSON cannot carry, huge strings. Each gets an error ack (or dm:error when
// no ack is asked for) and the connection stays up: the next request on the
// same socket succeeds. A packet over the size limit closes that connection
// only; the server goes on.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { call, ok } from './lib/rest.mjs';
import { assertError, closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

const UNKNOWN = '01900000-0000-7000-8000-000000000000';

let world;
let conversationId; // the user's conversation with the astrologer
let foreign; // the admin's conversation with the astrologer: the user is no member

before(async () => {
  world = await createWorld('bad');
  conversationId = await world.tenant.open(world.user, world.astro);
  foreign = (await ok('GET', `/api/admin/conversations/${world.astro.id}`, { token: world.admin.token })).conversation.id;
});
after(closeAll);

const deep = JSON.parse(`${'{"a":'.repeat(300)}1${'}'.repeat(300)}`);

/** [label, event, args, expected code]. */
function cases() {
  const c = conversationId;
  return [
    ['a string instead of an object', 'dm:send_message', ['just a string'], 'validation_failed'],
    ['a number', 'dm:send_message', [42], 'validation_failed'],
    ['null', 'dm:send_message', [null], 'validation_failed'],
    ['an array', 'dm:send_message', [[1, 2]], 'validation_failed'],
    ['a boolean', 'dm:send_message', [true], 'validation_failed'],
    ['no payload at all', 'dm:send_message', [], 'validation_failed'],
    ['binary data', 'dm:send_message', [Buffer.from('hello')], 'validation_failed'],
    ['binary content', 'dm:send_message', [{ conversationId: c, content: Buffer.from('hi') }], 'validation_failed'],
    ['JSON nested 300 deep', 'dm:send_message', [deep], 'validation_failed'],
    ['no conversation', 'dm:send_message', [{ content: 'where to?' }], 'validation_failed'],
    ['a numeric conversationId', 'dm:send_message', [{ conversationId: 123, content: 'x' }], 'validation_failed'],
    ['a malformed conversationId', 'dm:send_message', [{ conversationId: 'not-a-uuid', content: 'x' }], 'validation_failed'],
    ['an unknown conversation', 'dm:send_message', [{ conversationId: UNKNOWN, content: 'x' }], 'not_found'],
    ['a conversation of others', 'dm:send_message', [{ conversationId: foreign, content: 'x' }], 'not_found'],
    ['NaN as content', 'dm:send_message', [{ conversationId: c, content: NaN }], 'validation_failed'],
    ['a function as content', 'dm:send_message', [{ conversationId: c, content: () => 1 }], 'validation_failed'],
    ['a number as content', 'dm:send_message', [{ conversationId: c, content: 42 }], 'validation_failed'],
    ['an object as content', 'dm:send_message', [{ conversationId: c, content: { text: 'x' } }], 'validation_failed'],
    ['blank content', 'dm:send_message', [{ conversationId: c, content: ' \n\t ' }], 'validation_failed'],
    ['a lone surrogate', 'dm:send_message', [{ conversationId: c, content: 'a\ud800b' }], 'validation_failed'],
    ['a NUL character', 'dm:send_message', [{ conversationId: c, content: 'a\u0000b' }], 'validation_failed'],
    ['a terminal escape', 'send-message', [{ conversationId: c, text: '\u001b[31mred' }], 'validation_failed'],
    ['4,001 characters', 'dm:send_message', [{ conversationId: c, content: 'x'.repeat(4001) }], 'validation_failed'],
    ['a 500 kB string', 'send-message', [{ conversationId: c, text: 'ॐ'.repeat(170_000) }], 'validation_failed'],
    ['an unknown type', 'message', [{ conversationId: c, content: 'x', type: 'klingon' }], 'validation_failed'],
    ['a system message', 'dm:send_message', [{ conversationId: c, content: 'x', type: 'system' }], 'validation_failed'],
    ['an image without mediaUrl', 'dm:send_message', [{ conversationId: c, type: 'image' }], 'validation_failed'],
    ['a javascript: mediaUrl', 'dm:send_message', [{ conversationId: c, type: 'image', mediaUrl: 'javascript:alert(1)' }], 'validation_failed'],
    ['a reply to an unknown message', 'dm:send_message', [{ conversationId: c, content: 'x', replyTo: UNKNOWN }], 'validation_failed'],
    ['a 5,000-character clientMsgId', 'dm:send_message', [{ conversationId: c, content: 'x', clientMsgId: 'c'.repeat(5000) }], 'validation_failed'],
    ['join: a string', 'dm:join_conversation', ['abc'], 'validation_failed'],
    ['join: not a member', 'dm:join_conversation', [{ conversationId: foreign }], 'not_found'],
    ['typing: a numeric id', 'dm:typing_start', [{ conversationId: 5 }], 'validation_failed'],
    ['typing: not a member', 'typing', [{ conversationId: foreign }], 'not_found'],
    ['read: a negative seq', 'read_up_to', [{ conversationId: c, seq: -1 }], 'validation_failed'],
    ['read: seq as a string', 'dm:mark_read', [{ conversationId: c, seq: '2' }], 'validation_failed'],
    ['read: a fractional seq', 'dm:mark_read', [{ conversationId: c, seq: 1.5 }], 'validation_failed'],
    ['read: a seq of 1e30', 'read_up_to', [{ conversationId: c, seq: 1e30 }], 'validation_failed'],
    ['read: neither seq nor messageIds', 'dm:mark_read', [{ conversationId: c }], 'validation_failed'],
    ['read: malformed messageIds', 'dm:mark_read', [{ conversationId: c, messageIds: ['nope'] }], 'validation_failed'],
    ['read: no messageIds', 'dm:mark_read', [{ conversationId: c, messageIds: [] }], 'validation_failed'],
    ['read: unknown messageIds', 'dm:mark_read', [{ conversationId: c, messageIds: [UNKNOWN] }], 'not_found'],
    ['read: not a member', 'read_up_to', [{ conversationId: foreign, seq: 1 }], 'not_found'],
    ['delivered: no seq', 'delivered', [{ conversationId: c }], 'validation_failed'],
    ['sync: afterSeq as a string', 'sync', [{ conversationId: c, afterSeq: 'x' }], 'validation_failed'],
    ['sync: an unknown conversation', 'sync', [{ conversationId: UNKNOWN, afterSeq: 0 }], 'not_found'],
    ['sync: not a member', 'sync', [{ conversationId: foreign, afterSeq: 0 }], 'not_found'],
    ['presence: ids as a string', 'presence', [{ ids: 'abc' }], 'validation_failed'],
    ['presence: a malformed id', 'presence', [{ ids: ['x'] }], 'validation_failed'],
    ['an unknown event', 'no-such-event', [{}], 'bad_request'],
  ];
}

for (const transports of [['websocket'], ['polling']]) {
  describe(`bad payloads over ${transports[0]}`, () => {
    let socket;
    before(async () => {
      socket = await connect(world.user.token, { transports, label: `user/${transports[0]}` });
    });

    test('each gets an error ack, and the next request succeeds', async () => {
      const stored = async () =>
        (await ok('GET', `/api/conversations/${conversationId}/messages?after=0`, { token: world.user.token })).items.length;
      const before = await stored();
      for (const [label, event, args, code] of cases()) {
        const answer = await socket.request(event, ...args);
        assert.doesNotThrow(() => assertError(answer, code), `${label}: ${JSON.stringify(answer)}`);
        assert.ok(socket.connected, `${label}: still connected`);
        const fine = await socket.request('presence', { ids: [world.astro.id] });
        assert.equal(fine.success, true, `${label}: the next request failed: ${JSON.stringify(fine)}`);
      }
      assert.equal(await stored(), before, 'nothing was stored');
    });

    test('without an ack, each comes back as dm:error naming the event', async () => {
      for (const [label, event, args, code] of cases()) {
        if (event === 'no-such-event') continue; // unknown events without an ack are ignored
        socket.socket.emit(event, ...args);
        const error = await socket.waitFor('dm:error', (e) => e.event === event);
        assert.equal(error.code, code, `${label}: ${JSON.stringify(error)}`);
        assertError(error, code);
      }
      socket.socket.emit('no-such-event', { hello: 'there' });
      const sent = await socket.must('dm:send_message', { conversationId, content: `still here over ${transports[0]}` });
      assert.equal(sent.content, `still here over ${transports[0]}`);
      await socket.barrier();
      assert.deepEqual(socket.heard('dm:error', (e) => e.event === 'no-such-event'), []);
    });

    test('a packet over the size limit closes that connection only; the server goes on', async () => {
      const bystander = await connect(world.astro.token, { transports, label: 'bystander' });
      const victim = await connect(world.user.token, { transports, label: 'oversize' });
      victim.socket.emit('dm:send_message', { conversationId, content: 'x'.repeat(1_200_000) });
      const reason = await victim.disconnected();
      assert.ok(['transport close', 'transport error', 'io server disconnect'].includes(reason), reason);
      await bystander.barrier();
      const again = await connect(world.user.token, { transports, label: 'after oversize' });
      const sent = await again.must('dm:send_message', { conversationId, content: 'after the oversize packet' });
      await bystander.waitFor('dm:message_received', (m) => m.id === sent.id);
      const health = await call('GET', '/health');
      assert.equal(health.status, 200);
      bystander.close();
      again.close();
    });
  });
}
