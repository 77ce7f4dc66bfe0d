-- smss schema, version 11, MySQL / MariaDB: the keys of messages moved in
-- from a local spool (issue 20). (Re-runnable: MySQL commits DDL at once.
-- Versions 9 and 10 are other changes'; the numbers only have to grow.)
--
-- `spooled` ties a message to a random 128-bit key (32 hex digits) given
-- when a serve committed it to its local spool (an SQLite file of this
-- schema, the `spool` setting) while this database was unreachable. Here
-- it holds the keys already moved in, with the id each got: moving a row a
-- second time (after a kill -9 between this commit and the spool's delete)
-- finds its key and inserts nothing. Kept after the move, so a message
-- already sent (now in `sms`) is still known.
CREATE TABLE IF NOT EXISTS spooled (
    spool_key CHAR(32) NOT NULL,
    id        BIGINT NULL,
    created   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (spool_key),
    KEY spooled_id (id)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;
