-- Privacy: retention, erasure and export read by time and by sender.
ALTER TABLE messages ADD KEY ix_messages_created (tenant_id, created_at),
                     ADD KEY ix_messages_sender (tenant_id, sender_id, created_at);
ALTER TABLE calls ADD KEY ix_calls_ended (tenant_id, ended_at);
ALTER TABLE audit_log ADD KEY ix_audit_created (tenant_id, created_at);

-- When a participant was erased (anonymised for good); NULL otherwise.
ALTER TABLE participants ADD COLUMN erased_at DATETIME(3) NULL;

-- A participant asking to be erased; the tenant's admins confirm (the
-- erasure settles the request) or turn it down.
CREATE TABLE erasure_requests (
    tenant_id      BINARY(16)   NOT NULL,
    id             BINARY(16)   NOT NULL,
    participant_id BINARY(16)   NOT NULL,
    reason         VARCHAR(500) NULL,
    status         ENUM('pending', 'done', 'declined') NOT NULL,
    created_at     DATETIME(3)  NOT NULL,
    settled_at     DATETIME(3)  NULL,
    settled_by     BINARY(16)   NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_erasure_requests_queue (tenant_id, status, created_at),
    KEY ix_erasure_requests_participant (tenant_id, participant_id, status),
    CONSTRAINT fk_erasure_requests_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
