// The off-platform contact guard through Socket.IO: a user's message with
// a phone number is refused in the ack (the envelope, code
// contact_details) and reaches nobody; with `mask` it arrives masked, in
// every dialect's event.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ok } from './lib/rest.mjs';
import { assertError, closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let world;
let conversationId;
let user;
let astro;

async function guard(mode) {
  await ok('PATCH', '/api/settings', {
    token: world.admin.token,
    body: { contactGuard: { mode } },
  });
}

before(async () => {
  world = await createWorld('guard');
  conversationId = await world.tenant.open(world.user, world.astro);
  user = await connect(world.user.token, { label: 'user' });
  astro = await connect(world.astro.token, { label: 'astro' });
});
after(closeAll);

describe('contact guard', () => {
  test('block: the ack refuses it and the astrologer hears nothing', async () => {
    await guard('block');
    const answer = await user.request('dm:send_message', {
      conversationId,
      content: 'call me on +91 98765 43210',
    });
    assertError(answer, 'contact_details');
    const fine = await user.must('dm:send_message', { conversationId, content: 'born 12-05-1990 06:10' });
    const heard = await astro.waitFor('dm:message_received', (m) => m.id === fine.id);
    assert.equal(heard.content, 'born 12-05-1990 06:10');
    const page = await ok('GET', `/api/conversations/${conversationId}/messages?after=0`, { token: world.astro.token });
    assert.deepEqual(page.items.map((m) => m.content), ['born 12-05-1990 06:10']);
  });

  test('mask: it arrives with the number hidden', async () => {
    await guard('mask');
    const sent = await user.must('dm:send_message', { conversationId, content: 'whatsapp 9876543210' });
    assert.equal(sent.content, '••• •••');
    const heard = await astro.waitFor('dm:message_received', (m) => m.id === sent.id);
    assert.equal(heard.content, '••• •••');
  });
});
