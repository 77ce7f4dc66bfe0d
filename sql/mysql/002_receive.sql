-- Receiving: what a received row was made of, duplicate detection, parts of
-- concatenated messages waiting for the rest, and delivery reports.

-- gsm7, ucs2 or 8bit (then text holds the data as hex); raw = undecodable
-- PDU kept as hex rather than lost.
ALTER TABLE rcv ADD COLUMN coding VARCHAR(8) NOT NULL DEFAULT 'gsm7',
    -- 0 when some parts of a concatenated message never arrived.
    ADD COLUMN complete TINYINT NOT NULL DEFAULT 1,
    ADD COLUMN smsc VARCHAR(32) NULL,
    -- sender|SMSC time|reference|hash of the text: a message read again
    -- after a crash between commit and AT+CMGD is recognised.
    ADD COLUMN dedupe_key VARCHAR(190) NULL,
    ADD UNIQUE KEY rcv_dedupe (dedupe_key);

-- One part of a concatenated message. Parts wait here (not on the SIM) until
-- the set is complete; then the joined row goes to rcv and rcv_id is set.
-- Joined parts are kept a while so that a part read again is recognised.
CREATE TABLE IF NOT EXISTS rcv_part (
    id          BIGINT NOT NULL AUTO_INCREMENT,
    sender      VARCHAR(64) NOT NULL,
    reference   INT NOT NULL,
    total       INT NOT NULL,
    seq         INT NOT NULL,
    coding      VARCHAR(8) NOT NULL,
    body        TEXT NOT NULL, -- user data after the header, hex (septets for gsm7)
    text        TEXT NOT NULL, -- this part alone, decoded, for people reading the table
    smsc_time   VARCHAR(32) NOT NULL,
    smsc        VARCHAR(32) NULL,
    received_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    rcv_id      BIGINT NULL,
    dedupe_key  VARCHAR(190) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY rcv_part_dedupe (dedupe_key),
    KEY rcv_part_set (sender, reference, total),
    KEY rcv_part_waiting (rcv_id, received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Delivery reports, one per part (message reference) of a sent message.
CREATE TABLE IF NOT EXISTS sms_report (
    sms_id      BIGINT NOT NULL,
    mr          INT NOT NULL,
    st          INT NOT NULL, -- TP-ST as the network sent it
    status      VARCHAR(16) NOT NULL, -- delivered, pending or failed
    discharged  VARCHAR(32) NOT NULL, -- when the network says it happened
    received_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (sms_id, mr)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
