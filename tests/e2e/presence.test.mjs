// Multi-device presence: online from the first socket, online while any
// device is connected, offline once the last one has been gone for the
// grace period; told only to those who share a conversation; GET
// /api/presence and the socket's `presence` agree, and last seen is kept.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { PRESENCE_GRACE_MS, ok } from './lib/rest.mjs';
import { closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

let world;
let watcher; // the user, who shares a conversation with the astrologer
let stranger; // a user who shares none
let admin; // an admin, who shares none either

/** Presence of the astrologer as the user sees it over REST. */
async function restPresence() {
  const [found] = await ok('GET', `/api/presence?ids=${world.astro.id}`, { token: world.user.token });
  assert.equal(found.userId, world.astro.id);
  return found;
}

/** The astrologer's presence events the user's socket heard. */
const heard = (online) => watcher.heard('presence', (p) => p.userId === world.astro.id && p.online === online);

/**
 * Waits long enough for the grace period to have run out. A pause is right
 * here: it shows that nothing happens (no offline) within that time.
 */
const outlastGrace = () => new Promise((resolve) => setTimeout(resolve, PRESENCE_GRACE_MS * 2 + 200));

before(async () => {
  world = await createWorld('presence');
  const conversationId = await world.tenant.open(world.user, world.astro);
  await world.tenant.send(world.user, conversationId, 'hello');
  watcher = await connect(world.user.token, { label: 'user' });
  stranger = await connect(world.stranger.token, { label: 'stranger' });
  admin = await connect(world.admin.token, { label: 'admin' });
});
after(closeAll);

describe('presence', () => {
  test('two devices: online at the first, still online when one leaves, offline after the last + grace', async () => {
    const never = await restPresence();
    assert.equal(never.online, false);
    assert.equal(never.status, 'offline');
    assert.equal(never.lastSeen, null, 'never connected');

    const phone = await connect(world.astro.token, { label: 'astro/phone' });
    const online = await watcher.waitFor('presence', (p) => p.userId === world.astro.id && p.online);
    assert.equal(online.status, 'online');
    assert.equal(online.participantId, world.astro.id);
    assert.ok(online.lastSeen, 'last seen is stamped when coming online');
    const alias = await watcher.waitFor('user-status-changed', (p) => p.userId === world.astro.id && p.online);
    assert.deepEqual(alias, online);
    const rest = await restPresence();
    assert.equal(rest.online, true);
    // While online, last seen is "now".
    assert.ok(Date.parse(rest.lastSeen) >= Date.parse(online.lastSeen), JSON.stringify(rest));

    const laptop = await connect((await world.astro.login('laptop')).token, {
      transports: ['polling'],
      label: 'astro/laptop',
    });
    phone.close();
    await outlastGrace();
    assert.equal((await restPresence()).online, true, 'the laptop is still connected');
    assert.deepEqual(heard(false), [], 'no offline while a device is connected');

    const leftAt = Date.now();
    laptop.close();
    const offline = await watcher.waitFor('presence', (p) => p.userId === world.astro.id && !p.online);
    assert.ok(Date.now() - leftAt >= PRESENCE_GRACE_MS - 50, 'not before the grace period ran out');
    assert.equal(offline.status, 'offline');
    assert.ok(Date.parse(offline.lastSeen) >= Date.parse(online.lastSeen), 'last seen moved on');
    await watcher.waitFor('user-status-changed', (p) => p.userId === world.astro.id && !p.online);

    const after = await restPresence();
    assert.equal(after.online, false);
    assert.equal(after.status, 'offline');
    assert.equal(Date.parse(after.lastSeen), Date.parse(offline.lastSeen));
    // The socket's `presence` says the same.
    const [viaSocket] = await watcher.must('presence', { userIds: [world.astro.id] });
    assert.equal(viaSocket.online, false);
    assert.equal(Date.parse(viaSocket.lastSeen), Date.parse(offline.lastSeen));

    assert.equal(heard(true).length, 1, 'one online, however many devices');
    assert.equal(heard(false).length, 1, 'one offline');
  });

  test('only participants who share a conversation are told', async () => {
    // Everything above has been told by now; the others' sockets have had
    // every event queued for them once a round trip completes.
    await Promise.all([stranger.barrier(), admin.barrier()]);
    for (const client of [stranger, admin]) {
      assert.deepEqual(client.heard('presence', (p) => p.userId === world.astro.id), [], client.label);
      assert.deepEqual(client.heard('user-status-changed', (p) => p.userId === world.astro.id), [], client.label);
    }
    // The astrologer hears about the user (they share a conversation) but
    // not about the stranger.
    const astro = await connect(world.astro.token, { label: 'astro' });
    const user2 = await connect((await world.user.login('tablet')).token, { label: 'user/tablet' });
    watcher.close();
    user2.close();
    await astro.waitFor('presence', (p) => p.userId === world.user.id && !p.online);
    stranger.close();
    await outlastGrace();
    await astro.barrier();
    assert.deepEqual(astro.heard('presence', (p) => p.userId === world.stranger.id), []);
  });

  test('a reconnect within the grace period is not an offline-online flap', async () => {
    const om = await world.tenant.participant('astrologer', 'Om');
    await world.tenant.consult(world.user, om);
    await world.tenant.open(world.user, om);
    const watcher2 = await connect(world.user.token, { label: 'user/again' });
    const isOm = (online) => (p) => p.userId === om.id && p.online === online;

    const first = await connect(om.token, { label: 'om/first' });
    await watcher2.waitFor('presence', isOm(true));
    first.close();
    const second = await connect(om.token, { transports: ['polling'], label: 'om/second' });
    await outlastGrace();
    const [seen] = await ok('GET', `/api/presence?ids=${om.id}`, { token: world.user.token });
    assert.equal(seen.online, true);
    await watcher2.barrier();
    assert.deepEqual(watcher2.heard('presence', isOm(false)), [], 'no offline for a quick reconnect');
    assert.equal(watcher2.heard('presence', isOm(true)).length, 1, 'and no second online');

    second.close();
    await watcher2.waitFor('presence', isOm(false));
  });
});
