-- smss schema, version 8, MySQL / MariaDB: where the alerts come from
-- (issue 17). (Re-runnable: MySQL commits DDL at once. Version 7 is
-- another change's; the numbers only have to grow.)
--
-- Recipient groups: `@oncall` anywhere a number is accepted. Managed with
-- `smss group set|list|remove`; in the database so that every host of a
-- cluster sees the same ones. A request to a group is expanded into one
-- message per member when it is accepted: a later change of the group does
-- not touch what is already queued.
CREATE TABLE IF NOT EXISTS sms_group (
    name    VARCHAR(64) NOT NULL,
    created DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS sms_group_member (
    group_name VARCHAR(64) NOT NULL,
    position   INT NOT NULL,
    phone      VARCHAR(32) NOT NULL,
    PRIMARY KEY (group_name, position),
    CONSTRAINT sms_group_member_group FOREIGN KEY (group_name)
        REFERENCES sms_group (name) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- The group a message came through (NULL: addressed to its number).
ALTER TABLE msg ADD COLUMN IF NOT EXISTS via_group VARCHAR(64) NULL;
ALTER TABLE sms ADD COLUMN IF NOT EXISTS via_group VARCHAR(64) NULL;

-- API tokens (`smss token add|list|revoke`): only the SHA-256 of each
-- token, hex. A token is 32 random bytes, so a fast hash is enough: there
-- is nothing to guess from it (a password needs Argon2, a token does not).
CREATE TABLE IF NOT EXISTS api_token (
    name    VARCHAR(64) NOT NULL,
    hash    CHAR(64) NOT NULL,
    created DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (name),
    UNIQUE KEY api_token_hash (hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- What Alertmanager notifications were already sent as SMS: per recipient
-- (a number or `@group`, as addressed) and alert fingerprint, the status
-- last notified. A repeated group sends only alerts whose status changed.
CREATE TABLE IF NOT EXISTS alert_notified (
    recipient   VARCHAR(191) NOT NULL,
    fingerprint VARCHAR(64) NOT NULL,
    status      VARCHAR(16) NOT NULL,
    notified_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (recipient, fingerprint),
    KEY alert_notified_at (notified_at)   -- what alert-remember forgets
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
