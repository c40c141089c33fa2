-- Messaging: conversations and their members, messages with per-conversation
-- sequence numbers, reactions and per-member hides; and the relationship
-- facts the messaging rules read: consultations, chat requests, blocks.

CREATE TABLE conversations (
    tenant_id            BINARY(16)   NOT NULL,
    id                   BINARY(16)   NOT NULL,
    type                 ENUM('admin_astrologer', 'user_astrologer', 'group') NOT NULL,
    context_type         ENUM('consultation', 'service_request', 'support', 'general') NOT NULL DEFAULT 'general',
    -- The tenant's own id of the consultation or request (not ours).
    context_id           VARCHAR(64)  NULL,
    title                VARCHAR(120) NULL,
    -- Direct conversations: SHA-256 of the sorted pair and the context, so
    -- one pair has one conversation per context even under racing creates.
    pair_key             BINARY(32)   NULL,
    is_active            BOOLEAN      NOT NULL DEFAULT TRUE,
    created_by           BINARY(16)   NULL,
    -- The seq of the newest message; the next message takes last_seq + 1.
    last_seq             BIGINT UNSIGNED NOT NULL DEFAULT 0,
    last_message_id      BINARY(16)   NULL,
    last_message_at      DATETIME(3)  NULL,
    last_message_sender  BINARY(16)   NULL,
    last_message_type    VARCHAR(16)  NULL,
    last_message_preview VARCHAR(200) NULL,
    -- The newest message's time, or the creation time: lists sort by it.
    activity_at          DATETIME(3)  NOT NULL,
    created_at           DATETIME(3)  NOT NULL,
    updated_at           DATETIME(3)  NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE KEY uq_conversations_pair (tenant_id, pair_key),
    KEY ix_conversations_activity (tenant_id, activity_at, id),
    CONSTRAINT fk_conversations_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE conversation_members (
    tenant_id        BINARY(16)  NOT NULL,
    conversation_id  BINARY(16)  NOT NULL,
    participant_id   BINARY(16)  NOT NULL,
    role             ENUM('owner', 'admin', 'member') NOT NULL DEFAULT 'member',
    -- Receipt cursors: everything up to this seq was delivered / read.
    delivered_seq    BIGINT UNSIGNED NOT NULL DEFAULT 0,
    read_seq         BIGINT UNSIGNED NOT NULL DEFAULT 0,
    muted            BOOLEAN     NOT NULL DEFAULT FALSE,
    -- Delete-for-me of the whole conversation: messages up to this seq are
    -- gone for this member; the conversation shows again on a newer message.
    cleared_seq      BIGINT UNSIGNED NOT NULL DEFAULT 0,
    hidden           BOOLEAN     NOT NULL DEFAULT FALSE,
    joined_at        DATETIME(3) NOT NULL,
    left_at          DATETIME(3) NULL,
    PRIMARY KEY (tenant_id, conversation_id, participant_id),
    KEY ix_members_participant (tenant_id, participant_id, left_at, conversation_id),
    CONSTRAINT fk_members_conversation FOREIGN KEY (tenant_id, conversation_id)
        REFERENCES conversations (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_members_participant FOREIGN KEY (tenant_id, participant_id)
        REFERENCES participants (tenant_id, id)
) ENGINE = InnoDB;

-- seq is gap-free per conversation: it is taken from conversations.last_seq
-- in the same transaction as the insert. The FULLTEXT index cannot lead with
-- tenant_id (MySQL keeps it apart); every search also filters by tenant and
-- by the caller's conversations.
CREATE TABLE messages (
    tenant_id          BINARY(16)    NOT NULL,
    conversation_id    BINARY(16)    NOT NULL,
    seq                BIGINT UNSIGNED NOT NULL,
    id                 BINARY(16)    NOT NULL,
    sender_id          BINARY(16)    NULL,
    type               ENUM('text', 'image', 'audio', 'file', 'system', 'call') NOT NULL,
    content            TEXT          NULL,
    media_url          VARCHAR(2048) NULL,
    -- Type-specific details as JSON (file name and size, call outcome...).
    metadata           TEXT          NULL,
    reply_to_id        BINARY(16)    NULL,
    forwarded_from_id  BINARY(16)    NULL,
    client_msg_id      VARCHAR(64)   NULL,
    created_at         DATETIME(3)   NOT NULL,
    edited_at          DATETIME(3)   NULL,
    deleted_at         DATETIME(3)   NULL,
    PRIMARY KEY (tenant_id, conversation_id, seq),
    UNIQUE KEY uq_messages_id (tenant_id, id),
    UNIQUE KEY uq_messages_client (tenant_id, sender_id, client_msg_id),
    FULLTEXT KEY ft_messages_content (content),
    CONSTRAINT fk_messages_conversation FOREIGN KEY (tenant_id, conversation_id)
        REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Delete-for-me of single messages.
CREATE TABLE message_hides (
    tenant_id      BINARY(16)  NOT NULL,
    participant_id BINARY(16)  NOT NULL,
    message_id     BINARY(16)  NOT NULL,
    created_at     DATETIME(3) NOT NULL,
    PRIMARY KEY (tenant_id, participant_id, message_id)
) ENGINE = InnoDB;

-- One reaction per participant per message.
CREATE TABLE message_reactions (
    tenant_id      BINARY(16)  NOT NULL,
    message_id     BINARY(16)  NOT NULL,
    participant_id BINARY(16)  NOT NULL,
    emoji          VARCHAR(32) NOT NULL,
    created_at     DATETIME(3) NOT NULL,
    PRIMARY KEY (tenant_id, message_id, participant_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Recorded by the tenant's backend: the relationship a user and an
-- astrologer have.
CREATE TABLE consultations (
    tenant_id     BINARY(16)  NOT NULL,
    id            BINARY(16)  NOT NULL,
    user_id       BINARY(16)  NOT NULL,
    astrologer_id BINARY(16)  NOT NULL,
    status        ENUM('requested', 'active', 'completed', 'cancelled') NOT NULL,
    external_id   VARCHAR(64) NULL,
    created_at    DATETIME(3) NOT NULL,
    updated_at    DATETIME(3) NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE KEY uq_consultations_external (tenant_id, external_id),
    KEY ix_consultations_pair (tenant_id, user_id, astrologer_id, status),
    KEY ix_consultations_astrologer (tenant_id, astrologer_id, user_id),
    CONSTRAINT fk_consultations_user FOREIGN KEY (tenant_id, user_id) REFERENCES participants (tenant_id, id),
    CONSTRAINT fk_consultations_astrologer FOREIGN KEY (tenant_id, astrologer_id) REFERENCES participants (tenant_id, id)
) ENGINE = InnoDB;

CREATE TABLE chat_requests (
    tenant_id   BINARY(16)   NOT NULL,
    id          BINARY(16)   NOT NULL,
    from_id     BINARY(16)   NOT NULL,
    to_id       BINARY(16)   NOT NULL,
    status      ENUM('pending', 'accepted', 'declined', 'cancelled') NOT NULL,
    note        VARCHAR(500) NULL,
    created_at  DATETIME(3)  NOT NULL,
    answered_at DATETIME(3)  NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_chat_requests_to (tenant_id, to_id, status, created_at),
    KEY ix_chat_requests_pair (tenant_id, from_id, to_id, status),
    CONSTRAINT fk_chat_requests_from FOREIGN KEY (tenant_id, from_id) REFERENCES participants (tenant_id, id),
    CONSTRAINT fk_chat_requests_to FOREIGN KEY (tenant_id, to_id) REFERENCES participants (tenant_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- A participant blocked by another may not message or call them.
CREATE TABLE blocks (
    tenant_id  BINARY(16)  NOT NULL,
    blocker_id BINARY(16)  NOT NULL,
    blocked_id BINARY(16)  NOT NULL,
    created_at DATETIME(3) NOT NULL,
    PRIMARY KEY (tenant_id, blocker_id, blocked_id),
    KEY ix_blocks_blocked (tenant_id, blocked_id, blocker_id)
) ENGINE = InnoDB;

-- Rules for the new objects, for tenants that exist already (new tenants
-- get them from default_policy.csv).
INSERT IGNORE INTO casbin_rules (tenant_id, ptype, v0, v1, v2, v3)
SELECT t.id, 'p', r.role,
       LOWER(CONCAT_WS('-', SUBSTR(HEX(t.id), 1, 8), SUBSTR(HEX(t.id), 9, 4), SUBSTR(HEX(t.id), 13, 4),
                       SUBSTR(HEX(t.id), 17, 4), SUBSTR(HEX(t.id), 21, 12))),
       r.object, r.action
FROM tenants t
CROSS JOIN (
    SELECT 'admin' AS role, 'conversations' AS object, 'read' AS action
    UNION ALL SELECT 'admin', 'conversations', 'write'
    UNION ALL SELECT 'astrologer', 'conversations', 'read'
    UNION ALL SELECT 'astrologer', 'conversations', 'write'
    UNION ALL SELECT 'user', 'conversations', 'read'
    UNION ALL SELECT 'user', 'conversations', 'write'
    UNION ALL SELECT 'admin', 'groups', 'write'
    UNION ALL SELECT 'admin', 'consultations', 'read'
    UNION ALL SELECT 'admin', 'consultations', 'write'
    UNION ALL SELECT 'astrologer', 'consultations', 'read'
    UNION ALL SELECT 'user', 'consultations', 'read'
    UNION ALL SELECT 'key:read', 'consultations', 'read'
    UNION ALL SELECT 'key:write', 'consultations', 'write'
    UNION ALL SELECT 'astrologer', 'chat_requests', 'read'
    UNION ALL SELECT 'astrologer', 'chat_requests', 'write'
    UNION ALL SELECT 'user', 'chat_requests', 'read'
    UNION ALL SELECT 'user', 'chat_requests', 'write'
    UNION ALL SELECT 'admin', 'chat_requests', 'read'
) r;
