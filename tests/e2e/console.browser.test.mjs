// The admin console in a real browser: playwright-core driving Debian's
// Chromium. A tenant admin signs in, opens a conversation, sends from the
// form, watches a message sent over Socket.IO (the official client) appear
// without a reload, filters the call history and downloads its CSV.
//
// Every page is photographed (1280x800, and the conversation at 390x844).
// The pictures go to a scratch directory, or to docs/console/ (the README's)
// when SAMVAD_UPDATE_SCREENSHOTS=1. No Chromium is a failure, not a skip:
// install it with `apt-get install chromium` (.ci/run does).

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { consolePage, launchChromium } from './lib/browser.mjs';
import { BASE, PASSWORD, ok } from './lib/rest.mjs';
import { closeAll, connect } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

const SHOTS = process.env.SAMVAD_UPDATE_SCREENSHOTS === '1'
  ? new URL('../../docs/console/', import.meta.url).pathname
  : join(tmpdir(), 'samvad-console-screenshots');
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
// The Agora test credentials of tests/api/calls/mod.rs.
const AGORA = { appId: '970CA35de60c44645bbae8a215061b33', appCertificate: '5CFd2fd1755d40ecb72977518be15d3b' };

let browser;
let context;
let page;
let world;
let conversationId;
const calls = {};
const problems = [];
/** Pages asked for that may not exist yet (their 404 is no problem). */
const probed = new Set();

/** Saves a full-page screenshot as `<name>.png`. */
async function shoot(name, target = page) {
  await target.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Places a call over REST; `then` is what the callee does with it. */
async function call(from, to, callType, then) {
  const placed = await ok('POST', '/api/calls/initiate', { token: from.token, body: { calleeId: to.id, callType } });
  const id = placed.callId;
  if (then === 'answer') {
    await ok('POST', `/api/calls/${id}/accept`, { token: to.token, body: {} });
    await ok('POST', `/api/calls/${id}/end`, { token: from.token, body: {} });
  } else {
    await ok('POST', `/api/calls/${id}/reject`, { token: to.token, body: {} });
  }
  return id;
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const launching = launchChromium();
  world = await createWorld('console');
  const { tenant, admin, astro, user } = world;
  conversationId = await tenant.open(admin, astro);
  await tenant.send(astro, conversationId, 'Namaste! Your chart is ready.');
  await tenant.send(admin, conversationId, 'Thank you, Asha ji. Please share it with Uma.');
  await ok('PUT', '/api/settings/agora', { token: admin.token, body: AGORA });
  await ok('PATCH', '/api/settings', { token: admin.token, body: { callsPerParticipant: { max: 1000, perSeconds: 3600 } } });
  calls.answered = await call(admin, astro, 'voice', 'answer');
  calls.rejected = await call(user, astro, 'video', 'reject');
  browser = await launching;
  // Script errors and console errors (a CSP refusal is one) fail the last
  // test; probed 404s are expected.
  ({ context, page } = await consolePage(
    browser,
    { viewport: LAPTOP, acceptDownloads: true },
    problems,
    (url) => probed.has(url),
  ));
});

after(async () => {
  closeAll();
  await browser?.close();
});

