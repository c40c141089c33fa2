// Media messages end to end: a user uploads files with Node's own fetch and
// FormData (as a browser or app would), sends them over Socket.IO with
// `fileId` in seed 004's `dm:send_message`, and the astrologer's connected
// client hears the message with its files; the signed links download the
// very bytes uploaded with no Authorization header, serve byte ranges, and
// refuse a tampered signature. A voice note sent with `POST
// /api/messages/voice` arrives as an audio message whose duration was read
// from the recording.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { BASE } from './lib/rest.mjs';
import { closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

const FIXTURES = new URL('../fixtures/media/', import.meta.url);

/** A fixture's bytes (tests/fixtures/media/). */
function fixture(name) {
  return readFileSync(new URL(name, FIXTURES));
}

/**
 * POSTs a multipart form as `token`: `files` maps a field to `[name, bytes]`,
 * `fields` holds text fields. Resolves with the envelope's `data`.
 */
async function postForm(path, token, files, fields = {}) {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, String(value));
  for (const [key, [name, bytes]] of Object.entries(files)) form.append(key, new Blob([bytes]), name);
  const res = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${path} -> ${res.status} ${text}`);
  const body = JSON.parse(text);
  assert.equal(body.success, true, text);
  return body.data;
}

/** GETs a signed link like an `<img>` or player: no credentials at all. */
async function download(url, headers = {}) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(20_000) });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** About 300 KB that sniff as no known format (a plain document). */
function notes() {
  const bytes = randomBytes(300 * 1024);
  bytes.set([0x01, 0x02, 0x03, 0x04], 0);
  return bytes;
}

let world;
let conversationId;
let astro; // the astrologer's connected client (seed 004's dm dialect)
let user; // the user's

before(async () => {
  world = await createWorld('media');
  conversationId = await world.tenant.open(world.user, world.astro);
  astro = await connect(world.astro.token, { dialect: 'dm', label: 'astro' });
  user = await connect(world.user.token, { dialect: 'dm', label: 'user' });
});
after(closeAll);

describe('media messages', () => {
  test('uploaded files sent with fileId reach the astrologer and download byte-identical, in ranges', async () => {
    const uploads = [
      { name: 'tone.m4a', bytes: fixture('tone.m4a'), type: 'audio' },
      { name: 'notes.bin', bytes: notes(), type: 'file' },
    ];
    for (const { name, bytes, type } of uploads) {
      // Upload: the file object, its signed link absolute to the server.
      const file = await postForm('/api/files/upload', world.user.token, { file: [name, bytes] });
      assert.equal(file.name, name);
      assert.equal(file.size, bytes.length);
      assert.equal(file.uploaderId, world.user.id);
      assert.ok(file.url.startsWith(`${BASE}/api/files/${file.id}/content?`), file.url);

      // Send over Socket.IO: the type follows the file.
      const sent = await user.must('dm:send_message', { conversationId, fileId: file.id, clientMsgId: `m-${name}` });
      assert.equal(sent.type, type);
      const heard = await astro.waitFor('dm:message_received', (m) => m.id === sent.id);
      assert.equal(heard.type, type);
      assert.equal(heard.senderId, world.user.id);
      assert.equal(heard.files.length, 1);
      const [got] = heard.files;
      assert.equal(got.id, file.id);
      assert.equal(got.name, name);
      assert.equal(got.size, bytes.length);
      assert.equal(got.kind, type);
      assert.ok(got.sentAt, 'the file is marked sent');
      assert.equal(heard.mediaUrl, got.url);

      // The link works with no Authorization header: the very bytes.
      const whole = await download(got.url);
      assert.equal(whole.status, 200);
      assert.ok(whole.bytes.equals(bytes), `${name}: the download differs from the upload`);
      assert.equal(whole.headers.get('accept-ranges'), 'bytes');

      // A byte range: exactly those bytes, and where they sit.
      const part = await download(got.url, { Range: 'bytes=100-199' });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), `bytes 100-199/${bytes.length}`);
      assert.ok(part.bytes.equals(bytes.subarray(100, 200)), `${name}: the range differs`);
    }
  });

  test('a signed link with a tampered signature is refused', async () => {
    const file = await postForm('/api/files/upload', world.user.token, { file: ['notes.bin', notes()] });
    const url = new URL(file.url);
    const signature = url.searchParams.get('s');
    url.searchParams.set('s', `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`);
    const refused = await download(url.toString());
    assert.equal(refused.status, 403);
  });

  test('a voice note from POST /api/messages/voice arrives as audio with the duration read from it', async () => {
    const sent = await postForm(
      '/api/messages/voice',
      world.user.token,
      { audio: ['voice.m4a', fixture('tone.m4a')] },
      { conversationId, durationMs: 2000, waveform: JSON.stringify([0, 0.25, 0.5, 1]) },
    );
    assert.equal(sent.type, 'audio');
    const heard = await astro.waitFor('dm:message_received', (m) => m.id === sent.id);
    assert.equal(heard.type, 'audio');
    assert.equal(heard.conversationId, conversationId);
    const [voice] = heard.files;
    assert.equal(voice.kind, 'audio');
    assert.ok(Math.abs(voice.durationMs - 2000) <= 150, `durationMs ${voice.durationMs} is not 2000 ± 150`);
    assert.deepEqual(voice.waveform, [0, 0.25, 0.5, 1]);
    const whole = await download(voice.url);
    assert.equal(whole.status, 200);
    assert.ok(whole.bytes.equals(fixture('tone.m4a')));
  });
});
