-- The off-platform contact guard: each message (or edit) between a user and
-- an astrologer that carried contact details, refused or delivered masked,
-- for the tenant's admins. `excerpt` is the text as the sender wrote it.
CREATE TABLE contact_flags (
    tenant_id       BINARY(16)   NOT NULL,
    id              BINARY(16)   NOT NULL,
    conversation_id BINARY(16)   NOT NULL,
    sender_id       BINARY(16)   NOT NULL,
    -- The message as delivered (masked); NULL when it was refused.
    message_id      BINARY(16)   NULL,
    action          ENUM('blocked', 'masked') NOT NULL,
    -- phone, email, link, handle, pattern (comma-separated)
    kinds           VARCHAR(64)  NOT NULL,
    excerpt         VARCHAR(255) NOT NULL,
    created_at      DATETIME(3)  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_contact_flags_newest (tenant_id, created_at),
    KEY ix_contact_flags_sender (tenant_id, sender_id, created_at),
    KEY ix_contact_flags_created (created_at),
    CONSTRAINT fk_contact_flags_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
