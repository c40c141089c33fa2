// Tenants and participants made through REST, as a tenant's backend would:
// the superadmin creates the tenant, its admin creates the accounts and
// records consultations, everyone logs in with a password.

import { PASSWORD, claims, ok, superadminToken, uniqueSlug } from './rest.mjs';

/** A logged-in device of a participant. */
export class Login {
  constructor(person, data) {
    this.person = person;
    this.id = data.user.id;
    this.token = data.accessToken;
    this.refresh = data.refreshToken;
    this.sessionId = claims(data.accessToken).sid;
  }
}

/** A participant: id, email, type, and a first logged-in device. */
export class Person {
  constructor(tenant, { id, email, type, name }) {
    Object.assign(this, { tenant, id, email, type, name });
  }

  /** Logs in again: another device, another session. */
  async login(deviceName = 'e2e') {
    const data = await ok('POST', '/api/auth/login', {
      body: { tenant: this.tenant.slug, email: this.email, password: PASSWORD, deviceName },
    });
    return new Login(this, data);
  }

  get token() {
    return this.device.token;
  }
}

export class Tenant {
  constructor(slug, id) {
    this.slug = slug;
    this.id = id;
    this.counter = 0;
  }

  /** Creates a participant (as the tenant's admin) and logs them in. */
  async participant(type, name) {
    const email = `${type}${++this.counter}@${this.slug}.test`;
    const created = await ok('POST', '/api/participants', {
      token: this.admin.token,
      body: { type, name, email, password: PASSWORD },
    });
    const person = new Person(this, { id: created.id, email, type, name });
    person.device = await person.login();
    return person;
  }

  /** Records a consultation: the user may now write to the astrologer. */
  async consult(user, astrologer) {
    return ok('POST', '/api/consultations', {
      token: this.admin.token,
      body: { userId: user.id, astrologerId: astrologer.id, status: 'active' },
    });
  }

  /** Opens (gets or creates) the direct conversation of `from` with `to`. */
  async open(from, to) {
    const data = await ok('POST', '/api/conversations', {
      token: from.token,
      body: { participantId: to.id },
    });
    return data.id;
  }

  /** Sends `content` over REST; returns the message. */
  async send(from, conversationId, content) {
    return ok('POST', `/api/conversations/${conversationId}/messages`, {
      token: from.token,
      body: { content },
    });
  }
}

/**
 * A new tenant (unique slug from `prefix`) with its admin logged in, the send
 * and login limits lifted (tests send and log in a lot).
 */
export async function createTenant(prefix) {
  const slug = uniqueSlug(prefix);
  const adminEmail = `admin@${slug}.test`;
  const created = await ok('POST', '/api/platform/tenants', {
    token: await superadminToken(),
    body: { slug, name: `E2E ${slug}`, adminEmail, adminPassword: PASSWORD, adminName: 'Admin' },
  });
  const tenant = new Tenant(slug, created.tenant.id);
  const admin = new Person(tenant, { id: created.adminId, email: adminEmail, type: 'admin', name: 'Admin' });
  admin.device = await admin.login();
  tenant.admin = admin;
  const many = { max: 100000, perSeconds: 60 };
  await ok('PATCH', '/api/settings', {
    token: admin.token,
    body: { messagesPerParticipant: many, loginPerIp: many, loginPerAccount: many },
  });
  return tenant;
}

/**
 * The usual cast: a tenant with an admin, an astrologer, a user who consulted
 * the astrologer, and a stranger (a user who did not).
 */
export async function createWorld(prefix) {
  const tenant = await createTenant(prefix);
  const astro = await tenant.participant('astrologer', 'Asha');
  const user = await tenant.participant('user', 'Uma');
  const stranger = await tenant.participant('user', 'Sam');
  await tenant.consult(user, astro);
  return { tenant, admin: tenant.admin, astro, user, stranger };
}
