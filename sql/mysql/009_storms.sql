-- smss schema, version 9, MySQL / MariaDB: alert storms and priorities
-- (issue 18). (Re-runnable: MySQL commits DDL at once.)
--
-- msg.priority: 0 urgent, 1 normal (the default, also for rows other tools
-- insert), 2 low. The modem sends the most urgent due message next, the
-- oldest first within one priority. sms.priority keeps it on record.
--
-- The claim walks the due group of msg_due in the order of sending:
--   SELECT ... FROM msg FORCE INDEX (msg_due) WHERE next_attempt IS NULL
--     AND <unclaimed> ORDER BY priority, id LIMIT ? FOR UPDATE SKIP LOCKED
-- (next_attempt, priority, id) keeps that group in (priority, id) order:
-- every sender of a cluster claims the urgent rows first, with no
-- filesort, however long the queue. The check made after each send ("is
-- anything more urgent than the rest of my batch due?") is a range of the
-- same index.
ALTER TABLE msg ADD COLUMN IF NOT EXISTS priority TINYINT NOT NULL DEFAULT 1,
    DROP INDEX IF EXISTS msg_due,
    ADD INDEX msg_due (next_attempt, priority, id);
ALTER TABLE sms ADD COLUMN IF NOT EXISTS priority TINYINT NOT NULL DEFAULT 1;

-- Coalescing repeats (coalesce-window). text_key is a hash of the phone
-- and the text, set by smss for its own requests (NULL for rows other
-- tools insert, and with coalesce-window = 0: those are never merged).
-- A request whose key a queued row has is merged into it (repeats + 1, the
-- client is given that row's id), so at most one queued row per key: the
-- unique index holds that for every sender of a cluster (a concurrent
-- insert of the same key becomes the merge: ON DUPLICATE KEY UPDATE). The
-- SMS goes out once, with " (xN)" appended when that fits in max-parts;
-- shown_repeats is the count its first parts were sent with (a resumed
-- multipart send keeps it).
ALTER TABLE msg ADD COLUMN IF NOT EXISTS text_key VARCHAR(64) NULL,
    ADD COLUMN IF NOT EXISTS repeats INT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS shown_repeats INT NULL,
    DROP INDEX IF EXISTS msg_coalesce,
    ADD UNIQUE INDEX msg_coalesce (text_key);
-- In sms: the repeats merged into a row; a request repeating a message
-- sent less than coalesce-window ago is recorded as status 'suppressed'
-- with coalesced_into = the id of the sent one, and not sent.
ALTER TABLE sms ADD COLUMN IF NOT EXISTS text_key VARCHAR(64) NULL,
    ADD COLUMN IF NOT EXISTS repeats INT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS coalesced_into BIGINT NULL,
    DROP INDEX IF EXISTS sms_coalesce,
    ADD INDEX sms_coalesce (text_key, sent_at);

-- Per-message options. expires_at (from ttl): a message not sent by then
-- moves to sms as 'expired', never sent late (msg_expiry finds them); its
-- TP-VP says the rest of the ttl to the network. flash: class 0. A send_at
-- is the row's first next_attempt (not due before). send_after and
-- send_before: minutes after midnight, the database server's system time
-- zone; a low or normal message claimed outside them waits (next_attempt)
-- until the window opens, an urgent one ignores them.
ALTER TABLE msg ADD COLUMN IF NOT EXISTS expires_at DATETIME(3) NULL,
    ADD COLUMN IF NOT EXISTS flash TINYINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS send_after SMALLINT NULL,
    ADD COLUMN IF NOT EXISTS send_before SMALLINT NULL,
    DROP INDEX IF EXISTS msg_expiry,
    ADD INDEX msg_expiry (expires_at);

-- The totals (the web's health panel, /metrics, status) sum the repeats of
-- the few rows that have any: a range of this index, not a scan of sms.
ALTER TABLE sms DROP INDEX IF EXISTS sms_repeats, ADD INDEX sms_repeats (repeats);
