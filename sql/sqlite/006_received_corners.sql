-- smss schema, version 6, SQLite: received messages in the corners of
-- TS 23.040 / 23.038.
--
-- A concatenated set is identified by sender, reference, reference size and
-- total: an 8-bit and a 16-bit reference of the same value are different
-- sets (ref_bits 8 or 16). Parts stored before this version have no size
-- on record: those with a reference above 255 were 16-bit, the others are
-- taken as 8-bit (a 16-bit set with a small reference that straddles the
-- upgrade is then stored as incomplete rather than joined).
ALTER TABLE rcv_part ADD COLUMN ref_bits INTEGER NOT NULL DEFAULT 8;
UPDATE rcv_part SET ref_bits = 16 WHERE reference > 255;
DROP INDEX rcv_part_set;
CREATE INDEX rcv_part_set ON rcv_part (sender, reference, ref_bits, total);
-- The national language tables of a 7-bit part (TS 23.038 §6.2.1.2.4/5):
-- identifiers of the locking and single shift tables, 0 for the default;
-- the joined bodies are decoded with them.
ALTER TABLE rcv_part ADD COLUMN locking_shift INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rcv_part ADD COLUMN single_shift INTEGER NOT NULL DEFAULT 0;

-- TP-PID (TS 23.040 §9.2.3.9): 0 a plain message, 64 (0x40) "type 0"
-- (silent: stored, not passed to the on-receive program), 65..71
-- (0x41..0x47) "replace short message type 1..7": it replaces the earlier
-- message with the same TP-PID from the same sender, whose row keeps its
-- text and gets replaced_by = the id of the new one.
ALTER TABLE rcv ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rcv ADD COLUMN replaced_by INTEGER NULL;
ALTER TABLE rcv_part ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;

-- Application port addressing (TS 23.040 §9.2.3.24.3/4) of 8-bit data:
-- 2948 is WAP push. NULL when the message had no ports.
ALTER TABLE rcv ADD COLUMN dst_port INTEGER NULL;
ALTER TABLE rcv ADD COLUMN src_port INTEGER NULL;
ALTER TABLE rcv_part ADD COLUMN dst_port INTEGER NULL;
ALTER TABLE rcv_part ADD COLUMN src_port INTEGER NULL;
