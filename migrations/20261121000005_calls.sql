-- Calls: one row per call with its state machine, Agora channel and timings;
-- the "lines" that make busy detection race-free; each tenant's Agora
-- credentials (sealed); and the calls rules for tenants created before.

CREATE TABLE calls (
    tenant_id       BINARY(16)  NOT NULL,
    id              BINARY(16)  NOT NULL,
    caller_id       BINARY(16)  NOT NULL,
    caller_type     ENUM('user', 'astrologer', 'admin') NOT NULL,
    callee_id       BINARY(16)  NOT NULL,
    callee_type     ENUM('user', 'astrologer', 'admin') NOT NULL,
    call_type       ENUM('voice', 'video') NOT NULL,
    -- agora: media through Agora with server-issued tokens; webrtc: P2P
    -- media, the server relays signalling (Backend1's call:invite...).
    transport       ENUM('agora', 'webrtc') NOT NULL,
    status          ENUM('initiated', 'ringing', 'answered', 'ongoing', 'ended',
                         'rejected', 'missed', 'failed', 'busy') NOT NULL,
    channel_name    VARCHAR(64) CHARACTER SET ascii NOT NULL,
    caller_uid      INT UNSIGNED NOT NULL,
    callee_uid      INT UNSIGNED NOT NULL,
    conversation_id BINARY(16)  NULL,
    consultation_id BINARY(16)  NULL,
    initiated_at    DATETIME(3) NOT NULL,
    -- While ringing: when the call becomes missed. Persisted so a sweeper
    -- still times the call out after a restart.
    ring_deadline   DATETIME(3) NULL,
    answered_at     DATETIME(3) NULL,
    ended_at        DATETIME(3) NULL,
    duration_secs   INT UNSIGNED NULL,
    end_reason      ENUM('completed', 'rejected', 'no_answer', 'network_error',
                         'cancelled', 'busy') NULL,
    ended_by        BINARY(16)  NULL,
    updated_at      DATETIME(3) NOT NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_calls_caller (tenant_id, caller_id, initiated_at),
    KEY ix_calls_callee (tenant_id, callee_id, initiated_at),
    KEY ix_calls_initiated (tenant_id, initiated_at, id),
    -- The sweeper's scan over every tenant (the one cross-tenant query).
    KEY ix_calls_deadline (ring_deadline),
    CONSTRAINT fk_calls_caller FOREIGN KEY (tenant_id, caller_id) REFERENCES participants (tenant_id, id),
    CONSTRAINT fk_calls_callee FOREIGN KEY (tenant_id, callee_id) REFERENCES participants (tenant_id, id)
) ENGINE = InnoDB;

-- One row per participant in a live call (initiated, ringing, answered,
-- ongoing). Taking both lines in the initiating transaction makes "busy"
-- exact even when two calls start at once.
CREATE TABLE call_lines (
    tenant_id      BINARY(16) NOT NULL,
    participant_id BINARY(16) NOT NULL,
    call_id        BINARY(16) NOT NULL,
    PRIMARY KEY (tenant_id, participant_id),
    KEY ix_call_lines_call (tenant_id, call_id),
    CONSTRAINT fk_call_lines_call FOREIGN KEY (tenant_id, call_id) REFERENCES calls (tenant_id, id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- The tenant's Agora app id and certificate, sealed with AES-256-GCM under
-- the data key (SAMVAD_DATA_KEY), the tenant id as associated data.
CREATE TABLE tenant_agora (
    tenant_id  BINARY(16)     NOT NULL,
    sealed     VARBINARY(512) NOT NULL,
    updated_at DATETIME(3)    NOT NULL,
    PRIMARY KEY (tenant_id),
    CONSTRAINT fk_tenant_agora_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- Tenants created before calls existed get the default calls rules.
INSERT IGNORE INTO casbin_rules (tenant_id, ptype, v0, v1, v2, v3)
SELECT t.id, 'p', r.role, LOWER(CONCAT_WS('-', HEX(SUBSTR(t.id, 1, 4)), HEX(SUBSTR(t.id, 5, 2)),
       HEX(SUBSTR(t.id, 7, 2)), HEX(SUBSTR(t.id, 9, 2)), HEX(SUBSTR(t.id, 11, 6)))), 'calls', r.action
FROM tenants t
CROSS JOIN (
    SELECT 'admin' AS role, 'read' AS action UNION ALL SELECT 'admin', 'write'
    UNION ALL SELECT 'astrologer', 'read' UNION ALL SELECT 'astrologer', 'write'
    UNION ALL SELECT 'user', 'read' UNION ALL SELECT 'user', 'write'
    UNION ALL SELECT 'key:calls', 'read' UNION ALL SELECT 'key:calls', 'write'
) r;
