// A small REST client for the e2e suite: fetch, the envelope, logins.
//
// The server under test is named by SAMVAD_BASE_URL; tests/e2e.rs sets it
// (with the superadmin's credentials) when it runs this suite.

import { createHmac, randomBytes } from 'node:crypto';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run this suite through \`cargo test --test e2e\` (tests/e2e.rs), which starts the server`,
    );
  }
  return value;
}

export const BASE = required('SAMVAD_BASE_URL').replace(/\/$/, '');
export const PASSWORD = 'e2e-password-1';
export const PRESENCE_GRACE_MS = Number(process.env.SAMVAD_PRESENCE_GRACE_MS ?? 5000);

/** A response: HTTP status and the parsed JSON body (null when not JSON);
 * `base` names another node of the same deployment (the cluster tests). */
export async function call(method, path, { token, apiKey, body, base = BASE } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (apiKey) headers['x-api-key'] = apiKey;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, body: json, text };
}

/** `data` of a success envelope; throws with the whole answer otherwise. */
export async function ok(method, path, options = {}) {
  const res = await call(method, path, options);
  if (res.status >= 300 || res.body?.success !== true) {
    throw new Error(`${method} ${path} -> ${res.status} ${res.text}`);
  }
  return res.body.data;
}

/** A unique, valid tenant slug starting with `prefix`. */
export function uniqueSlug(prefix) {
  return `${prefix}-${randomBytes(4).toString('hex')}`.toLowerCase();
}

/** The claims of a JWT (not verified: tests read their own tokens). */
export function claims(token) {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

/** Re-signs a token's claims with the server's secret; `patch` edits them. */
export function forge(token, patch) {
  const secret = required('SAMVAD_JWT_SECRET');
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify({ ...claims(token), ...patch })).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

let platform;

/**
 * The platform superadmin's access token: SAMVAD_SUPERADMIN_TOKEN, or a login
 * (once per file) with SAMVAD_SUPERADMIN_EMAIL and _PASSWORD.
 */
export async function superadminToken() {
  if (process.env.SAMVAD_SUPERADMIN_TOKEN) return process.env.SAMVAD_SUPERADMIN_TOKEN;
  platform ??= ok('POST', '/api/platform/login', {
    body: {
      email: required('SAMVAD_SUPERADMIN_EMAIL'),
      password: required('SAMVAD_SUPERADMIN_PASSWORD'),
    },
  }).then((data) => data.accessToken);
  return platform;
}
