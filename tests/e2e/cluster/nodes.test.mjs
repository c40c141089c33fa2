// Three Samvad nodes on one database and one Redis (tests/e2e.rs starts
// them: SAMVAD_BASE_URL, SAMVAD_BASE_URL_B and SAMVAD_BASE_URL_C). A
// message, typing, receipts and a revocation made on one node reach the
// sockets held by another, in every dialect (the emits crossing on Redis,
// the rooms' changes through the Socket.IO Redis adapter); a call placed on one node rings, is answered, refused as busy,
// times out (once, with three sweepers) and is cleaned up on the others;
// and with Redis killed, each node still serves its own sockets until
// Redis is back.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { BASE, PRESENCE_GRACE_MS, ok } from '../lib/rest.mjs';
import { assertError, closeAll, connect } from '../lib/socket.mjs';
import { createWorld } from '../lib/world.mjs';

const B = process.env.SAMVAD_BASE_URL_B?.replace(/\/$/, '');
const C = process.env.SAMVAD_BASE_URL_C?.replace(/\/$/, '');
const DIALECTS = ['dm', 'backend', 'backend1', 'all'];
const MESSAGE = { dm: 'dm:message_received', backend: 'receive-message', backend1: 'message', all: 'dm:message_received' };
const NOT_HEARD = { dm: ['receive-message', 'message'], backend: ['dm:message_received', 'message'], backend1: ['dm:message_received', 'receive-message'], all: [] };

let world;
let conversationId;
let user;
/** The astrologer's sockets on node B, one per dialect. */
const astro = {};

before(async () => {
  assert.ok(B && C, 'SAMVAD_BASE_URL_B and _C name the other nodes (tests/e2e.rs sets them)');
  assert.equal(new Set([BASE, B, C]).size, 3);
  world = await createWorld('cluster');
  conversationId = await world.tenant.open(world.user, world.astro);
  user = await connect(world.user.token, { dialect: 'dm', label: 'user@A' });
  for (const dialect of DIALECTS) {
    astro[dialect] = await connect(world.astro.token, {
      base: B,
      dialect: dialect === 'all' ? undefined : dialect,
      label: `astro/${dialect}@B`,
    });
  }
});
after(closeAll);

describe('two nodes', () => {
  test('a message sent on node A reaches the sockets on node B in each dialect, once', async () => {
    const sent = await user.must('dm:send_message', { conversationId, content: 'hello from A' });
    for (const dialect of DIALECTS) {
      const m = await astro[dialect].waitFor(MESSAGE[dialect], (x) => x.id === sent.id);
      assert.equal(m.content, 'hello from A');
      assert.equal(m.seq, sent.seq);
    }
    // A later event every socket hears: all earlier ones have arrived.
    const marker = await ok('POST', `/api/conversations/${conversationId}/messages`, {
      token: world.user.token,
      body: { content: 'marker' },
    });
    await Promise.all(DIALECTS.map((d) => astro[d].waitFor(MESSAGE[d], (x) => x.id === marker.id)));
    for (const dialect of DIALECTS) {
      assert.equal(astro[dialect].heard(MESSAGE[dialect], (x) => x.id === sent.id).length, 1, dialect);
      for (const other of NOT_HEARD[dialect]) {
        assert.deepEqual(astro[dialect].heard(other, (x) => x.id === sent.id), [], `${dialect} heard ${other}`);
      }
    }
  });

  test('a message sent over REST on node B reaches the socket on node A', async () => {
    const sent = await ok('POST', `/api/conversations/${conversationId}/messages`, {
      base: B,
      token: world.astro.token,
      body: { content: 'hello from B' },
    });
    const heard = await user.waitFor('dm:message_received', (m) => m.id === sent.id);
    assert.equal(heard.content, 'hello from B');
  });

  test('typing and a read receipt on node A reach node B', async () => {
    await user.must('dm:typing_start', { conversationId });
    const typing = await astro.dm.waitFor('dm:typing_start', (t) => t.userId === world.user.id);
    assert.equal(typing.conversationId, conversationId);
    const last = await ok('POST', `/api/conversations/${conversationId}/messages`, {
      base: B,
      token: world.astro.token,
      body: { content: 'read me' },
    });
    await user.waitFor('dm:message_received', (m) => m.id === last.id);
    await user.must('dm:mark_read', { conversationId, seq: last.seq });
    const read = await astro.dm.waitFor('dm:messages_read', (r) => r.userId === world.user.id);
    assert.equal(read.readSeq, last.seq);
    assert.equal(read.conversationId, conversationId);
  });

  test('every session of a participant ended on node A disconnects its sockets on node B', async () => {
    const sam = await connect(world.stranger.token, { base: B, label: 'stranger@B' });
    const samAgain = await connect(world.stranger.token, { label: 'stranger@A' });
    await ok('POST', '/api/auth/logout-all', { token: world.stranger.token, body: {} });
    await sam.disconnected();
    await samAgain.disconnected();
  });

  test('a session ended on node A disconnects its socket on node B', async () => {
    const own = await world.astro.login('second phone');
    const socket = await connect(own.token, { base: B, label: 'astro second phone@B' });
    await ok('POST', '/api/auth/logout', { token: own.token, body: {} });
    await socket.disconnected();
  });
});

