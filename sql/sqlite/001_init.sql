-- smss schema, version 1, SQLite.
--
-- Applied by `smss init-db` (and by `serve` for SQLite) inside one
-- transaction, which also records the version in `smss_schema`.
-- Statements end with `;` at the end of a line.
--
-- All times are UTC text 'YYYY-MM-DD HH:MM:SS.fff', computed by SQLite with
-- strftime('%Y-%m-%d %H:%M:%f', 'now'), so they compare as strings.

-- The queue. Other tools may `INSERT INTO msg (phone, text) VALUES (...)`:
-- every other column has a default, and such a row is due at once.
-- AUTOINCREMENT: ids are given to clients and reused as `sms.id`, so they
-- must never be handed out twice, even after the queue was emptied.
CREATE TABLE msg (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    phone        VARCHAR(32) NOT NULL,
    text         TEXT NOT NULL,
    source       VARCHAR(96) NOT NULL DEFAULT 'sql',
    created      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NULL,            -- NULL = due now (a past time is reset to NULL by the next claim)
    last_error   TEXT NULL,
    claimed_by   VARCHAR(128) NULL,    -- sender holding the lease
    claim_until  TEXT NULL,            -- lease end
    concat_ref   INTEGER NULL CHECK (concat_ref BETWEEN 0 AND 255),
    parts_done   INTEGER NOT NULL DEFAULT 0,
    part_refs    TEXT NOT NULL DEFAULT ''
);

-- The claim (src/store/sqlite.rs) is two statements on this index:
--   UPDATE msg INDEXED BY msg_due SET next_attempt = NULL WHERE next_attempt <= now
--   SELECT id FROM msg INDEXED BY msg_due
--     WHERE next_attempt IS NULL AND <unclaimed> ORDER BY id LIMIT ?
-- The first turns retries whose time has come into plain due rows, reading
-- only those (each once per retry), never the rows still waiting. The
-- second walks the NULL group, which the index keeps in id order: it reads
-- LIMIT rows (plus any under a live claim) and stops, with no sort, however
-- long the queue. (Without INDEXED BY the planner may scan by rowid and
-- read every waiting row first; it does so once ANALYZE has run.)
-- EXPLAIN QUERY PLAN, 100,000 queued rows (90,000 waiting for a retry):
--   SEARCH msg USING INDEX msg_due (next_attempt<?)
--   SEARCH msg USING INDEX msg_due (next_attempt=?)
CREATE INDEX msg_due ON msg (next_attempt, id);

-- One row per finished outgoing message; `id` is the `msg.id` it had.
-- `attempts` is copied from `msg.attempts`: the failed attempts before the
-- final one (a message sent at the first try has 0).
CREATE TABLE sms (
    id            INTEGER PRIMARY KEY,
    phone         VARCHAR(32) NOT NULL,
    text          TEXT NOT NULL,
    source        VARCHAR(96) NOT NULL DEFAULT 'sql',
    queued_at     TEXT NOT NULL,
    sent_at       TEXT NULL,                -- NULL when failed
    status        VARCHAR(16) NOT NULL,     -- 'sent' or 'failed'
    parts         INTEGER NOT NULL DEFAULT 0,
    part_refs     TEXT NOT NULL DEFAULT '', -- modem message references, comma separated
    error         TEXT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    sent_by       VARCHAR(128) NOT NULL DEFAULT '',
    report_status VARCHAR(16) NULL,         -- delivery report, when one arrives
    report_time   TEXT NULL
);
CREATE INDEX sms_phone ON sms (phone);
CREATE INDEX sms_sent_at ON sms (sent_at);
CREATE INDEX sms_status ON sms (status, id);

-- Received messages, multipart already joined.
CREATE TABLE rcv (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sender      VARCHAR(64) NOT NULL,
    text        TEXT NOT NULL,
    smsc_time   VARCHAR(32) NOT NULL DEFAULT '', -- SMSC timestamp with its zone, as text
    received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    parts       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX rcv_sender ON rcv (sender);
CREATE INDEX rcv_received_at ON rcv (received_at);

-- The applied schema version (one row), written by the migration code.
CREATE TABLE smss_schema (
    version INT NOT NULL
);
