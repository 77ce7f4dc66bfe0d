-- smss schema, version 1, MySQL / MariaDB (MariaDB >= 10.6 or MySQL >= 8.0,
-- for SELECT ... FOR UPDATE SKIP LOCKED).
--
-- Applied by `smss init-db`, statement by statement (statements end with `;`
-- at the end of a line); the migration code then records the version in
-- `smss_schema`. DDL is not transactional in MySQL, so every statement is
-- written to be re-runnable (IF NOT EXISTS, indexes inside CREATE TABLE):
-- after an interrupted init-db, running it again finishes the job.
--
-- All times are UTC DATETIME(3). smss sets `time_zone = '+00:00'` on each of
-- its connections, so NOW(3) and the column defaults are UTC. Another tool
-- inserting into `msg` should do the same (or set `created` itself);
-- otherwise its `created` is in its own session time zone. Its rows are due
-- at once either way (`next_attempt` NULL).
--
-- Text is utf8mb4 (emoji included) on every table.

-- The queue. Other tools may `INSERT INTO msg (phone, text) VALUES (...)`:
-- every other column has a default, and such a row is due at once.
CREATE TABLE IF NOT EXISTS msg (
    id           BIGINT NOT NULL AUTO_INCREMENT,
    phone        VARCHAR(32) NOT NULL,
    text         TEXT NOT NULL,
    source       VARCHAR(96) NOT NULL DEFAULT 'sql',
    created      DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    attempts     INT NOT NULL DEFAULT 0,
    next_attempt DATETIME(3) NULL,          -- NULL = due now (a past time is reset to NULL by the next claim)
    last_error   TEXT NULL,
    claimed_by   VARCHAR(128) NULL,         -- sender holding the lease
    claim_until  DATETIME(3) NULL,          -- lease end
    concat_ref   TINYINT UNSIGNED NULL,     -- 0..255
    parts_done   INT NOT NULL DEFAULT 0,
    part_refs    VARCHAR(1024) NOT NULL DEFAULT '',
    PRIMARY KEY (id),
    -- The claim (src/store/mysql.rs) is two statements on this index, in
    -- one transaction:
    --   UPDATE msg FORCE INDEX (msg_due) SET next_attempt = NULL
    --     WHERE next_attempt IS NOT NULL AND next_attempt <= NOW(3)
    --   SELECT ... FROM msg FORCE INDEX (msg_due) WHERE next_attempt IS NULL
    --     AND <unclaimed> ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED
    -- The first turns retries whose time has come into plain due rows,
    -- reading only those (each once per retry), never the rows still
    -- waiting. The second walks the NULL group, which the index keeps in id
    -- order: it reads LIMIT rows (plus any under a live claim) and stops,
    -- with no filesort, however long the queue.
    -- EXPLAIN, MariaDB 10.11, 100,000 queued rows (90,000 waiting for a
    -- retry, 100 due for one, 9,900 new):
    --   UPDATE: type range, key msg_due, rows 100, Using where; Using buffer
    --   SELECT: type ref, key msg_due, ref const, Using index condition; Using where
    -- Handler_read_* for both together: 211 (key 2, next 109, rnd 100).
    KEY msg_due (next_attempt, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per finished outgoing message; `id` is the `msg.id` it had.
-- `attempts` is copied from `msg.attempts`: the failed attempts before the
-- final one (a message sent at the first try has 0).
CREATE TABLE IF NOT EXISTS sms (
    id            BIGINT NOT NULL,
    phone         VARCHAR(32) NOT NULL,
    text          TEXT NOT NULL,
    source        VARCHAR(96) NOT NULL DEFAULT 'sql',
    queued_at     DATETIME(3) NOT NULL,
    sent_at       DATETIME(3) NULL,                -- NULL when failed
    status        VARCHAR(16) NOT NULL,            -- 'sent' or 'failed'
    parts         INT NOT NULL DEFAULT 0,
    part_refs     VARCHAR(1024) NOT NULL DEFAULT '', -- modem message references, comma separated
    error         TEXT NULL,
    attempts      INT NOT NULL DEFAULT 0,
    sent_by       VARCHAR(128) NOT NULL DEFAULT '',
    report_status VARCHAR(16) NULL,                -- delivery report, when one arrives
    report_time   DATETIME(3) NULL,
    PRIMARY KEY (id),
    KEY sms_phone (phone),
    KEY sms_sent_at (sent_at),
    KEY sms_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Received messages, multipart already joined.
CREATE TABLE IF NOT EXISTS rcv (
    id          BIGINT NOT NULL AUTO_INCREMENT,
    sender      VARCHAR(64) NOT NULL,
    text        TEXT NOT NULL,
    smsc_time   VARCHAR(32) NOT NULL DEFAULT '', -- SMSC timestamp with its zone, as text
    received_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    parts       INT NOT NULL DEFAULT 1,
    PRIMARY KEY (id),
    KEY rcv_sender (sender),
    KEY rcv_received_at (received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The applied schema version (one row), written by the migration code.
CREATE TABLE IF NOT EXISTS smss_schema (
    version INT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
