-- Push notifications (FCM and APNs), driven from the database so that a
-- crash loses none and a restart sends none twice.
--
-- Each tenant's provider credentials, sealed at rest under the data key
-- (like the Agora certificate): the FCM service account, the APNs .p8 key.
CREATE TABLE tenant_push (
    tenant_id  BINARY(16)  NOT NULL,
    provider   ENUM('fcm', 'apns') NOT NULL,
    sealed     VARBINARY(8192) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (tenant_id, provider),
    CONSTRAINT fk_tenant_push_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- What should reach a participant's phones: written by the notifications
-- worker in the transaction that reads the log (so exactly one per event),
-- due after a short grace (a reconnecting phone gets the socket event
-- instead). While one waits, later messages of the same conversation fold
-- into it (`pending_key`), so a burst makes one push. The push worker
-- expands a due one into deliveries, one per device, or skips it and says
-- why (online, muted, preferences, quiet hours, no devices).
CREATE TABLE pushes (
    tenant_id       BINARY(16)   NOT NULL,
    id              BINARY(16)   NOT NULL,
    participant_id  BINARY(16)   NOT NULL,
    -- notification (an alert for an inbox entry), call (ring), call_cancel
    kind            VARCHAR(16)  NOT NULL,
    notification_id BINARY(16)   NULL,
    -- The call, for call and call_cancel.
    call_id         BINARY(16)   NULL,
    -- `n:<notification>` or `c:<call>` while pending; NULL after.
    pending_key     VARCHAR(40)  NULL,
    state           ENUM('pending', 'expanded', 'skipped') NOT NULL,
    reason          VARCHAR(32)  NULL,
    due_at          DATETIME(3)  NOT NULL,
    created_at      DATETIME(3)  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE KEY uq_pushes_pending (tenant_id, participant_id, pending_key),
    KEY ix_pushes_due (state, due_at),
    KEY ix_pushes_call (tenant_id, call_id),
    KEY ix_pushes_created (created_at),
    CONSTRAINT fk_pushes_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- One push to one device: the delivered-once marker. `sending` is claimed
-- (a crash leaves it; after a while it is tried again, with the same
-- collapse id, so a phone shows it once); `sent` is final. Failures are
-- retried with backoff (or the provider's Retry-After) up to a bound, then
-- `failed` with the reason. The console lists the newest.
CREATE TABLE push_deliveries (
    tenant_id     BINARY(16)   NOT NULL,
    id            BINARY(16)   NOT NULL,
    push_id       BINARY(16)   NOT NULL,
    participant_id BINARY(16)  NOT NULL,
    device_id     BINARY(16)   NOT NULL,
    provider      ENUM('fcm', 'apns') NOT NULL,
    -- What is sent: alert, call (FCM high-priority data / APNs VoIP), cancel.
    kind          VARCHAR(16)  NOT NULL,
    -- What the phone shows (title, body, badge, data, collapse id), fixed
    -- when the push is expanded so that a retry sends the same. The token
    -- is read from the device at each attempt: a device deleted meanwhile
    -- makes the delivery `dropped`.
    payload       JSON         NOT NULL,
    state         ENUM('pending', 'sending', 'sent', 'failed', 'dropped') NOT NULL,
    attempts      SMALLINT UNSIGNED NOT NULL,
    next_at       DATETIME(3)  NOT NULL,
    claimed_at    DATETIME(3)  NULL,
    status_code   SMALLINT UNSIGNED NULL,
    error         VARCHAR(255) NULL,
    latency_ms    INT UNSIGNED NULL,
    sent_at       DATETIME(3)  NULL,
    created_at    DATETIME(3)  NOT NULL,
    updated_at    DATETIME(3)  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE KEY uq_push_deliveries_once (tenant_id, push_id, device_id),
    KEY ix_push_deliveries_due (state, next_at),
    KEY ix_push_deliveries_log (tenant_id, created_at),
    KEY ix_push_deliveries_created (created_at),
    CONSTRAINT fk_push_deliveries_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- Email digests: when each participant was last sent one.
CREATE TABLE notification_digests (
    tenant_id      BINARY(16)  NOT NULL,
    participant_id BINARY(16)  NOT NULL,
    -- pending: claimed, the mail not yet confirmed sent.
    state          ENUM('pending', 'sent', 'failed') NOT NULL,
    unread         INT UNSIGNED NOT NULL,
    error          VARCHAR(255) NULL,
    sent_at        DATETIME(3) NOT NULL,
    PRIMARY KEY (tenant_id, participant_id),
    CONSTRAINT fk_notification_digests_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- Announcements from a tenant's admins: to all its users, all its
-- astrologers, or one participant. Logged (broadcast.sent), so the
-- notifications worker makes the inbox entries and pushes from the log.
CREATE TABLE broadcasts (
    tenant_id      BINARY(16)   NOT NULL,
    id             BINARY(16)   NOT NULL,
    audience       ENUM('users', 'astrologers', 'participant') NOT NULL,
    participant_id BINARY(16)   NULL,
    title          VARCHAR(255) NOT NULL,
    body           VARCHAR(255) NOT NULL,
    created_by     BINARY(16)   NULL,
    created_at     DATETIME(3)  NOT NULL,
    -- The notifications worker makes a broadcast's entries a chunk of
    -- recipients per transaction (by id): the last one done.
    fanout_after   BINARY(16)   NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_broadcasts_created (tenant_id, created_at),
    CONSTRAINT fk_broadcasts_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The digest worker looks for unread message notifications every minute.
ALTER TABLE notifications ADD KEY ix_notifications_unread (kind, read_at, created_at);
