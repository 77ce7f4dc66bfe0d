-- smss schema, SQLite: escalation chains (issue 19, item 5).
--
-- A group with `escalate_secs` (`smss group set NAME NUMBER... --escalate
-- 10m`) is an escalation chain: an alert to it goes, urgent, to its first
-- member only; when that SMS was sent and nobody acknowledged it within
-- the step time, the pager queues the next member's, and so on until an
-- ACK or the last member. NULL: a plain group (every member at once).
ALTER TABLE sms_group ADD COLUMN escalate_secs INTEGER NULL;

-- One row per alert to a chain, written in the transaction that queues
-- its first SMS. `members` are the chain's numbers when the alert was
-- accepted (comma-separated; a later change of the group does not touch
-- a running chain), `step` the member alerted last (1-based). `state`
-- changes only in the transaction that queues the next step, records the
-- ACK, or ends the chain, and only from the state expected: several
-- serves on one database queue each step once.
CREATE TABLE escalation (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name VARCHAR(64) NOT NULL,
    step_secs  INTEGER NOT NULL,
    members    TEXT NOT NULL,
    text       TEXT NOT NULL,
    step       INTEGER NOT NULL DEFAULT 1,
    state      VARCHAR(12) NOT NULL DEFAULT 'active',  -- active | acked | exhausted
    started    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ended      TEXT NULL,                               -- acked or exhausted
    acked_by   VARCHAR(32) NULL
);
CREATE INDEX escalation_state ON escalation (state);

-- Each step's SMS: its id in `msg`, then in `sms` (the same id), where
-- its sent time and status are.
CREATE TABLE escalation_step (
    escalation_id INTEGER NOT NULL,
    step          INTEGER NOT NULL,
    phone         VARCHAR(32) NOT NULL,
    sms_id        INTEGER NOT NULL,
    PRIMARY KEY (escalation_id, step)
);
CREATE INDEX escalation_step_sms ON escalation_step (sms_id);
