-- Identity: tenant settings, verified contacts, one-time codes, account
-- tokens (email verification, password reset), API keys, and sessions for
-- the tokens of the old backends.

-- Tunables of a tenant as JSON (domain::settings::TenantSettings); fields
-- missing from the JSON take their defaults, so new settings need no
-- migration.
CREATE TABLE tenant_settings (
    tenant_id  BINARY(16)  NOT NULL,
    settings   TEXT        NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (tenant_id),
    CONSTRAINT fk_settings_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

ALTER TABLE participants
    ADD COLUMN email_verified_at DATETIME(3) NULL AFTER email,
    ADD COLUMN phone_verified_at DATETIME(3) NULL AFTER phone,
    -- The id an account had in an old backend, for its old tokens.
    ADD COLUMN legacy_id VARCHAR(64) NULL,
    ADD UNIQUE KEY uq_participants_legacy (tenant_id, legacy_id);

-- An old backend's token maps to one session, found by a hash of what
-- identifies it (its sessionId, or its uid when it had none), so logout,
-- blocking and suspension apply to it like to any session.
ALTER TABLE sessions
    ADD COLUMN legacy_key BINARY(32) NULL,
    ADD UNIQUE KEY uq_sessions_legacy (tenant_id, legacy_key);

-- One-time codes sent by SMS or email. Only an HMAC of the code is stored.
-- A code is spent (consumed_at) when used, replaced by a newer one, or
-- out of attempts.
CREATE TABLE otp_codes (
    tenant_id   BINARY(16)   NOT NULL,
    id          BINARY(16)   NOT NULL,
    purpose     ENUM('register', 'login') NOT NULL,
    destination VARCHAR(254) NOT NULL,
    code_hash   BINARY(32)   NOT NULL,
    attempts    TINYINT UNSIGNED NOT NULL DEFAULT 0,
    created_at  DATETIME(3)  NOT NULL,
    expires_at  DATETIME(3)  NOT NULL,
    consumed_at DATETIME(3)  NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_otp_destination (tenant_id, destination, purpose, created_at),
    CONSTRAINT fk_otp_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Single-use tokens sent in email links. The link carries tenant, id and
-- secret; only the secret's SHA-256 is stored.
CREATE TABLE account_tokens (
    tenant_id      BINARY(16)   NOT NULL,
    id             BINARY(16)   NOT NULL,
    participant_id BINARY(16)   NOT NULL,
    purpose        ENUM('verify_email', 'reset_password') NOT NULL,
    email          VARCHAR(254) NOT NULL,
    token_hash     BINARY(32)   NOT NULL,
    created_at     DATETIME(3)  NOT NULL,
    expires_at     DATETIME(3)  NOT NULL,
    used_at        DATETIME(3)  NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_account_tokens_participant (tenant_id, participant_id, purpose),
    CONSTRAINT fk_account_tokens_participant FOREIGN KEY (tenant_id, participant_id)
        REFERENCES participants (tenant_id, id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Keys for third parties. The key carries tenant, id and secret; only the
-- secret's SHA-256 is stored. scopes: comma-separated read, write, calls, admin.
CREATE TABLE api_keys (
    tenant_id    BINARY(16)   NOT NULL,
    id           BINARY(16)   NOT NULL,
    name         VARCHAR(120) NOT NULL,
    secret_hash  BINARY(32)   NOT NULL,
    scopes       VARCHAR(64)  NOT NULL,
    created_by   BINARY(16)   NULL,
    created_at   DATETIME(3)  NOT NULL,
    last_used_at DATETIME(3)  NULL,
    revoked_at   DATETIME(3)  NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_api_keys_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Existing tenants get the rules this change adds to default_policy.csv
-- (new tenants are seeded from the file). The casbin domain is the tenant
-- id as a hyphenated lower-case UUID.
INSERT IGNORE INTO casbin_rules (tenant_id, ptype, v0, v1, v2, v3)
SELECT t.id, 'p', r.role,
       LOWER(CONCAT_WS('-', SUBSTR(HEX(t.id), 1, 8), SUBSTR(HEX(t.id), 9, 4), SUBSTR(HEX(t.id), 13, 4),
                       SUBSTR(HEX(t.id), 17, 4), SUBSTR(HEX(t.id), 21, 12))),
       r.object, r.action
FROM tenants t
CROSS JOIN (
    SELECT 'admin' AS role, 'settings' AS object, 'read' AS action
    UNION ALL SELECT 'admin', 'settings', 'write'
    UNION ALL SELECT 'admin', 'api_keys', 'read'
    UNION ALL SELECT 'admin', 'api_keys', 'write'
    UNION ALL SELECT 'key:read', 'directory', 'read'
    UNION ALL SELECT 'key:read', 'participants', 'read'
    UNION ALL SELECT 'key:write', 'participants', 'write'
    UNION ALL SELECT 'key:admin', 'participants', 'read'
    UNION ALL SELECT 'key:admin', 'participants', 'write'
    UNION ALL SELECT 'key:admin', 'policies', 'read'
    UNION ALL SELECT 'key:admin', 'audit', 'read'
    UNION ALL SELECT 'key:admin', 'settings', 'read'
    UNION ALL SELECT 'key:admin', 'settings', 'write'
) r;
