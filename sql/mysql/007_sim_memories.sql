-- smss schema, version 7, MySQL / MariaDB: what the modem's message
-- memories hold.
--
-- `sim_memories` holds one line per memory the modem thread read, as the
-- last pass left it: `<memory> <used> <total> <stored> <readable>`, e.g.
-- `SM 20 20 20 1`: SIM memory, 20 of 20 slots used, 20 of them stored
-- sent/unsent messages (AT+CMGL stat 2 and 3, left by a phone or another
-- tool: smss does not read them), readable (1) or not (0). A full memory
-- makes new SMS wait at the network; `smss status`, the web UI and
-- /metrics show it. NULL when nothing was read yet.
-- (Re-runnable: MySQL commits DDL at once.)

ALTER TABLE modem ADD COLUMN IF NOT EXISTS sim_memories TEXT NULL;
