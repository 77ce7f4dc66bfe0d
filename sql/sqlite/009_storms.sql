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
