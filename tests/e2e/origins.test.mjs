// A tenant's allowed origins over Socket.IO: once the admin lists origins,
// a handshake whose Origin is another one is refused with
// `origin_not_allowed` (on either transport); a listed origin connects, and
// so does a client that sends no Origin (mobile and desktop apps). Another
// tenant is not affected. (REST: tests/api/origins.rs.)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ok } from './lib/rest.mjs';
import { closeAll, connect, refused } from './lib/socket.mjs';
import { createWorld } from './lib/world.mjs';

const APP = 'https://app.origins.example';
const EVIL = 'https://evil.example';

let a;
let b;

before(async () => {
  [a, b] = await Promise.all([createWorld('origins-a'), createWorld('origins-b')]);
  const settings = await ok('PATCH', '/api/settings', {
    token: a.admin.token,
    body: { allowedOrigins: [`${APP}/`] },
  });
  assert.deepEqual(settings.allowedOrigins, [APP]);
});
after(closeAll);

/** The code before the colon of a connect_error message. */
const code = (message) => message.split(':')[0];

describe('allowed origins', () => {
  for (const transports of [['websocket'], ['polling']]) {
    test(`an unlisted Origin is refused over ${transports[0]}`, async () => {
      const message = await refused(a.user.token, {
        transports,
        extraHeaders: { Origin: EVIL },
        label: `A/user from ${EVIL}`,
      });
      assert.equal(code(message), 'origin_not_allowed', message);
    });

    test(`a listed Origin connects over ${transports[0]}`, async () => {
      const socket = await connect(a.user.token, {
        transports,
        extraHeaders: { Origin: APP },
        label: `A/user from ${APP}`,
      });
      assert.ok(socket.socket.connected);
      socket.close();
    });
  }

  test('a client without Origin (an app) connects', async () => {
    const socket = await connect(a.astro.token, { transports: ['websocket'], label: 'A/astro app' });
    assert.ok(socket.socket.connected);
    socket.close();
  });

  test("another tenant's sockets take any origin", async () => {
    const socket = await connect(b.user.token, {
      transports: ['websocket'],
      extraHeaders: { Origin: EVIL },
      label: `B/user from ${EVIL}`,
    });
    assert.ok(socket.socket.connected);
    socket.close();
  });
});
