-- Thumbnails are claimed in a short transaction ('working', with the time
-- of the claim) and made with no lock held, so a send that locks the file
-- never waits for an image to be decoded. A claim older than a few minutes
-- (its worker died) is taken again.
ALTER TABLE files
    MODIFY thumbs ENUM('none', 'pending', 'working', 'ready', 'failed') NOT NULL,
    ADD COLUMN thumbs_claimed_at DATETIME(3) NULL;
