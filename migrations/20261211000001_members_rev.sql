-- A conversation's members revision: bumped, in the same transaction and
-- before the change, by every change to who is a current member (a member
-- added, back, leaving or removed). The message writer reads it with the
-- row it locks and keeps each conversation's members in memory under it,
-- so it reads the members again only when they may have changed; any node
-- sees the bump, since it is on the row every send locks.
ALTER TABLE conversations ADD COLUMN members_rev BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER last_seq;
