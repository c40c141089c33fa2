// Two Samvad nodes on one database and one Redis (tests/e2e.rs starts them:
// SAMVAD_BASE_URL and SAMVAD_BASE_URL_B). A message, typing, receipts and a
// revocation made on one node reach the sockets held by the other, in every
// dialect, through the Socket.IO Redis adapter; and with Redis killed, each
// node still serves its own sockets until Redis is back.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { BASE, ok } from '../lib/rest.mjs';
import { closeAll, connect } from '../lib/socket.mjs';
import { createWorld } from '../lib/world.mjs';

const B = process.env.SAMVAD_BASE_URL_B?.replace(/\/$/, '');
const DIALECTS = ['dm', 'backend', 'backend1', 'all'];
const MESSAGE = { dm: 'dm:message_received', backend: 'receive-message', backend1: 'message', all: 'dm:message_received' };
const NOT_HEARD = { dm: ['receive-message', 'message'], backend: ['dm:message_received', 'message'], backend1: ['dm:message_received', 'receive-message'], all: [] };

let world;
let conversationId;
let user;
/** The astrologer's sockets on node B, one per dialect. */
const astro = {};

before(async () => {
  assert.ok(B, 'SAMVAD_BASE_URL_B names the second node (tests/e2e.rs sets it)');
  assert.notEqual(B, BASE);
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
