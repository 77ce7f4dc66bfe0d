-- smss schema, version 5, MySQL / MariaDB: what a modem does only in part.
--
-- `warnings` holds what the modem thread found working only in part while
-- the modem still sends (a message memory that cannot be read, so messages
-- stored there stay on the modem), one per line; NULL when nothing.
-- `healthy` does not depend on it. `smss status` and the web UI show it.
-- (Re-runnable: MySQL commits DDL at once.)

ALTER TABLE modem ADD COLUMN IF NOT EXISTS warnings TEXT NULL;
