// Authentication at connect: the access token as `auth.token` or `?token=`;
// refusals come as connect_error `<code>: <text>`; ending a session
// disconnects its sockets (and only its sockets).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { call, forge, ok, superadminToken } from './lib/rest.mjs';
import { assertError, closeAll, connect, refused } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let world;

before(async () => {
  world = await createWorld('auth');
});
after(closeAll);

/** The code before the colon of a connect_error message. */
const code = (message) => message.split(':')[0];

describe('connecting', () => {
  for (const transports of [['polling'], ['websocket']]) {
    test(`auth.token and ?token= both connect (${transports[0]})`, async () => {
      const viaAuth = await connect(world.user.token, { transports, label: 'auth.token' });
      const viaQuery = await connect(world.user.token, { transports, useQuery: true, label: '?token=' });
      const viaBearer = await connect(`Bearer ${world.user.token}`, { transports, label: 'Bearer' });
      for (const client of [viaAuth, viaQuery, viaBearer]) {
        assert.ok(client.connected);
        // The socket is the user's: it may ask about what the user may see.
        const seen = await client.must('presence', { ids: [world.astro.id] });
        assert.deepEqual(seen.map((p) => p.userId), [world.astro.id]);
        client.close();
      }
    });
  }

  test('no token is refused as unauthorized', async () => {
    assert.equal(code(await refused(undefined, { label: 'anonymous' })), 'unauthorized');
    assert.equal(code(await refused('   ', { label: 'blank' })), 'unauthorized');
  });

  test('garbage and wrongly signed tokens are refused as invalid_token', async () => {
    for (const token of ['garbage', 'a.b.c', `${world.user.token}x`]) {
      const message = await refused(token, { label: token.slice(0, 10) });
      assert.equal(code(message), 'invalid_token', message);
    }
    const wrongKey = world.user.token.split('.').slice(0, 2).join('.') + '.c2lnbmF0dXJl';
    assert.equal(code(await refused(wrongKey, { label: 'wrong signature' })), 'invalid_token');
    const viaQuery = await refused('garbage', { useQuery: true, transports: ['websocket'], label: '?token=garbage' });
    assert.equal(code(viaQuery), 'invalid_token', viaQuery);
  });

  test('an expired token is refused as token_expired', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = forge(world.user.token, { iat: past - 900, exp: past });
    const message = await refused(expired, { label: 'expired' });
    assert.equal(code(message), 'token_expired', message);
    // The same claims, still valid, connect: only the expiry was wrong.
    const fresh = forge(world.user.token, { exp: Math.floor(Date.now() / 1000) + 600 });
    (await connect(fresh, { label: 'forged but valid' })).close();
  });

  test('an API key and the platform superadmin cannot open a socket', async () => {
    const created = await ok('POST', '/api/api-keys', {
      token: world.admin.token,
      body: { name: 'e2e', scopes: ['read', 'write', 'admin'] },
    });
    // The key works over REST...
    await ok('GET', '/api/participants?limit=1', { apiKey: created.key });
    // ...but not for a socket, in either place a token may be given.
    for (const useQuery of [false, true]) {
      const message = await refused(created.key, { useQuery, label: 'api key' });
      assert.match(message, /^(unauthorized|invalid_token): /, message);
    }
    const root = await refused(await superadminToken(), { label: 'superadmin' });
    assert.equal(code(root), 'forbidden', root);
  });

  test('an unknown dialect is refused as validation_failed', async () => {
    const message = await refused(world.user.token, { dialect: 'klingon', label: 'klingon' });
    assert.equal(code(message), 'validation_failed', message);
  });
});

describe('ending sessions', () => {
  test('logout disconnects the sockets of that session only', async () => {
    const phone = await world.user.login('phone');
    const laptop = await world.user.login('laptop');
    const onPhone = await connect(phone.token, { label: 'phone' });
    const onPhone2 = await connect(phone.token, { transports: ['polling'], label: 'phone/polling' });
    const onLaptop = await connect(laptop.token, { label: 'laptop' });

    await ok('POST', '/api/auth/logout', { token: phone.token });
    assert.equal(await onPhone.disconnected(), 'io server disconnect');
    assert.equal(await onPhone2.disconnected(), 'io server disconnect');
    // The laptop's session is untouched.
    await onLaptop.barrier();
    assert.ok(onLaptop.connected);
    // And the logged-out token cannot come back.
    const message = await refused(phone.token, { label: 'phone again' });
    assert.equal(code(message), 'session_revoked', message);
    onLaptop.close();
  });

  test('DELETE /api/auth/sessions/{id} from another device disconnects that device', async () => {
    const tablet = await world.astro.login('tablet');
    const desktop = await world.astro.login('desktop');
    assert.notEqual(tablet.sessionId, desktop.sessionId);
    const onTablet = await connect(tablet.token, { transports: ['websocket'], label: 'tablet' });
    const onDesktop = await connect(desktop.token, { label: 'desktop' });

    const sessions = await ok('GET', '/api/auth/sessions', { token: desktop.token });
    assert.ok(sessions.some((s) => s.id === tablet.sessionId), 'the tablet is listed');
    await ok('DELETE', `/api/auth/sessions/${tablet.sessionId}`, { token: desktop.token });

    assert.equal(await onTablet.disconnected(), 'io server disconnect');
    await onDesktop.barrier();
    assert.ok(onDesktop.connected);
    // The desktop socket still works end to end.
    const conversationId = await world.tenant.open(world.astro, world.user);
    const sent = await onDesktop.must('dm:send_message', { conversationId, content: 'still here' });
    assert.equal(sent.seq > 0, true);
    onDesktop.close();
  });

  test('blocking a participant disconnects all their sockets and refuses new ones', async () => {
    const victim = await world.tenant.participant('user', 'Bina');
    const one = await connect(victim.token, { label: 'bina/1' });
    const two = await connect(victim.token, { transports: ['polling'], label: 'bina/2' });
    await ok('POST', `/api/participants/${victim.id}/block`, { token: world.admin.token });
    assert.equal(await one.disconnected(), 'io server disconnect');
    assert.equal(await two.disconnected(), 'io server disconnect');
    const message = await refused(victim.token, { label: 'bina/again' });
    assert.equal(code(message), 'session_revoked', message);
    // REST agrees.
    const me = await call('GET', '/api/auth/me', { token: victim.token });
    assertError(me.body);
    assert.equal(me.status, 401);
  });
});
