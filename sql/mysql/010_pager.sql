-- smss schema, version 10, MySQL / MariaDB: the pager (issue 19): check-ins
-- and the heartbeat. (Re-runnable: MySQL commits DDL at once. Version 9 is
-- another change's; the numbers only have to grow.)
--
-- A check-in (dead-man's switch): a job reports "I ran" (`smss checkin
-- NAME`, `#?checkin NAME` on port 2021, /api/checkin/NAME); when it has
-- not for `every` + `grace` seconds, one SMS to `recipients` (numbers and
-- @groups, comma-separated, resolved when the alert is queued), and one
-- when it checks in again. Times are Unix seconds of the serve that wrote
-- them. `state` changes only in the transaction that queues its SMS, and
-- only from the state the change expects: several serves on one database
-- alert once.
CREATE TABLE IF NOT EXISTS checkin (
    name        VARCHAR(64) NOT NULL,
    every_secs  BIGINT NOT NULL,
    grace_secs  BIGINT NOT NULL,
    recipients  VARCHAR(255) NOT NULL,
    created     BIGINT NOT NULL,
    last_seen   BIGINT NULL,             -- NULL: added, never checked in
    state       VARCHAR(8) NOT NULL DEFAULT 'ok',   -- ok | late
    alerted_at  BIGINT NULL,             -- when the last late/back SMS was queued
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Periodic sends done once per slot across every serve (the heartbeat: the
-- local day number, or the interval number of `heartbeat = every ...`).
CREATE TABLE IF NOT EXISTS pager_mark (
    name VARCHAR(64) NOT NULL,
    slot BIGINT NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Acknowledged by an SMS reply (`ACK`, `OK`, `ACK <id>` from the number the
-- alert went to): when (Unix seconds) and from which number.
ALTER TABLE sms ADD COLUMN IF NOT EXISTS acked_at BIGINT NULL;
ALTER TABLE sms ADD COLUMN IF NOT EXISTS acked_by VARCHAR(32) NULL;
