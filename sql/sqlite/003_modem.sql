-- smss schema, version 3, SQLite: modem health.
--
-- One row per sender instance (`instance`, the name it claims queue rows
-- under), written by `smss serve` after the modem is (re)opened, when it is
-- lost, and otherwise about once a minute. `smss status` (and the web UI)
-- read it; a row whose `checked_at` stops moving means that serve stopped.
-- Delete the row of an instance that is gone for good.

CREATE TABLE modem (
    instance     VARCHAR(128) NOT NULL PRIMARY KEY,
    device       VARCHAR(255) NOT NULL DEFAULT '',
    manufacturer VARCHAR(64) NOT NULL DEFAULT '',  -- AT+CGMI
    model        VARCHAR(64) NOT NULL DEFAULT '',  -- AT+CGMM
    rssi         INTEGER NULL,      -- AT+CSQ signal: 0..31 (-113..-51 dBm), 99 unknown; NULL not known
    registration VARCHAR(32) NULL,  -- AT+CREG?: home, roaming, searching, denied, not registered, unknown
    operator     VARCHAR(64) NULL,  -- AT+COPS?
    healthy      INTEGER NOT NULL DEFAULT 0,  -- 1: answers, registered, no errors
    last_error   TEXT NULL,         -- why not healthy
    checked_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    last_send_ok TEXT NULL,         -- sent_at of the newest `sms` row this instance sent
    pid          INTEGER NOT NULL DEFAULT 0  -- of the smss serve that wrote the row
);