describe('calls across three nodes', () => {
  const byCall = (id) => (data) => data?.callId === id;
  let phone; // the astrologer's phone, on B
  let laptop; // the astrologer's laptop, on C
  let caller; // the user, on A
  let admin; // the admin, on C

  before(async () => {
    await ok('PUT', '/api/settings/agora', {
      token: world.admin.token,
      body: { appId: '970CA35de60c44645bbae8a215061b33', appCertificate: '5CFd2fd1755d40ecb72977518be15d3b' },
    });
    await ok('PATCH', '/api/settings', {
      token: world.admin.token,
      body: { callsPerParticipant: { max: 1000, perSeconds: 3600 } },
    });
    const second = await world.astro.login('laptop');
    phone = await connect(world.astro.token, { base: B, dialect: 'dm', label: 'astro/phone@B' });
    laptop = await connect(second.token, { base: C, dialect: 'dm', label: 'astro/laptop@C' });
    caller = await connect(world.user.token, { dialect: 'dm', label: 'user/caller@A' });
    admin = await connect(world.admin.token, { base: C, dialect: 'dm', label: 'admin@C' });
  });

  test('placed on A, rung on B and C, answered on B; busy from C; ended on A', async () => {
    const placed = await caller.must('call:initiate', { calleeId: world.astro.id });
    assert.equal(placed.call.status, 'ringing', 'online on other nodes is online');
    const id = placed.callId;
    await Promise.all([phone, laptop].map((c) => c.waitFor('call:incoming', byCall(id))));

    await phone.must('call:accept', { callId: id });
    assert.equal((await caller.waitFor('call:accepted', byCall(id))).status, 'answered');
    await laptop.waitFor('call:answered_elsewhere', byCall(id));

    // The astrologer's line is taken on another node: busy.
    assertError(await admin.request('call:initiate', { calleeId: world.astro.id }), 'busy');

    await caller.must('call:end', { callId: id });
    await phone.waitFor('call:ended', byCall(id));
    const call = await ok('GET', `/api/calls/${id}`, { token: world.admin.token, base: B });
    assert.equal(call.status, 'ended');
    assert.equal(call.endReason, 'completed');
  });

  test('an unanswered call placed on A times out once, though three sweepers watch it', async () => {
    await ok('PATCH', '/api/settings', { token: world.admin.token, body: { ringTimeoutSeconds: 1 } });
    try {
      const placed = await caller.must('call:initiate', { calleeId: world.astro.id });
      const id = placed.callId;
      for (const c of [caller, phone, laptop]) await c.waitFor('call:missed', byCall(id));
      // One outcome recorded: one call entry in the conversation, one
      // `call:missed` per device (a message sent after it arrives after any
      // second one would have).
      const probe = await caller.must('dm:send_message', { conversationId, content: 'after the missed call' });
      await phone.waitFor('dm:message_received', (m) => m.id === probe.id);
      assert.equal(phone.heard('call:missed', byCall(id)).length, 1, 'missed once');
      const page = await ok('GET', `/api/conversations/${conversationId}/messages?limit=50`, { token: world.admin.token });
      const entries = page.items.filter((m) => m.type === 'call' && m.metadata?.callId === id);
      assert.equal(entries.length, 1, 'one call entry');
      assert.equal(entries[0].metadata.status, 'missed');
    } finally {
      await ok('PATCH', '/api/settings', { token: world.admin.token, body: { ringTimeoutSeconds: 60 } });
    }
  });

  test('the caller\'s last connection (on A) drops: the call ends with network_error on B', async () => {
    const device = await world.user.login('flaky');
    const flaky = await connect(device.token, { dialect: 'dm', label: 'user/flaky@A' });
    // Only `flaky` is left (later tests use no socket of the user's).
    caller.close();
    user.close();
    const placed = await flaky.must('call:initiate', { calleeId: world.astro.id });
    await phone.must('call:accept', { callId: placed.callId });
    flaky.socket.io.engine.close(); // the network goes, no goodbye
    const ended = await phone.waitFor('call:ended', byCall(placed.callId), PRESENCE_GRACE_MS + 8000);
    assert.equal(ended.endReason, 'network_error');
  });
});

describe('Redis killed and started again', () => {
  let restarted;
  after(() => restarted?.kill('SIGKILL'));

  test('each node keeps delivering to its own sockets; across nodes again once Redis is back', async () => {
    const port = process.env.SAMVAD_REDIS_PORT;
    const pid = Number(process.env.SAMVAD_REDIS_PID);
    assert.ok(port && pid, 'tests/e2e.rs gives the Redis port and pid');
    const astroOnA = await connect(world.astro.token, { dialect: 'dm', label: 'astro@A' });
    process.kill(pid, 'SIGKILL');

    // Node A's own sockets still hear what is sent on node A.
    const sent = await ok('POST', `/api/conversations/${conversationId}/messages`, {
      token: world.user.token,
      body: { content: 'while Redis is down' },
    });
    const heard = await astroOnA.waitFor('dm:message_received', (m) => m.id === sent.id);
    assert.equal(heard.content, 'while Redis is down');

    restarted = spawn('redis-server', ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    // Both nodes reconnect and subscribe again by themselves: a message sent
    // on A reaches B again within seconds.
    const deadline = Date.now() + 15_000;
    for (let n = 0; ; n += 1) {
      const probe = await ok('POST', `/api/conversations/${conversationId}/messages`, {
        token: world.user.token,
        body: { content: `after the restart ${n}` },
      });
      try {
        await astro.dm.waitFor('dm:message_received', (m) => m.id === probe.id, 500);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`cross-node delivery did not come back: ${err.message}`);
      }
    }
  });
});
