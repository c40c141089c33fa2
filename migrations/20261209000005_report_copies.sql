-- A report keeps the reported message's text as it was when reported, so
-- an edit or a deletion afterwards does not remove the evidence.
ALTER TABLE reports ADD COLUMN message_text VARCHAR(4000) NULL AFTER message_id;
