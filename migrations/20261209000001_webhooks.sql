-- Webhooks for third parties: each tenant's endpoints, and one delivery
-- per endpoint per event, written by the webhooks worker in the
-- transaction that reads the log (so exactly one per event and endpoint,
-- whatever crashes), then sent at least once with the same id.
CREATE TABLE webhook_endpoints (
    tenant_id       BINARY(16)     NOT NULL,
    id              BINARY(16)     NOT NULL,
    url             VARCHAR(2048)  NOT NULL,
    description     VARCHAR(255)   NULL,
    -- The event types sent, a JSON array: ["message.created", ...].
    event_types     JSON           NOT NULL,
    enabled         BOOLEAN        NOT NULL,
    -- Why it was turned off by Samvad (410 Gone, failing for days).
    disabled_reason VARCHAR(255)   NULL,
    -- The signing secret (whsec_...), sealed under the data key.
    sealed_secret   VARBINARY(512) NOT NULL,
    -- The first failure since the last success: failing for three days
    -- turns the endpoint off.
    failing_since   DATETIME(3)    NULL,
    created_at      DATETIME(3)    NOT NULL,
    updated_at      DATETIME(3)    NOT NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_webhook_endpoints_enabled (tenant_id, enabled),
    CONSTRAINT fk_webhook_endpoints_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One event to one endpoint. Its id is the `webhook-id` of every attempt;
-- the body is fixed when it is made, so a retry sends the same bytes.
-- `sending` is claimed (a crash leaves it; after a while it is tried
-- again); `sent` is final; failures wait out the retry schedule, then
-- `failed`. The console lists the newest, and can send one again.
CREATE TABLE webhook_deliveries (
    tenant_id     BINARY(16)        NOT NULL,
    id            BINARY(16)        NOT NULL,
    endpoint_id   BINARY(16)        NOT NULL,
    event_type    VARCHAR(32)       NOT NULL,
    -- The log entry it came from (none for a test event).
    position      BIGINT UNSIGNED   NULL,
    body          MEDIUMTEXT        NOT NULL,
    state         ENUM('pending', 'sending', 'sent', 'failed') NOT NULL,
    attempts      SMALLINT UNSIGNED NOT NULL,
    next_at       DATETIME(3)       NOT NULL,
    claimed_at    DATETIME(3)       NULL,
    -- The last attempt: the receiver's status and first bytes, or why none.
    status_code   SMALLINT UNSIGNED NULL,
    response_body VARCHAR(512)      NULL,
    error         VARCHAR(255)      NULL,
    latency_ms    INT UNSIGNED      NULL,
    sent_at       DATETIME(3)       NULL,
    created_at    DATETIME(3)       NOT NULL,
    updated_at    DATETIME(3)       NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE KEY uq_webhook_deliveries_once (tenant_id, endpoint_id, position, event_type),
    KEY ix_webhook_deliveries_due (state, next_at),
    KEY ix_webhook_deliveries_log (tenant_id, endpoint_id, created_at),
    KEY ix_webhook_deliveries_created (created_at),
    CONSTRAINT fk_webhook_deliveries_endpoint FOREIGN KEY (tenant_id, endpoint_id)
        REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Webhooks start from now: history already in the log sends nothing.
INSERT INTO log_checkpoints (name, position, updated_at)
SELECT 'webhooks', position, NOW(3) FROM log_head WHERE id = 1;
