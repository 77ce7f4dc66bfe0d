-- smss schema, version 8, SQLite: where the alerts come from (issue 17).
-- (Version 7 is another change's; a database goes from 6 to 8 here and
-- the numbers only have to grow.)
--
-- Recipient groups: `@oncall` anywhere a number is accepted. Managed with
-- `smss group set|list|remove`; in the database so that every host of a
-- cluster sees the same ones. A request to a group is expanded into one
-- message per member when it is accepted: a later change of the group does
-- not touch what is already queued.
CREATE TABLE sms_group (
    name    VARCHAR(64) PRIMARY KEY,
    created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    updated TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE TABLE sms_group_member (
    group_name VARCHAR(64) NOT NULL REFERENCES sms_group (name) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    phone      VARCHAR(32) NOT NULL,
    PRIMARY KEY (group_name, position)
);
-- The group a message came through (NULL: addressed to its number).
ALTER TABLE msg ADD COLUMN via_group VARCHAR(64) NULL;
ALTER TABLE sms ADD COLUMN via_group VARCHAR(64) NULL;

-- API tokens (`smss token add|list|revoke`): only the SHA-256 of each
-- token, hex. A token is 32 random bytes, so a fast hash is enough: there
-- is nothing to guess from it (a password needs Argon2, a token does not).
CREATE TABLE api_token (
    name    VARCHAR(64) PRIMARY KEY,
    hash    CHAR(64) NOT NULL UNIQUE,
    created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

-- What Alertmanager notifications were already sent as SMS: per recipient
-- (a number or `@group`, as addressed) and alert fingerprint, the status
-- last notified. A repeated group sends only alerts whose status changed.
CREATE TABLE alert_notified (
    recipient   VARCHAR(191) NOT NULL,
    fingerprint VARCHAR(64) NOT NULL,
    status      VARCHAR(16) NOT NULL,
    notified_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    PRIMARY KEY (recipient, fingerprint)
);
-- what alert-remember forgets
CREATE INDEX alert_notified_at ON alert_notified (notified_at);
