-- Files: photos, voice notes, videos and documents, stored in the object
-- storage (disk or S3) under t/<tenant>/<file>/<variant>; this table is
-- their truth. A row is made (state 'storing') before its object is put, so
-- an upload cut off by a crash leaves a row that the sweeper finds and
-- cleans; it turns 'ready' once the object is stored and checked, and
-- 'deleted' when it is to go (the sweeper removes the objects, then the row).
CREATE TABLE files (
    tenant_id     BINARY(16)       NOT NULL,
    id            BINARY(16)       NOT NULL,
    uploader_id   BINARY(16)       NOT NULL,
    -- From the bytes (sniffed), never from the client's name or header.
    kind          ENUM('image', 'audio', 'video', 'file') NOT NULL,
    mime_type     VARCHAR(127)     NOT NULL,
    name          VARCHAR(255)     NOT NULL,
    -- Bytes of the stored original (what is served).
    size          BIGINT UNSIGNED  NOT NULL,
    -- SHA-256 of what is served: the ETag.
    sha256        BINARY(32)       NOT NULL,
    width         INT UNSIGNED     NULL,
    height        INT UNSIGNED     NULL,
    duration_ms   INT UNSIGNED     NULL,
    -- A voice note's waveform: JSON array of at most 100 numbers 0-1.
    waveform      VARCHAR(1200)    NULL,
    -- Something a browser could run (HTML, SVG, XML, JavaScript): served
    -- only as an attachment, sandboxed.
    active        TINYINT(1)       NOT NULL,
    state         ENUM('storing', 'ready', 'deleted') NOT NULL,
    -- Thumbnails of images, made by a worker: none (not an image),
    -- pending, ready, failed.
    thumbs        ENUM('none', 'pending', 'ready', 'failed') NOT NULL,
    -- JSON: {"small":{"width","height","size"},"medium":{...}} once made.
    thumb_sizes   VARCHAR(255)     NULL,
    thumb_bytes   BIGINT UNSIGNED  NOT NULL DEFAULT 0,
    thumb_attempts TINYINT UNSIGNED NOT NULL DEFAULT 0,
    created_at    DATETIME(3)      NOT NULL,
    -- First sent in a message; unsent files are removed after a day.
    sent_at       DATETIME(3)      NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_files_state (state, sent_at, created_at),
    KEY ix_files_thumbs (thumbs, created_at),
    KEY ix_files_uploader (tenant_id, uploader_id, created_at),
    CONSTRAINT fk_files_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The files a message carries, in order (an album has up to ten).
CREATE TABLE message_files (
    tenant_id  BINARY(16)       NOT NULL,
    message_id BINARY(16)       NOT NULL,
    position   TINYINT UNSIGNED NOT NULL,
    file_id    BINARY(16)       NOT NULL,
    PRIMARY KEY (tenant_id, message_id, position),
    KEY ix_message_files_file (tenant_id, file_id)
) ENGINE = InnoDB;

ALTER TABLE messages
    MODIFY type ENUM('text', 'image', 'audio', 'video', 'file', 'system', 'call') NOT NULL;
