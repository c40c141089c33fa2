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
let kavya;

before(async () => {
  world = await createWorld('inbox');
  // An astrologer of her own: no consultation, so her inbox starts empty.
  kavya = await world.tenant.participant('astrologer', 'Kavya');
  astro = await connect(kavya.token, { label: 'kavya' });
});
after(closeAll);

describe('notifications on the socket', () => {
  test('a chat request reaches the connected astrologer as a notification, and reading it clears the count', async () => {
    const asker = await world.tenant.participant('user', 'Meera');
    const request = await ok('POST', '/api/chat-requests', {
      token: asker.token,
      body: { to: kavya.id, note: 'about my marriage' },
    });

    const heard = await astro.waitFor('notification', (n) => n.subjectId === request.id);
    assert.equal(heard.type, 'chat_request');
    assert.equal(heard.title, 'Meera');
    assert.equal(heard.body, 'about my marriage');
    assert.equal(heard.isRead, false);
    await astro.waitFor('notification_count', (c) => c.count === 1);

    const read = await ok('PUT', `/api/notifications/${heard.id}/read`, { token: kavya.token });
    assert.equal(read.isRead, true);
    await astro.waitFor('notification_count', (c) => c.count === 0);
    const count = await ok('GET', '/notifications/unread-count', { token: kavya.token });
    assert.equal(count.count, 0);
  });
});
