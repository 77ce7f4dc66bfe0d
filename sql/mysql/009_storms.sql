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
