-- A call that ended in a conversation owes it an entry ("Missed voice
-- call", "Video call, 3:12"): since when, until the entry is written. The
-- end sets it in its own transaction; the entry is written after that
-- commits, through the message writer, under the client id
-- `samvad:call:<id>` (a prefix participants may not use), so the call
-- sweeper can write the entries still owed (the writer was overloaded, the
-- database away, the node killed) without writing one twice.
ALTER TABLE calls
    ADD COLUMN entry_due_at DATETIME(3) NULL,
    ADD KEY ix_calls_entry_due (entry_due_at);
