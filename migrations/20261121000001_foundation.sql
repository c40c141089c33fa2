-- Foundation: tenants, the platform superadmins, participants, device
-- sessions with their refresh-token chain, casbin policy rules, audit log.
--
-- Ids are UUIDv7 in BINARY(16). Tenant-owned tables put tenant_id first in
-- their primary key and in every index, so each query is a range scan inside
-- one tenant. Two tables also hold platform rows (tenant_id NULL): sessions
-- (the superadmin logs in too) and audit_log (platform actions); their
-- primary key is the row's own random id, and every other index leads with
-- tenant_id.

CREATE TABLE tenants (
    id             BINARY(16)   NOT NULL,
    slug           VARCHAR(40)  NOT NULL,
    name           VARCHAR(120) NOT NULL,
    status         ENUM('active', 'suspended') NOT NULL DEFAULT 'active',
    default_region CHAR(2)      NOT NULL DEFAULT 'IN',
    created_at     DATETIME(3)  NOT NULL,
    updated_at     DATETIME(3)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_tenants_slug (slug)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE superadmins (
    id            BINARY(16)   NOT NULL,
    email         VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    created_at    DATETIME(3)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_superadmins_email (email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE participants (
    tenant_id     BINARY(16)    NOT NULL,
    id            BINARY(16)    NOT NULL,
    type          ENUM('user', 'astrologer', 'admin') NOT NULL,
    name          VARCHAR(120)  NOT NULL,
    email         VARCHAR(254)  NULL,
    phone         VARCHAR(20)   NULL,
    password_hash VARCHAR(255)  NULL,
    avatar_url    VARCHAR(2048) NULL,
    status_text   VARCHAR(140)  NULL,
    blocked       BOOLEAN       NOT NULL DEFAULT FALSE,
    last_seen_at  DATETIME(3)   NULL,
    created_at    DATETIME(3)   NOT NULL,
    updated_at    DATETIME(3)   NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE KEY uq_participants_email (tenant_id, email),
    UNIQUE KEY uq_participants_phone (tenant_id, phone),
    KEY ix_participants_name (tenant_id, name, id),
    KEY ix_participants_type_name (tenant_id, type, name, id),
    CONSTRAINT fk_participants_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One row per device login. subject_id is a participant (tenant_id set) or a
-- superadmin (tenant_id NULL).
CREATE TABLE sessions (
    id             BINARY(16)   NOT NULL,
    tenant_id      BINARY(16)   NULL,
    subject_id     BINARY(16)   NOT NULL,
    role           VARCHAR(16)  NOT NULL,
    device_name    VARCHAR(120) NULL,
    user_agent     VARCHAR(255) NULL,
    ip             VARCHAR(45)  NULL,
    created_at     DATETIME(3)  NOT NULL,
    last_used_at   DATETIME(3)  NOT NULL,
    expires_at     DATETIME(3)  NOT NULL,
    revoked_at     DATETIME(3)  NULL,
    revoked_reason VARCHAR(32)  NULL,
    PRIMARY KEY (id),
    KEY ix_sessions_subject (tenant_id, subject_id, revoked_at),
    CONSTRAINT fk_sessions_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Every refresh token a session was ever given, hashed. The unused one is
-- current; presenting a used one again means it was stolen or replayed, and
-- revokes the session.
CREATE TABLE session_refresh_tokens (
    session_id BINARY(16)  NOT NULL,
    token_hash BINARY(32)  NOT NULL,
    created_at DATETIME(3) NOT NULL,
    used_at    DATETIME(3) NULL,
    PRIMARY KEY (session_id, token_hash),
    CONSTRAINT fk_refresh_session FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- casbin rules of each tenant (the domain). The platform's own rules are
-- built in, not stored. v1 (p) / v2 (g) repeats the tenant id as casbin's
-- domain string; tenant_id is the same value as bytes, for scoping.
CREATE TABLE casbin_rules (
    tenant_id BINARY(16)   NOT NULL,
    ptype     VARCHAR(8)   CHARACTER SET ascii NOT NULL,
    v0        VARCHAR(128) CHARACTER SET ascii NOT NULL DEFAULT '',
    v1        VARCHAR(128) CHARACTER SET ascii NOT NULL DEFAULT '',
    v2        VARCHAR(128) CHARACTER SET ascii NOT NULL DEFAULT '',
    v3        VARCHAR(128) CHARACTER SET ascii NOT NULL DEFAULT '',
    v4        VARCHAR(128) CHARACTER SET ascii NOT NULL DEFAULT '',
    v5        VARCHAR(128) CHARACTER SET ascii NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, ptype, v0, v1, v2, v3, v4, v5),
    CONSTRAINT fk_casbin_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB;

CREATE TABLE audit_log (
    id          BINARY(16)   NOT NULL,
    tenant_id   BINARY(16)   NULL,
    actor_id    BINARY(16)   NULL,
    actor_role  VARCHAR(16)  NOT NULL,
    action      VARCHAR(64)  NOT NULL,
    target_type VARCHAR(32)  NULL,
    target_id   BINARY(16)   NULL,
    detail      TEXT         NULL,
    ip          VARCHAR(45)  NULL,
    created_at  DATETIME(3)  NOT NULL,
    PRIMARY KEY (id),
    KEY ix_audit_tenant_id (tenant_id, id),
    KEY ix_audit_tenant_action (tenant_id, action, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
