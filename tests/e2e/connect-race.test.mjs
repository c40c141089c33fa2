// What a client sends the moment it connects is handled: socket.io-client
// buffers emits made before `connect` and flushes them right after the
// server's CONNECT packet, so the server must have its handlers and rooms in
// place before it sends that packet.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, closeAll, withTimeout } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let world;
let conversationId;

before(async () => {
  world = await createWorld('race');
  conversationId = await world.tenant.open(world.user, world.astro);
});
after(closeAll);

/** Emits `event` before connecting and resolves with its ack. */
async function firstThing(token, transports, event, payload) {
  const client = new Client(token, { transports, label: `early/${transports[0]}` });
  const answer = client.socket.timeout(5000).emitWithAck(event, payload);
  await client.connect();
  try {
    return { client, answer: await withTimeout(answer, `the ack of ${event} sent on connect`) };
  } catch (err) {
    client.close();
    throw err;
  }
}

describe('the first events of a new connection', () => {
  for (const transports of [['websocket'], ['polling']]) {
    test(`are answered, and the socket is already in its rooms (${transports[0]})`, async () => {
      for (let i = 0; i < 10; i++) {
        const typing = await firstThing(world.user.token, transports, 'dm:typing_start', { conversationId });
        assert.equal(typing.answer.success, true, JSON.stringify(typing.answer));
        typing.client.close();
        const sent = await firstThing(world.astro.token, transports, 'dm:send_message', {
          conversationId,
          content: `first thing #${i}`,
        });
        assert.equal(sent.answer.success, true, JSON.stringify(sent.answer));
        // The sender's own new socket hears its message.
        await sent.client.waitFor('dm:message_received', (m) => m.id === sent.answer.data.id);
        sent.client.close();
      }
    });
  }
});
