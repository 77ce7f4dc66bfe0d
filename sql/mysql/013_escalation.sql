-- smss schema, MySQL / MariaDB: escalation chains (issue 19, item 5).
-- (Re-runnable: MySQL commits DDL at once.)
--
-- A group with `escalate_secs` (`smss group set NAME NUMBER... --escalate
-- 10m`) is an escalation chain: an alert to it goes, urgent, to its first
-- member only; when that SMS was sent and nobody acknowledged it within
-- the step time, the pager queues the next member's, and so on until an
-- ACK or the last member. NULL: a plain group (every member at once).
ALTER TABLE sms_group ADD COLUMN IF NOT EXISTS escalate_secs BIGINT NULL;

-- One row per alert to a chain, written in the transaction that queues
-- its first SMS. `members` are the chain's numbers when the alert was
-- accepted (comma-separated; a later change of the group does not touch
-- a running chain), `step` the member alerted last (1-based). `state`
-- changes only in the transaction that queues the next step, records the
-- ACK, or ends the chain, and only from the state expected: several
-- serves on one database queue each step once.
CREATE TABLE IF NOT EXISTS escalation (
    id         BIGINT NOT NULL AUTO_INCREMENT,
    group_name VARCHAR(64) NOT NULL,
    step_secs  BIGINT NOT NULL,
    members    TEXT NOT NULL,
    text       TEXT NOT NULL,
    step       INT NOT NULL DEFAULT 1,
    state      VARCHAR(12) NOT NULL DEFAULT 'active',  -- active | acked | exhausted
    started    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    ended      DATETIME(3) NULL,                        -- acked or exhausted
    acked_by   VARCHAR(32) NULL,
    PRIMARY KEY (id),
    KEY escalation_state (state)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Each step's SMS: its id in `msg`, then in `sms` (the same id), where
-- its sent time and status are.
CREATE TABLE IF NOT EXISTS escalation_step (
    escalation_id BIGINT NOT NULL,
    step          INT NOT NULL,
    phone         VARCHAR(32) NOT NULL,
    sms_id        BIGINT NOT NULL,
    PRIMARY KEY (escalation_id, step),
    KEY escalation_step_sms (sms_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
