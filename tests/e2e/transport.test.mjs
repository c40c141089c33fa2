// Transports: long-polling only, polling upgraded to websocket, and
// websocket only each connect and carry messages both ways.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { closeAll, connect, withTimeout } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let world;
let conversationId;

before(async () => {
  world = await createWorld('transport');
  conversationId = await world.tenant.open(world.user, world.astro);
});
after(closeAll);

/** `from` sends over its socket and `to` hears it; returns the message. */
async function exchange(from, to, content) {
  const sent = await from.must('dm:send_message', { conversationId, content });
  assert.equal(sent.content, content);
  const heard = await to.waitFor('dm:message_received', (m) => m.id === sent.id);
  assert.equal(heard.content, content);
  assert.equal(heard.seq, sent.seq);
  return sent;
}

describe('transports', () => {
  test('long-polling only connects and exchanges messages', async () => {
    const user = await connect(world.user.token, { transports: ['polling'], label: 'user/polling' });
    const astro = await connect(world.astro.token, { transports: ['polling'], label: 'astro/polling' });
    assert.equal(user.transport, 'polling');
    await exchange(user, astro, 'over polling');
    await exchange(astro, user, 'back over polling');
    assert.equal(user.transport, 'polling', 'never upgraded');
    user.close();
    astro.close();
  });

  test('polling upgrades to websocket and keeps exchanging messages', async () => {
    const user = await connect(world.user.token, { transports: ['polling', 'websocket'], label: 'user/upgrade' });
    const astro = await connect(world.astro.token, { label: 'astro/default' });
    const engine = user.socket.io.engine;
    if (engine.transport.name !== 'websocket') {
      await withTimeout(new Promise((resolve) => engine.once('upgrade', resolve)), 'the websocket upgrade');
    }
    assert.equal(user.transport, 'websocket');
    await exchange(user, astro, 'after the upgrade');
    await exchange(astro, user, 'back after the upgrade');
    user.close();
    astro.close();
  });

  test('websocket only connects and exchanges messages', async () => {
    const user = await connect(world.user.token, { transports: ['websocket'], label: 'user/ws' });
    const astro = await connect(world.astro.token, { transports: ['websocket'], label: 'astro/ws' });
    assert.equal(user.transport, 'websocket');
    await exchange(user, astro, 'over websocket');
    await exchange(astro, user, 'back over websocket');
    user.close();
    astro.close();
  });

  test('a polling socket and a websocket socket talk to each other', async () => {
    const user = await connect(world.user.token, { transports: ['polling'], label: 'user/polling' });
    const astro = await connect(world.astro.token, { transports: ['websocket'], label: 'astro/ws' });
    await exchange(user, astro, 'polling to websocket');
    await exchange(astro, user, 'websocket to polling');
    user.close();
    astro.close();
  });
});
