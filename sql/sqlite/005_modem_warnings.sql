-- smss schema, version 5, SQLite: what a modem does only in part.
--
-- `warnings` holds what the modem thread found working only in part while
-- the modem still sends (a message memory that cannot be read, so messages
-- stored there stay on the modem), one per line; NULL when nothing.
-- `healthy` does not depend on it. `smss status` and the web UI show it.

ALTER TABLE modem ADD COLUMN warnings TEXT NULL;
