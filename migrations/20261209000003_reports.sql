-- Reports: a participant reports a message or a participant; the tenant's
-- admins settle each (dismissed, the participant blocked, the message
-- deleted for everyone).
CREATE TABLE reports (
    tenant_id       BINARY(16)    NOT NULL,
    id              BINARY(16)    NOT NULL,
    reporter_id     BINARY(16)    NOT NULL,
    -- The participant reported (a reported message's sender).
    participant_id  BINARY(16)    NOT NULL,
    message_id      BINARY(16)    NULL,
    conversation_id BINARY(16)    NULL,
    reason          VARCHAR(32)   NOT NULL,
    details         VARCHAR(1000) NULL,
    status          ENUM('open', 'dismissed', 'actioned') NOT NULL,
    resolution      VARCHAR(32)   NULL,
    resolved_by     BINARY(16)    NULL,
    resolved_at     DATETIME(3)   NULL,
    created_at      DATETIME(3)   NOT NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_reports_queue (tenant_id, status, created_at),
    KEY ix_reports_subject (tenant_id, participant_id, status),
    KEY ix_reports_created (created_at),
    CONSTRAINT fk_reports_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
