-- Phones and desktops that receive push notifications. A device belongs to
-- the session that registered it: it counts only while that session is
-- live (logout, revocation or expiry end it at once; upkeep deletes it
-- later). A token registered again (after a logout, by another account on
-- the same phone) moves to the new session.
CREATE TABLE devices (
    tenant_id      BINARY(16)       NOT NULL,
    id             BINARY(16)       NOT NULL,
    participant_id BINARY(16)       NOT NULL,
    session_id     BINARY(16)       NOT NULL,
    platform       ENUM('fcm', 'apns') NOT NULL,
    token          VARCHAR(512)     NOT NULL,
    -- SHA-256 of the token: tokens are case-sensitive, the table's
    -- collation is not, so uniqueness is on the digest.
    token_sha256   BINARY(32)       NOT NULL,
    -- FCM: the app's package; APNs: the bundle id (the topic).
    app_id         VARCHAR(255)     NULL,
    locale         VARCHAR(35)      NULL,
    -- An APNs VoIP (PushKit) token, for incoming calls.
    voip           TINYINT(1)       NOT NULL,
    created_at     DATETIME(3)      NOT NULL,
    updated_at     DATETIME(3)      NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE KEY uq_devices_token (tenant_id, platform, voip, token_sha256),
    KEY ix_devices_participant (tenant_id, participant_id),
    KEY ix_devices_session (session_id),
    CONSTRAINT fk_devices_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
