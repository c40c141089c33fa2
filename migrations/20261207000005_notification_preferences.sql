-- What a participant wants pushed (all, only mentions and calls, nothing)
-- and their quiet hours (minutes after local midnight, with the UTC offset
-- they are given in). Absent: everything, no quiet hours.
CREATE TABLE notification_preferences (
    tenant_id          BINARY(16)  NOT NULL,
    participant_id     BINARY(16)  NOT NULL,
    push               ENUM('all', 'mentions_and_calls', 'none') NOT NULL,
    quiet_start        SMALLINT UNSIGNED NULL,
    quiet_end          SMALLINT UNSIGNED NULL,
    utc_offset_minutes SMALLINT    NOT NULL,
    updated_at         DATETIME(3) NOT NULL,
    PRIMARY KEY (tenant_id, participant_id),
    CONSTRAINT fk_notification_preferences_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB;
