-- smss schema, version 3, MySQL / MariaDB: modem health.
--
-- One row per sender instance (`instance`, the name it claims queue rows
-- under), written by `smss serve` after the modem is (re)opened, when it is
-- lost, and otherwise about once a minute. `smss status` (and the web UI)
-- read it; a row whose `checked_at` stops moving means that serve stopped.
-- Delete the row of an instance that is gone for good.
-- (The signal column is `rssi`, the 3GPP TS 27.007 name: SIGNAL is a
-- reserved word in MySQL.)

CREATE TABLE IF NOT EXISTS modem (
    instance     VARCHAR(128) NOT NULL,
    device       VARCHAR(255) NOT NULL DEFAULT '',
    manufacturer VARCHAR(64) NOT NULL DEFAULT '',  -- AT+CGMI
    model        VARCHAR(64) NOT NULL DEFAULT '',  -- AT+CGMM
    rssi         INT NULL,          -- AT+CSQ signal: 0..31 (-113..-51 dBm), 99 unknown; NULL not known
    registration VARCHAR(32) NULL,  -- AT+CREG?: home, roaming, searching, denied, not registered, unknown
    operator     VARCHAR(64) NULL,  -- AT+COPS?
    healthy      BOOL NOT NULL DEFAULT FALSE,  -- answers, registered, no errors
    last_error   TEXT NULL,         -- why not healthy
    checked_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    last_send_ok DATETIME(3) NULL,  -- sent_at of the newest `sms` row this instance sent
    pid          INT NOT NULL DEFAULT 0,  -- of the smss serve that wrote the row
    PRIMARY KEY (instance)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
