-- The in-app inbox. Made by the notifications worker from the log
-- (event_log), never from the in-process bus alone, so a crash between a
-- message's commit and its notification loses nothing: the worker reads
-- from its checkpoint, and writes the notifications and the new checkpoint
-- in one transaction, so nothing is made twice either.
CREATE TABLE notifications (
    tenant_id       BINARY(16)      NOT NULL,
    id              BINARY(16)      NOT NULL,
    participant_id  BINARY(16)      NOT NULL,
    -- message, missed_call, chat_request, chat_request_answered
    kind            VARCHAR(32)     NOT NULL,
    conversation_id BINARY(16)      NULL,
    -- The newest message, call or chat request it is about.
    subject_id      BINARY(16)      NOT NULL,
    -- The newest message's seq, for messages.
    seq             BIGINT UNSIGNED NULL,
    title           VARCHAR(255)    NOT NULL,
    body            VARCHAR(255)    NOT NULL,
    -- Messages collapsed into it (one unread notification per conversation).
    count           INT UNSIGNED    NOT NULL,
    -- `c:<conversation>` while an unread message notification collects the
    -- conversation's messages; NULL otherwise (NULLs never collide).
    collapse_key    VARCHAR(40)     NULL,
    read_at         DATETIME(3)     NULL,
    created_at      DATETIME(3)     NOT NULL,
    updated_at      DATETIME(3)     NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE KEY uq_notifications_collapse (tenant_id, participant_id, collapse_key),
    KEY ix_notifications_inbox (tenant_id, participant_id, updated_at, id),
    KEY ix_notifications_created (created_at),
    CONSTRAINT fk_notifications_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Where each reader of the log has got to. Its row is locked while a
-- reader works, so with several nodes one works at a time.
CREATE TABLE log_checkpoints (
    name       VARCHAR(64)     NOT NULL,
    position   BIGINT UNSIGNED NOT NULL,
    updated_at DATETIME(3)     NOT NULL,
    PRIMARY KEY (name)
) ENGINE = InnoDB;

-- The inbox starts from now: history already in the log makes none.
INSERT INTO log_checkpoints (name, position, updated_at)
SELECT 'notifications', position, NOW(3) FROM log_head WHERE id = 1;
