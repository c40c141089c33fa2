-- The log: every committed message (and the other events that workers and
-- other nodes need) at a global, strictly increasing position, so a reader
-- can take everything after a checkpoint and lose nothing across a crash.
--
-- Positions are not an AUTO_INCREMENT: that value is taken at insert, not at
-- commit, so a reader of "after N" could pass a lower position that commits
-- later (the outbox gap). A writer takes its positions from the single row
-- of log_head instead, as the last statement before its commit; the row
-- stays locked until that commit, so the next writer's positions come after
-- a commit (or a rollback, which gives them back). Positions therefore
-- become visible in order, without gaps: reading after N is safe.
CREATE TABLE log_head (
    id       TINYINT UNSIGNED NOT NULL,
    position BIGINT UNSIGNED  NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB;

INSERT INTO log_head (id, position) VALUES (1, 0);

CREATE TABLE event_log (
    position        BIGINT UNSIGNED NOT NULL,
    tenant_id       BINARY(16)      NOT NULL,
    -- message.created, message.updated, message.deleted,
    -- chat_request.created, chat_request.answered, call.ended...
    kind            VARCHAR(32)     NOT NULL,
    conversation_id BINARY(16)      NULL,
    -- The message, call or chat request the entry is about.
    subject_id      BINARY(16)      NOT NULL,
    -- The message's seq in its conversation, for message entries.
    seq             BIGINT UNSIGNED NULL,
    created_at      DATETIME(3)     NOT NULL,
    PRIMARY KEY (position),
    KEY ix_event_log_tenant (tenant_id, position)
) ENGINE = InnoDB;
