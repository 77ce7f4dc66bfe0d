-- smss schema, version 11, SQLite: the local spool of a MySQL setup
-- (issue 20). (Versions 9 and 10 are other changes'; the numbers only have
-- to grow.)
--
-- `spooled` ties a message to a random 128-bit key (32 hex digits) given
-- when it was committed to the local spool (an SQLite file of this schema,
-- the `spool` setting) while the MySQL database was unreachable. In the
-- spool it holds the key of each spooled `msg` row; in the main database
-- the keys already moved there, with the id they got: moving a row a
-- second time (after a kill -9 between the main commit and the spool's
-- delete) finds its key and inserts nothing. Kept after the move, so a
-- message already sent (now in `sms`) is still known.
CREATE TABLE spooled (
    spool_key CHAR(32) NOT NULL PRIMARY KEY,
    id        INTEGER NULL,
    created   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE INDEX spooled_id ON spooled (id);
