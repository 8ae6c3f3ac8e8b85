-- Version 5: a catalogue version that every change to units, SKUs or rate rules bumps, by trigger, in the writing
-- transaction. Processes cache compiled rate schedules across calls and read this one row once per transaction to
-- know whether their cache is still valid; triggers make that hold for every writer, whatever code path it takes.

CREATE TABLE catalogue_version (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  version  INTEGER NOT NULL
);
INSERT INTO catalogue_version (id, version) VALUES (1, 0);

CREATE TRIGGER tr_rate_rules_insert_version AFTER INSERT ON rate_rules
BEGIN UPDATE catalogue_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER tr_rate_rules_update_version AFTER UPDATE ON rate_rules
BEGIN UPDATE catalogue_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER tr_rate_rules_delete_version AFTER DELETE ON rate_rules
BEGIN UPDATE catalogue_version SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER tr_skus_insert_version AFTER INSERT ON skus
BEGIN UPDATE catalogue_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER tr_skus_update_version AFTER UPDATE ON skus
BEGIN UPDATE catalogue_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER tr_skus_delete_version AFTER DELETE ON skus
BEGIN UPDATE catalogue_version SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER tr_units_insert_version AFTER INSERT ON units
BEGIN UPDATE catalogue_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER tr_units_update_version AFTER UPDATE ON units
BEGIN UPDATE catalogue_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER tr_units_delete_version AFTER DELETE ON units
BEGIN UPDATE catalogue_version SET version = version + 1 WHERE id = 1; END;

-- The allocation table reads one organization's allocations in id order: with this index SQLite walks them in order
-- instead of searching by (org_id, name_key) and sorting (about half the time for 10,000 rows).
CREATE INDEX ix_allocations_org ON allocations(org_id);
