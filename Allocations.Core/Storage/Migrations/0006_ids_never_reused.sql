-- Allocations schema, version 6: ids of allocations and usage events are never handed out again after a delete.
-- Without AUTOINCREMENT SQLite gives a new row the largest id + 1, so deleting the newest event or allocation would
-- let its id name a later, unrelated one (a host still holding a released hold's id could confirm a stranger's
-- event). SQLite cannot add AUTOINCREMENT to a table, so both tables are rebuilt by its documented procedure
-- (create, copy, drop, rename) with foreign-key enforcement off for this transaction; the engine runs
-- PRAGMA foreign_key_check before it commits.

CREATE TABLE allocations_v6 (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  org_id         INTEGER NOT NULL REFERENCES organizations(id),
  name           TEXT    NOT NULL,
  name_key       TEXT    NOT NULL,
  unit_id        INTEGER NOT NULL REFERENCES units(id),
  parent_id      INTEGER REFERENCES allocations(id),
  total          INTEGER NOT NULL CHECK (total >= 0),
  own_used       INTEGER NOT NULL DEFAULT 0,
  own_estimated  INTEGER NOT NULL DEFAULT 0,
  used           INTEGER NOT NULL DEFAULT 0,
  estimated      INTEGER NOT NULL DEFAULT 0,
  created_ns     INTEGER NOT NULL,
  created_by     TEXT    NOT NULL,
  UNIQUE (org_id, name_key)
);
INSERT INTO allocations_v6 (id, org_id, name, name_key, unit_id, parent_id, total, own_used, own_estimated, used, estimated, created_ns, created_by)
  SELECT id, org_id, name, name_key, unit_id, parent_id, total, own_used, own_estimated, used, estimated, created_ns, created_by FROM allocations;
DROP TABLE allocations;
ALTER TABLE allocations_v6 RENAME TO allocations;
CREATE INDEX ix_allocations_parent ON allocations(parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX ix_allocations_org ON allocations(org_id);

CREATE TABLE usage_events_v6 (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  org_id         INTEGER NOT NULL,
  allocation_id  INTEGER NOT NULL REFERENCES allocations(id) ON DELETE CASCADE,
  sku_id         INTEGER NOT NULL REFERENCES skus(id),
  quantity       INTEGER NOT NULL CHECK (quantity >= 0),
  start_ns       INTEGER NOT NULL,
  end_ns         INTEGER NOT NULL,
  status         INTEGER NOT NULL CHECK (status IN (1, 2)),
  external_key   TEXT,
  amount         INTEGER NOT NULL,
  usd            INTEGER,
  attributes     TEXT,
  recorded_ns    INTEGER NOT NULL,
  recorded_by    TEXT    NOT NULL,
  CHECK (end_ns >= start_ns)
);
INSERT INTO usage_events_v6 (id, org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by)
  SELECT id, org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_v6 RENAME TO usage_events;
CREATE UNIQUE INDEX ux_usage_events_key ON usage_events(org_id, external_key) WHERE external_key IS NOT NULL;
CREATE INDEX ix_usage_events_allocation ON usage_events(allocation_id, start_ns);
