// Media in the admin console, in a real browser (playwright-core driving
// Debian's Chromium, as console.browser.test.mjs does). A user sends a photo
// and a voice note; the tenant admin opens the conversation: the photo's
// thumbnail loads (through its signed link, under the console's CSP), the
// voice note is a player whose recording the browser can read, and a voice
// note sent while the page is open appears live, player included.
// No Chromium is a failure, not a skip (`apt-get install chromium`).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { consolePage, launchChromium } from './lib/browser.mjs';
import { BASE, PASSWORD } from './lib/rest.mjs';
import { closeAll } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

const FIXTURES = new URL('../fixtures/media/', import.meta.url);

let browser;
let page;
let world;
let conversationId;
const problems = [];

/** Uploads `fixture` as `field` and sends it as a message (seed 000's forms). */
async function sendFile(who, path, field, fixture, fields = {}) {
  const form = new FormData();
  for (const [key, value] of Object.entries({ conversationId, ...fields })) form.append(key, String(value));
  form.append(field, new Blob([readFileSync(new URL(fixture, FIXTURES))]), fixture);
  const res = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${who.token}` },
    body: form,
    signal: AbortSignal.timeout(20_000),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.data;
}

/** Loads an `<audio>`'s metadata (it has preload="none") and reads its length. */
function audioDuration(audio) {
  return new Promise((resolve, reject) => {
    audio.addEventListener('loadedmetadata', () => resolve(audio.duration), { once: true });
    audio.addEventListener('error', () => reject(new Error(`audio error ${audio.error?.code}`)), { once: true });
    audio.preload = 'metadata';
    audio.load();
  });
}

before(async () => {
  const launching = launchChromium();
  world = await createWorld('cmedia');
  conversationId = await world.tenant.open(world.user, world.astro);
  await sendFile(world.user, '/api/messages/upload', 'file', 'photo-rot6-gps.jpg', { content: 'my palm' });
  await sendFile(world.astro, '/api/messages/voice', 'audio', 'voice.webm', { durationMs: 2000 });
  browser = await launching;
  // A CSP refusal is a console error: any fails the last test.
  ({ page } = await consolePage(browser, { viewport: { width: 1280, height: 800 } }, problems));
  await page.goto(`${BASE}/console/login`);
  await page.getByLabel('Tenant').fill(world.tenant.slug);
  await page.getByLabel('Email').fill(world.admin.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${BASE}/console`);
});

after(async () => {
  closeAll();
  await browser?.close();
});

describe('media in the admin console, in Chromium', () => {
  test('the dashboard shows the storage the files take', async () => {
    const tile = page.locator('.tile.storage');
    assert.match(await tile.innerText(), /KB\s+storage used/);
    assert.match(await tile.innerText(), /of 10\.0 GB/);
  });

  test('a conversation shows the photo\'s thumbnail, loaded, and the voice note\'s player', async () => {
    await page.goto(`${BASE}/console/conversations/${conversationId}`);
    const messages = page.locator('#messages');
    await messages.getByText('my palm').waitFor();

    const img = messages.locator('.file.image img');
    assert.equal(await img.count(), 1);
    await img.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => {
      const el = document.querySelector('#messages .file.image img');
      return el?.complete && el.naturalWidth > 0;
    });
    assert.ok((await img.getAttribute('src')).startsWith(`${BASE}/api/files/`));
    assert.equal(await img.getAttribute('loading'), 'lazy');
    // The link around it opens the full picture.
    const full = await messages.locator('a.file.image').getAttribute('href');
    assert.match(full, new RegExp(`^${BASE}/api/files/[0-9a-f-]+/content\\?`));

    const audio = messages.locator('audio[src]');
    assert.equal(await audio.count(), 1);
    assert.equal(await audio.getAttribute('preload'), 'none');
    assert.ok((await audio.getAttribute('src')).startsWith(`${BASE}/api/files/`));
    assert.match(await messages.locator('.file.audio figcaption').innerText(), /0:02/);
    // The browser may fetch it (media-src): the recording is 2 s long.
    const seconds = await audio.evaluate(audioDuration);
    assert.ok(Math.abs(seconds - 2) < 0.2, `duration ${seconds}`);
  });

  test('a voice note sent while the page is open appears live with its player', async () => {
    await page.evaluate(() => { window.samvadMarker = 'same page'; });
    await page.waitForFunction(() => window.samvadStreams.some((s) => s.readyState === EventSource.OPEN));
    const sent = await sendFile(world.user, '/api/messages/voice', 'audio', 'tone.opus.ogg');
    const item = page.locator(`#m-${sent.id}`);
    await item.waitFor();
    assert.equal(await item.locator('audio[src]').count(), 1);
    const src = await item.locator('audio').getAttribute('src');
    assert.ok(src.startsWith(`${BASE}/api/files/${sent.files[0].id}/content?`), src);
    assert.equal(await page.evaluate(() => window.samvadMarker), 'same page', 'the page was reloaded');
  });

  test('no page logged a script, CSP or console error', () => {
    assert.deepEqual(problems, []);
  });
});
