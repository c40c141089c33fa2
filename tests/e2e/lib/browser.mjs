// The console's browser tests share this: Debian's Chromium through
// playwright-core, and a page that counts its event streams (to know when
// the live view is connected) and records every script error and console
// error (a CSP refusal is one) so a test can fail on them.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

import { chromium } from 'playwright-core';

import { TIMEOUT_MS } from './socket.mjs';

export const CHROMIUM = process.env.SAMVAD_CHROMIUM ?? '/usr/bin/chromium';

/** Starts headless Chromium; a missing Chromium fails, never skips. */
export function launchChromium() {
  assert.ok(
    existsSync(CHROMIUM),
    `Chromium is needed for the console's browser tests but ${CHROMIUM} does not exist; ` +
      'install it (Debian: apt-get install chromium; .ci/run does) or set SAMVAD_CHROMIUM',
  );
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 20_000,
  });
}

/**
 * A new context and page in `browser` (`contextOptions` as playwright
 * takes them). Errors go into `problems`, except those from URLs that
 * `ignored(url)` accepts (the browser's own /favicon.ico always is).
 */
export async function consolePage(browser, contextOptions, problems, ignored = () => false) {
  const context = await browser.newContext(contextOptions);
  await context.addInitScript(() => {
    const Native = window.EventSource;
    window.samvadStreams = [];
    window.EventSource = class extends Native {
      constructor(...args) {
        super(...args);
        window.samvadStreams.push(this);
      }
    };
  });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = msg.location()?.url ?? '';
    if (url.endsWith('/favicon.ico') || ignored(url)) return;
    problems.push(`console error on ${page.url()}: ${msg.text()} (${url})`);
  });
  return { context, page };
}
