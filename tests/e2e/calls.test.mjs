// Calls over Socket.IO (seed 004's call:* events, Backend1's WebRTC
// signalling): accept with answered-elsewhere on the callee's other device,
// reject, end, busy, the ring timeout, disconnect cleanup, signalling relayed
// only between the parties, bad payloads, and another tenant's call.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { PRESENCE_GRACE_MS, ok } from './lib/rest.mjs';
import { assertError, closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

const APP_ID = '970CA35de60c44645bbae8a215061b33';
const CERTIFICATE = '5CFd2fd1755d40ecb72977518be15d3b';

let world;
let admin; // the admin's socket
let phone; // the astrologer's phone
let laptop; // the astrologer's laptop
let user; // the consulted user's socket
let stranger;

before(async () => {
  world = await createWorld('calls');
  await ok('PUT', '/api/settings/agora', {
    token: world.admin.token,
    body: { appId: APP_ID, appCertificate: CERTIFICATE },
  });
  await ok('PATCH', '/api/settings', {
    token: world.admin.token,
    body: { callsPerParticipant: { max: 1000, perSeconds: 3600 } },
  });
  const second = await world.astro.login('laptop');
  admin = await connect(world.admin.token, { label: 'admin' });
  phone = await connect(world.astro.token, { label: 'astro/phone' });
  laptop = await connect(second.token, { label: 'astro/laptop' });
  user = await connect(world.user.token, { label: 'user' });
  stranger = await connect(world.stranger.token, { label: 'stranger' });
});
after(closeAll);

const byCall = (id) => (data) => data?.callId === id;

describe('calls over Socket.IO', () => {
  test('initiate rings every device of the callee; accept stops the others; end reaches the caller', async () => {
    const placed = await admin.must('call:initiate', { calleeId: world.astro.id, calleeType: 'astrologer', callType: 'video' });
    const id = placed.callId;
    assert.equal(placed.call.status, 'ringing', 'the callee is online');
    assert.match(placed.agoraToken, /^007/);
    const initiated = await admin.waitFor('call:initiated', byCall(id));
    assert.equal(initiated.agoraToken, placed.agoraToken);

    const rings = await Promise.all([phone, laptop].map((c) => c.waitFor('call:incoming', byCall(id))));
    for (const ring of rings) {
      assert.equal(ring.callerId, world.admin.id);
      assert.equal(ring.callerType, 'admin');
      assert.equal(ring.callerName, 'Admin');
      assert.equal(ring.callType, 'video');
      assert.equal(ring.channelName, placed.channelName);
      assert.match(ring.agoraToken, /^007/);
      assert.notEqual(ring.agoraToken, placed.agoraToken, 'each party has its own token');
      assert.notEqual(ring.uid, placed.uid);
    }

    const accepted = await phone.must('call:accept', { callId: id });
    assert.equal(accepted.call.status, 'answered');
    assert.equal(accepted.uid, rings[0].uid);
    assert.equal((await admin.waitFor('call:accepted', byCall(id))).status, 'answered');
    await laptop.waitFor('call:answered_elsewhere', byCall(id));
    await phone.barrier();
    assert.equal(phone.heard('call:answered_elsewhere', byCall(id)).length, 0, 'not to the device that answered');

    // Accepting twice is an illegal transition, answered through the ack.
    assertError(await laptop.request('call:accept', { callId: id }), 'illegal_transition');

    const ended = await admin.must('call:end', { callId: id, duration: 12345 });
    assert.equal(ended.status, 'ended');
    assert.ok(ended.duration < 60, `the server computes the duration: ${ended.duration}`);
    const heard = await phone.waitFor('call:ended', byCall(id));
    assert.equal(heard.endReason, 'completed');
    // The call's entry in the conversation arrives like any message.
    const entry = await phone.waitFor('dm:message_received', (m) => m.type === 'call' && m.metadata?.callId === id);
    assert.match(entry.content, /^Video call · 0:/);
  });

  test('reject tells the caller; busy is refused and recorded; the line frees after', async () => {
    const first = await user.must('call:initiate', { calleeId: world.astro.id });
    await phone.waitFor('call:incoming', byCall(first.callId));
    // The astrologer is in a live call: the admin gets busy.
    const busy = await admin.request('call:initiate', { calleeId: world.astro.id });
    assertError(busy, 'busy');
    const record = await admin.waitFor('call:busy', (c) => c.calleeId === world.astro.id);
    assert.equal(record.status, 'busy');

    const rejected = await laptop.must('call:reject', { callId: first.callId, reason: 'declined' });
    assert.equal(rejected.status, 'rejected');
    assert.equal((await user.waitFor('call:rejected', byCall(first.callId))).endReason, 'rejected');
    await phone.waitFor('call:rejected', byCall(first.callId)); // the other device stops ringing

    const again = await admin.must('call:initiate', { calleeId: world.astro.id });
    await admin.must('call:end', { callId: again.callId }); // the caller cancels
    const cancelled = await phone.waitFor('call:ended', byCall(again.callId));
    assert.equal(cancelled.status, 'missed');
    assert.equal(cancelled.endReason, 'cancelled');
  });

  test('an unanswered call is missed after the tenant ring timeout, for both parties', async () => {
    await ok('PATCH', '/api/settings', { token: world.admin.token, body: { ringTimeoutSeconds: 1 } });
    try {
      const placed = await admin.must('call:initiate', { calleeId: world.astro.id });
      const missed = await Promise.all([admin, phone].map((c) => c.waitFor('call:missed', byCall(placed.callId))));
      for (const m of missed) {
        assert.equal(m.status, 'missed');
        assert.equal(m.endReason, 'no_answer');
      }
    } finally {
      await ok('PATCH', '/api/settings', { token: world.admin.token, body: { ringTimeoutSeconds: 60 } });
    }
  });

  test('a party whose last connection drops ends the call with network_error', async () => {
    const device = await world.user.login('flaky');
    const flaky = await connect(device.token, { label: 'user/flaky' });
    user.close(); // the user's other socket: only `flaky` is left
    const placed = await flaky.must('call:initiate', { calleeId: world.astro.id });
    await phone.must('call:accept', { callId: placed.callId });
    flaky.socket.io.engine.close(); // the network goes, no goodbye
    const ended = await phone.waitFor('call:ended', byCall(placed.callId), PRESENCE_GRACE_MS + 8000);
    assert.equal(ended.endReason, 'network_error');
    user = await connect(world.user.token, { label: 'user' });
  });

  test('WebRTC signalling is relayed only between the parties of the call', async () => {
    const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' };
    const placed = await user.must('call:invite', { to: world.astro.id, callType: 'voice', ...offer });
    assert.equal(placed.call.transport, 'webrtc');
    assert.equal(placed.token, null);
    const invite = await phone.waitFor('call:invite', byCall(placed.callId));
    assert.equal(invite.sdp, offer.sdp);
    assert.equal(invite.from, world.user.id);

    // Someone else cannot inject into the call.
    assertError(await stranger.request('call:candidate', { callId: placed.callId, candidate: 'x' }), 'not_found');

    await phone.must('call:answer', { callId: placed.callId, type: 'answer', sdp: 'v=0 answer' });
    assert.equal((await user.waitFor('call:answer', byCall(placed.callId))).sdp, 'v=0 answer');
    await user.waitFor('call:accepted', byCall(placed.callId));

    await user.must('call:candidate', { callId: placed.callId, candidate: 'candidate:1 1 UDP 1 10.0.0.1 9 typ host' });
    const candidate = await phone.waitFor('call:candidate', byCall(placed.callId));
    assert.match(candidate.candidate, /^candidate:1/);

    // Oversized signalling is refused, and the call goes on.
    assertError(
      await user.request('call:candidate', { callId: placed.callId, candidate: 'x'.repeat(5000) }),
      'payload_too_large',
    );

    await phone.must('call:hangup', { callId: placed.callId });
    const hangup = await user.waitFor('call:hangup', byCall(placed.callId));
    assert.equal(hangup.reason, 'completed');
    await stranger.barrier();
    assert.equal(stranger.heard('call:invite').length + stranger.heard('call:candidate').length, 0);
  });

  test('bad payloads get call:error or an error ack, and the socket stays up', async () => {
    for (const payload of [null, 42, 'call', [], {}, { calleeId: 'not-a-uuid' }, { calleeId: world.astro.id, callType: 'hologram' }]) {
      const answer = await admin.request('call:initiate', payload);
      assertError(answer);
    }
    assertError(await admin.request('call:accept', { callId: '00000000-0000-7000-8000-000000000000' }), 'not_found');
    admin.socket.emit('call:end', { callId: 'nope' }); // no ack: call:error
    const error = await admin.waitFor('call:error', (e) => e.event === 'call:end');
    assert.equal(error.success, false);
    assert.equal(typeof error.code, 'string');
    await admin.barrier();
    assert.ok(admin.connected);
  });

  test('the relationship rules apply, and another tenant cannot touch a call', async () => {
    assertError(await stranger.request('call:initiate', { calleeId: world.astro.id }), 'no_relationship');
    const other = await createWorld('calls-other');
    const outsider = await connect(other.admin.token, { label: 'other/admin' });
    const placed = await admin.must('call:initiate', { calleeId: world.astro.id });
    for (const event of ['call:accept', 'call:reject', 'call:end', 'call:token']) {
      assertError(await outsider.request(event, { callId: placed.callId }), 'not_found');
    }
    assertError(await outsider.request('call:initiate', { calleeId: world.astro.id }), 'not_found');
    await admin.must('call:end', { callId: placed.callId });
  });
});
