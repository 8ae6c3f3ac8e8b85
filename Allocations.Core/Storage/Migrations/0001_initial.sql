-- Allocations schema, version 1: catalogue, allocations with maintained figures, usage events and their segments.
-- Instants are INTEGER nanoseconds since the Unix epoch; amounts and quantities INTEGER millionths; rates INTEGER
-- billionths. Names and codes keep their case in `name`/`code` and are unique by their upper-cased `*_key`.

CREATE TABLE organizations (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL,
  name_key    TEXT    NOT NULL UNIQUE,
  created_ns  INTEGER NOT NULL
);

CREATE TABLE org_admins (
  org_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  user_id  TEXT    NOT NULL,
  PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;

CREATE TABLE units (
  id                 INTEGER PRIMARY KEY,
  org_id             INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  code               TEXT    NOT NULL,
  code_key           TEXT    NOT NULL,
  display_precision  INTEGER NOT NULL CHECK (display_precision BETWEEN 0 AND 6),
  UNIQUE (org_id, code_key)
);

CREATE TABLE skus (
  id        INTEGER PRIMARY KEY,
  org_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  code      TEXT    NOT NULL,
  code_key  TEXT    NOT NULL,
  unit_id   INTEGER NOT NULL REFERENCES units(id),
  basis     INTEGER NOT NULL CHECK (basis IN (1, 2)),
  UNIQUE (org_id, code_key)
);

-- A rule belongs to a SKU (its rate into the SKU's unit) or to a unit (its USD price), never both.
CREATE TABLE rate_rules (
  id          INTEGER PRIMARY KEY,
  sku_id      INTEGER REFERENCES skus(id) ON DELETE CASCADE,
  unit_id     INTEGER REFERENCES units(id) ON DELETE CASCADE,
  from_ns     INTEGER NOT NULL,
  to_ns       INTEGER,
  rate        INTEGER NOT NULL CHECK (rate >= 0),
  created_ns  INTEGER NOT NULL,
  created_by  TEXT    NOT NULL,
  CHECK ((sku_id IS NULL) <> (unit_id IS NULL)),
  CHECK (to_ns IS NULL OR to_ns > from_ns)
);
CREATE INDEX ix_rate_rules_sku ON rate_rules(sku_id, from_ns) WHERE sku_id IS NOT NULL;
CREATE INDEX ix_rate_rules_unit ON rate_rules(unit_id, from_ns) WHERE unit_id IS NOT NULL;

CREATE TABLE allocations (
  id             INTEGER PRIMARY KEY,
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
CREATE INDEX ix_allocations_parent ON allocations(parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE total_changes (
  id             INTEGER PRIMARY KEY,
  allocation_id  INTEGER NOT NULL REFERENCES allocations(id) ON DELETE CASCADE,
  old_total      INTEGER NOT NULL,
  new_total      INTEGER NOT NULL,
  actor          TEXT    NOT NULL,
  at_ns          INTEGER NOT NULL,
  reason         TEXT    NOT NULL
);
CREATE INDEX ix_total_changes_allocation ON total_changes(allocation_id);

CREATE TABLE usage_events (
  id             INTEGER PRIMARY KEY,
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
CREATE UNIQUE INDEX ux_usage_events_key ON usage_events(org_id, external_key) WHERE external_key IS NOT NULL;
CREATE INDEX ix_usage_events_allocation ON usage_events(allocation_id, start_ns);

CREATE TABLE event_segments (
  event_id  INTEGER NOT NULL REFERENCES usage_events(id) ON DELETE CASCADE,
  seq       INTEGER NOT NULL,
  start_ns  INTEGER NOT NULL,
  end_ns    INTEGER NOT NULL,
  rule_id   INTEGER NOT NULL,
  rate      INTEGER NOT NULL,
  amount    INTEGER NOT NULL,
  PRIMARY KEY (event_id, seq)
) WITHOUT ROWID;
