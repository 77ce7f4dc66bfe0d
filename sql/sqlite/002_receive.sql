-- Receiving: what a received row was made of, duplicate detection, parts of
-- concatenated messages waiting for the rest, and delivery reports.

-- gsm7, ucs2 or 8bit (then text holds the data as hex); raw = undecodable
-- PDU kept as hex rather than lost.
ALTER TABLE rcv ADD COLUMN coding VARCHAR(8) NOT NULL DEFAULT 'gsm7';
-- 0 when some parts of a concatenated message never arrived.
ALTER TABLE rcv ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
ALTER TABLE rcv ADD COLUMN smsc VARCHAR(32) NULL;
-- sender|SMSC time|reference|hash of the text: a message read again after
-- a crash between commit and AT+CMGD is recognised, not stored twice.
ALTER TABLE rcv ADD COLUMN dedupe_key VARCHAR(190) NULL;
CREATE UNIQUE INDEX rcv_dedupe ON rcv (dedupe_key);

-- One part of a concatenated message. Parts wait here (not on the SIM) until
-- the set is complete; then the joined row goes to rcv and rcv_id is set.
-- Joined parts are kept a while so that a part read again is recognised.
CREATE TABLE rcv_part (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sender      VARCHAR(64) NOT NULL,
    reference   INTEGER NOT NULL,
    total       INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    coding      VARCHAR(8) NOT NULL,
    body        TEXT NOT NULL, -- user data after the header, hex (septets for gsm7)
    text        TEXT NOT NULL, -- this part alone, decoded, for people reading the table
    smsc_time   VARCHAR(32) NOT NULL,
    smsc        VARCHAR(32) NULL,
    received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    rcv_id      INTEGER NULL,
    dedupe_key  VARCHAR(190) NOT NULL
);
CREATE UNIQUE INDEX rcv_part_dedupe ON rcv_part (dedupe_key);
CREATE INDEX rcv_part_set ON rcv_part (sender, reference, total);
CREATE INDEX rcv_part_waiting ON rcv_part (rcv_id, received_at);

-- Delivery reports, one per part (message reference) of a sent message.
CREATE TABLE sms_report (
    sms_id      INTEGER NOT NULL,
    mr          INTEGER NOT NULL,
    st          INTEGER NOT NULL, -- TP-ST as the network sent it
    status      VARCHAR(16) NOT NULL, -- delivered, pending or failed
    discharged  VARCHAR(32) NOT NULL, -- when the network says it happened
    received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    PRIMARY KEY (sms_id, mr)
);
