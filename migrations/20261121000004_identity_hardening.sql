-- Identity hardening (after review).

-- One row per destination and purpose: sending a code locks it, so racing
-- sends queue (and see each other's cooldown) instead of deadlocking on
-- gap locks of otp_codes.
CREATE TABLE otp_throttle (
    tenant_id    BINARY(16)   NOT NULL,
    destination  VARCHAR(254) NOT NULL,
    purpose      ENUM('register', 'login') NOT NULL,
    last_sent_at DATETIME(3)  NOT NULL,
    PRIMARY KEY (tenant_id, destination, purpose),
    CONSTRAINT fk_otp_throttle_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Old backends' ids are case-sensitive (Firebase uids, Mongo ids).
ALTER TABLE participants
    MODIFY legacy_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;

-- Accounts created by their holder with a password (POST /api/auth/register).
-- When a code later proves such an account's unverified contact, whoever
-- registered it is shut out (their sessions end, the password is cleared).
ALTER TABLE participants
    ADD COLUMN self_registered BOOLEAN NOT NULL DEFAULT FALSE;

-- Spent codes and links are purged tenant by tenant, by expiry.
ALTER TABLE otp_codes ADD KEY ix_otp_codes_expiry (tenant_id, expires_at);
ALTER TABLE account_tokens ADD KEY ix_account_tokens_expiry (tenant_id, expires_at);
