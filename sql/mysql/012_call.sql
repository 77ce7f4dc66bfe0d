-- smss schema, version 12, MySQL / MariaDB: voice calls after urgent SMS
-- (issue 19, item 3). (Re-runnable: MySQL commits DDL at once.) With
-- `call-urgent = yes`, the modem thread that sent an urgent SMS calls its
-- number, lets it ring at most `call-ring`, hangs up and records here how
-- the call ended. Times are Unix seconds of the sender that made the call;
-- `sender` is its instance name (as `sms.sent_by`). `outcome`: answered |
-- busy | no answer | rejected | failed (`error` says why for failed).
CREATE TABLE IF NOT EXISTS `call` (
    id       BIGINT NOT NULL AUTO_INCREMENT,
    sms_id   BIGINT NOT NULL,
    number   VARCHAR(32) NOT NULL,
    sender   VARCHAR(128) NOT NULL,
    started  BIGINT NOT NULL,
    ended    BIGINT NOT NULL,
    outcome  VARCHAR(16) NOT NULL,
    error    VARCHAR(255) NULL,
    PRIMARY KEY (id),
    KEY call_sms (sms_id),
    KEY call_number (number, ended)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
