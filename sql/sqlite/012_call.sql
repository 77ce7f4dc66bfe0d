-- smss schema, version 12, SQLite: voice calls after urgent SMS (issue 19,
-- item 3). With `call-urgent = yes`, the modem thread that sent an urgent
-- SMS calls its number, lets it ring at most `call-ring`, hangs up and
-- records here how the call ended. Times are Unix seconds of the sender
-- that made the call; `sender` is its instance name (as `sms.sent_by`).
-- `outcome`: answered | busy | no answer | rejected | failed (`error` says
-- why for failed).
CREATE TABLE call (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    sms_id   INTEGER NOT NULL,
    number   VARCHAR(32) NOT NULL,
    sender   VARCHAR(128) NOT NULL,
    started  INTEGER NOT NULL,
    ended    INTEGER NOT NULL,
    outcome  VARCHAR(16) NOT NULL,
    error    VARCHAR(255) NULL
);
CREATE INDEX call_sms ON call (sms_id);
CREATE INDEX call_number ON call (number, ended);
