// The inbox over Socket.IO: a connected astrologer hears `notification`
// and `notification_count` when a user asks to chat; reading it on REST
// brings the count down on the socket too.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ok } from './lib/rest.mjs';
import { closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let world;
let astro;

before(async () => {
  world = await createWorld('inbox');
  astro = await connect(world.astro.token, { label: 'astro' });
});
after(closeAll);

describe('notifications on the socket', () => {
  test('a chat request reaches the connected astrologer as a notification, and reading it clears the count', async () => {
    const asker = await world.tenant.participant('user', 'Meera');
    // The world's own set-up (its consultation) may already be in the inbox.
    const before = (await ok('GET', '/api/notifications/unread-count', { token: world.astro.token })).count;
    const request = await ok('POST', '/api/chat-requests', {
      token: asker.token,
      body: { to: world.astro.id, note: 'about my marriage' },
    });

    const heard = await astro.waitFor('notification', (n) => n.subjectId === request.id);
    assert.equal(heard.type, 'chat_request');
    assert.equal(heard.title, 'Meera');
    assert.equal(heard.body, 'about my marriage');
    assert.equal(heard.isRead, false);
    await astro.waitFor('notification_count', (c) => c.count === before + 1);

    const read = await ok('PUT', `/api/notifications/${heard.id}/read`, { token: world.astro.token });
    assert.equal(read.isRead, true);
    await astro.waitFor('notification_count', (c) => c.count === before);
    const count = await ok('GET', '/notifications/unread-count', { token: world.astro.token });
    assert.equal(count.count, before);
  });
});
