// One core, two front doors: a message sent over REST produces exactly the
// events a message sent over Socket.IO does (same names, same order, same
// payloads but for the message's own id, seq, text and time), on every
// device of both sides; the same goes for receipts.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ok } from './lib/rest.mjs';
import { closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let world;
let conversationId;
let listeners;
let phone; // the user's sending device

before(async () => {
  world = await createWorld('parity');
  conversationId = await world.tenant.open(world.user, world.astro);
  const laptop = await world.user.login('laptop');
  phone = await connect(world.user.token, { label: 'user/phone' });
  listeners = [
    phone,
    await connect(laptop.token, { transports: ['polling'], label: 'user/laptop' }),
    await connect(world.astro.token, { label: 'astro' }),
  ];
  // The astrologer came online last: let that news reach the user's devices
  // before anything is counted.
  await Promise.all(
    listeners.slice(0, 2).map((c) => c.waitFor('user-status-changed', (p) => p.userId === world.astro.id)),
  );
});
after(closeAll);

/** The inbox's events, which its worker sends on its own schedule. */
const INBOX = new Set(['notification', 'notification_count']);

/** Every listener has heard `event` about message `id`. */
const heardBy = (event, id) => Promise.all(listeners.map((c) => c.waitFor(event, (m) => m.id === id)));

/**
 * Performs `act` (which returns a message or a value that names what it
 * did), then a marker message; returns, per listener, the events heard
 * between the two, with the values in `vary` replaced by their names.
 */
async function eventsOf(act, first) {
  const starts = listeners.map((c) => c.events.length);
  const result = await act();
  const marker = await ok('POST', `/api/conversations/${conversationId}/messages`, {
    token: world.astro.token,
    body: { content: `marker after ${first}` },
  });
  await heardBy('message', marker.id); // the last of the marker's three names
  return {
    result,
    seen: listeners.map((client, i) => {
      const events = client.events.slice(starts[i]);
      const end = events.findIndex((e) => e.data?.id === marker.id);
      // The inbox's events come from its worker whenever it reads the log
      // (the world's own set-up included): not part of what a door sends.
      return events
        .slice(0, end)
        .filter((e) => !INBOX.has(e.event))
        .map((e) => ({ event: e.event, data: e.data }));
    }),
  };
}

/** Replaces the values that differ between two messages by placeholders. */
function normalize(value, message) {
  const vary = new Map([
    [message.id, '<id>'],
    [message.content, '<content>'],
    [message.createdAt, '<createdAt>'],
  ]);
  return JSON.parse(
    JSON.stringify(value, (key, v) => {
      if (['seq', 'deliveredSeq', 'readSeq', 'lastSeq'].includes(key) && typeof v === 'number') return '<seq>';
      return vary.has(v) ? vary.get(v) : v;
    }),
  );
}

describe('REST and Socket.IO produce the same events', () => {
  test('for a message, whichever door and spelling sent it', async () => {
    const ways = {
      'POST /api/conversations/{id}/messages': () =>
        ok('POST', `/api/conversations/${conversationId}/messages`, { token: world.user.token, body: { content: 'via REST' } }),
      'POST /api/messages (the seeds\' spelling)': () =>
        ok('POST', '/api/messages', { token: world.user.token, body: { conversation: conversationId, text: 'via seeds REST' } }),
      'socket dm:send_message': () => phone.must('dm:send_message', { conversationId, content: 'via dm:send_message' }),
      'socket send-message': () => phone.must('send-message', { conversation: conversationId, text: 'via send-message' }),
      'socket message': () => phone.must('message', { conversationId, content: 'via message' }),
    };
    const runs = {};
    for (const [way, act] of Object.entries(ways)) {
      runs[way] = await eventsOf(act, way);
    }
    const [reference, ...others] = Object.keys(runs);
    const expected = runs[reference];
    // Sanity: each device heard the message under all three names, and only that.
    for (const seen of expected.seen) {
      assert.deepEqual(
        seen.map((e) => e.event),
        ['dm:message_received', 'receive-message', 'message'],
      );
    }
    for (const way of others) {
      const run = runs[way];
      assert.deepEqual(
        normalize(run.result, run.result),
        normalize(expected.result, expected.result),
        `${way} answers what ${reference} answers`,
      );
      assert.deepEqual(
        run.seen.map((seen) => normalize(seen, run.result)),
        expected.seen.map((seen) => normalize(seen, expected.result)),
        `${way} produced other events than ${reference}`,
      );
    }
  });

  test('for read receipts, REST or socket', async () => {
    const one = await world.tenant.send(world.user, conversationId, 'read me over REST');
    await heardBy('message', one.id); // the last of its three names
    const viaRest = await eventsOf(
      () => ok('POST', `/api/conversations/${conversationId}/read`, { token: world.astro.token, body: { seq: one.seq } }),
      'REST read',
    );
    const astroSocket = listeners[2];
    const two = await world.tenant.send(world.user, conversationId, 'read me over the socket');
    await heardBy('message', two.id);
    const viaSocket = await eventsOf(
      () => astroSocket.must('read_up_to', { conversationId, seq: two.seq }),
      'socket read',
    );
    const names = (run) => run.seen.map((seen) => seen.map((e) => e.event));
    assert.deepEqual(names(viaSocket), names(viaRest));
    assert.ok(names(viaRest)[0].includes('read_up_to'), JSON.stringify(names(viaRest)));
    assert.deepEqual(
      viaSocket.seen.map((seen) => normalize(seen, {})),
      viaRest.seen.map((seen) => normalize(seen, {})),
    );
    assert.equal(viaRest.result.readSeq, one.seq);
    assert.equal(viaSocket.result.readSeq, two.seq);
  });
});
