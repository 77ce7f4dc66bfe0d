-- smss schema, version 9, SQLite: alert storms and priorities (issue 18).
--
-- msg.priority: 0 urgent, 1 normal (the default, also for rows other tools
-- insert), 2 low. The modem sends the most urgent due message next, the
-- oldest first within one priority. sms.priority keeps it on record.
ALTER TABLE msg ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sms ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;

-- The claim walks the due group of msg_due in the order of sending:
--   SELECT ... FROM msg INDEXED BY msg_due WHERE next_attempt IS NULL
--     AND <unclaimed> ORDER BY priority, id LIMIT ?
-- (next_attempt, priority, id) keeps that group in (priority, id) order:
-- the urgent rows first, no sort, however long the queue. The check made
-- after each send ("is anything more urgent than the rest of my batch
-- due?") is a range of the same index.
DROP INDEX msg_due;
CREATE INDEX msg_due ON msg (next_attempt, priority, id);

-- Coalescing repeats (coalesce-window). text_key is a hash of the phone
-- and the text, set by smss for its own requests (NULL for rows other
-- tools insert, and with coalesce-window = 0: those are never merged).
-- A request whose key a queued row has is merged into it (repeats + 1, the
-- client is given that row's id), so at most one queued row per key: the
-- unique index holds that for every writer. The SMS goes out once, with
-- " (xN)" appended when that fits in max-parts; shown_repeats is the count
-- its first parts were sent with (a resumed multipart send keeps it).
ALTER TABLE msg ADD COLUMN text_key VARCHAR(64) NULL;
ALTER TABLE msg ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE msg ADD COLUMN shown_repeats INTEGER NULL;
CREATE UNIQUE INDEX msg_coalesce ON msg (text_key);
-- In sms: the repeats merged into a row; a request repeating a message
-- sent less than coalesce-window ago is recorded as status 'suppressed'
-- with coalesced_into = the id of the sent one, and not sent.
ALTER TABLE sms ADD COLUMN text_key VARCHAR(64) NULL;
ALTER TABLE sms ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sms ADD COLUMN coalesced_into INTEGER NULL;
CREATE INDEX sms_coalesce ON sms (text_key, sent_at);

-- Per-message options. expires_at (from ttl): a message not sent by then
-- moves to sms as 'expired', never sent late (msg_expiry finds them); its
-- TP-VP says the rest of the ttl to the network. flash: class 0. A send_at
-- is the row's first next_attempt (not due before). send_after and
-- send_before: minutes after midnight, the server's local time; a low or
-- normal message claimed outside them waits (next_attempt) until the
-- window opens, an urgent one ignores them.
ALTER TABLE msg ADD COLUMN expires_at TEXT NULL;
ALTER TABLE msg ADD COLUMN flash INTEGER NOT NULL DEFAULT 0;
ALTER TABLE msg ADD COLUMN send_after INTEGER NULL;
ALTER TABLE msg ADD COLUMN send_before INTEGER NULL;
CREATE INDEX msg_expiry ON msg (expires_at);

-- The totals (the web's health panel, /metrics, status) sum the repeats of
-- the few rows that have any: a range of this index, not a scan of sms.
CREATE INDEX sms_repeats ON sms (repeats);