describe('the admin console in Chromium', () => {
  test('a tenant admin signs in and sees the dashboard', async () => {
    await page.goto(`${BASE}/console`);
    // Not signed in: the login page, remembering where we were going.
    await page.waitForURL(`${BASE}/console/login?next=/console`);
    await shoot('login');
    await page.getByLabel('Tenant').fill(world.tenant.slug);
    await page.getByLabel('Email').fill(world.admin.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${BASE}/console`);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    assert.match(await page.locator('.tiles').innerText(), /1\s+astrologers/);
    await shoot('dashboard');
  });

  test('opens a conversation from the list and sends a message from the form', async () => {
    await page.getByRole('link', { name: 'Conversations' }).click();
    await page.getByRole('heading', { name: 'Conversations' }).waitFor();
    const row = page.locator(`a[href="/console/conversations/${conversationId}"]`);
    await shoot('conversations');
    await row.click();
    await page.waitForURL(`${BASE}/console/conversations/${conversationId}`);
    const messages = page.locator('#messages');
    await messages.getByText('Namaste! Your chart is ready.').waitFor();

    await page.getByLabel('Message').fill('Sent from the console form');
    await page.getByRole('button', { name: 'Send' }).click();
    await messages.locator('li', { hasText: 'Sent from the console form' }).waitFor();
    const history = await ok('GET', `/api/conversations/${conversationId}/messages?after=0&limit=100`, { token: world.astro.token });
    assert.ok(history.items.some((m) => m.content === 'Sent from the console form' && m.senderId === world.admin.id));
  });

  test('a message sent over Socket.IO by another client appears live, without a reload', async () => {
    // The page is the conversation view; mark it, so a reload would show.
    await page.evaluate(() => { window.samvadMarker = 'same page'; });
    // Send once the page's event stream is open, so the message comes live
    // (console.js would also catch up on anything sent before).
    await page.waitForFunction(() => window.samvadStreams.some((s) => s.readyState === EventSource.OPEN));
    const astro = await connect(world.astro.token, { label: 'astro' });
    const sent = await astro.must('message', { conversationId, content: 'Live over Socket.IO, namaste 🙏' });
    const item = page.locator(`#m-${sent.id}`);
    await item.waitFor();
    assert.match(await item.innerText(), /Live over Socket\.IO, namaste 🙏/);
    assert.equal(await item.locator('.badge').textContent(), 'astrologer');
    assert.equal(await page.evaluate(() => window.samvadMarker), 'same page', 'the page was reloaded');
    await shoot('conversation');

    // The same view at phone width.
    const phone = await browser.newContext({ viewport: PHONE, storageState: await context.storageState() });
    const small = await phone.newPage();
    await small.goto(`${BASE}/console/conversations/${conversationId}`);
    await small.locator(`#m-${sent.id}`).waitFor();
    await shoot('conversation-phone', small);
    await phone.close();
  });

  test('filters the call history and downloads the CSV of the filtered calls', async () => {
    await page.getByRole('link', { name: 'Calls' }).click();
    await page.getByRole('heading', { name: 'Call history' }).waitFor();
    const rows = page.locator('table.list tbody tr');
    assert.equal(await rows.count(), 2);
    await shoot('calls');

    await page.getByLabel('Status').selectOption('rejected');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=rejected/);
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().innerText(), /Uma \(user\)\s+Asha \(astrologer\)\s+video\s+rejected/);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download CSV' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'calls.csv');
    const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'id,caller,callee,type,status,started_utc,duration,end_reason');
    assert.equal(csv.length, 2, csv.join('\n'));
    assert.ok(csv[1].startsWith(`"${calls.rejected}","Uma (user)","Asha (astrologer)","video","rejected"`), csv[1]);
    assert.ok(!csv.join('\n').includes(calls.answered), 'the answered call was filtered out');
  });

  test('every other console page renders (photographed when it exists)', async () => {
    for (const name of ['participants', 'policies', 'settings', 'audit']) {
      probed.add(`${BASE}/console/${name}`);
      const res = await page.goto(`${BASE}/console/${name}`);
      if (res.status() === 404) continue; // not built yet
      assert.equal(res.status(), 200, `/console/${name}`);
      await page.locator('main h1').waitFor();
      await shoot(name);
    }
    // The superadmin's tenants page, in a context of its own.
    const root = await browser.newContext({ viewport: LAPTOP });
    const admin = await root.newPage();
    await admin.goto(`${BASE}/console/login`);
    await admin.getByLabel('Email').fill(process.env.SAMVAD_SUPERADMIN_EMAIL);
    await admin.getByLabel('Password').fill(process.env.SAMVAD_SUPERADMIN_PASSWORD);
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await admin.waitForURL(/\/console\/tenants/);
    const res = await admin.goto(`${BASE}/console/tenants`);
    if (res.status() !== 404) {
      assert.equal(res.status(), 200);
      await admin.locator('main h1').waitFor();
      await shoot('tenants', admin);
    }
    await root.close();
  });

  test('no page logged a script or console error', () => {
    assert.deepEqual(problems, []);
  });
});
