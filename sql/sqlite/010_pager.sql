-- smss schema, version 10, SQLite: the pager (issue 19): check-ins and the
-- heartbeat. (Version 9 is another change's; the numbers only have to grow.)
--
-- A check-in (dead-man's switch): a job reports "I ran" (`smss checkin
-- NAME`, `#?checkin NAME` on port 2021, /api/checkin/NAME); when it has
-- not for `every` + `grace` seconds, one SMS to `recipients` (numbers and
-- @groups, comma-separated, resolved when the alert is queued), and one
-- when it checks in again. Times are Unix seconds of the serve that wrote
-- them. `state` changes only in the transaction that queues its SMS, and
-- only from the state the change expects: several serves on one database
-- alert once.
CREATE TABLE checkin (
    name        VARCHAR(64) PRIMARY KEY,
    every_secs  INTEGER NOT NULL,
    grace_secs  INTEGER NOT NULL,
    recipients  VARCHAR(255) NOT NULL,
    created     INTEGER NOT NULL,
    last_seen   INTEGER NULL,            -- NULL: added, never checked in
    state       VARCHAR(8) NOT NULL DEFAULT 'ok',   -- ok | late
    alerted_at  INTEGER NULL             -- when the last late/back SMS was queued
);

-- Periodic sends done once per slot across every serve (the heartbeat: the
-- local day number, or the interval number of `heartbeat = every ...`).
CREATE TABLE pager_mark (
    name VARCHAR(64) PRIMARY KEY,
    slot INTEGER NOT NULL
);

-- Acknowledged by an SMS reply (`ACK`, `OK`, `ACK <id>` from the number the
-- alert went to): when (Unix seconds) and from which number.
ALTER TABLE sms ADD COLUMN acked_at INTEGER NULL;
ALTER TABLE sms ADD COLUMN acked_by VARCHAR(32) NULL;
