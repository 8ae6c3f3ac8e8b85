-- Version 13: alert thresholds per allocation and the durable outbox of threshold crossings.
--
-- 1. alert_thresholds: an allocation's thresholds, each a kind and a value: kind 1 is a % Used threshold (value in
--    hundredths of a percent, 8000 for 80 %), kind 2 a Remaining threshold (value in micro-units of the unit). They
--    go with their allocation.
CREATE TABLE alert_thresholds (
  allocation_id  INTEGER NOT NULL REFERENCES allocations(id) ON DELETE CASCADE,
  kind           INTEGER NOT NULL CHECK (kind IN (1, 2)),
  value          INTEGER NOT NULL,
  PRIMARY KEY (allocation_id, kind, value)
) WITHOUT ROWID;

-- 2. alerts: one row per crossing, written in the transaction of the write that crossed it, read by id (the cursor).
--    Ids are never reused. An alert outlives its allocation (no foreign key): it keeps the allocation's id and name,
--    the threshold, the direction (1 up: reached, 2 down: left), the figures after the write, the event and the
--    journal entry of the write, the instant and the actor.
CREATE TABLE alerts (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  org_id           INTEGER NOT NULL,
  allocation_id    INTEGER NOT NULL,
  allocation_name  TEXT    NOT NULL,
  kind             INTEGER NOT NULL,
  value            INTEGER NOT NULL,
  direction        INTEGER NOT NULL,
  total            INTEGER NOT NULL,
  used             INTEGER NOT NULL,
  estimated        INTEGER NOT NULL,
  event_id         INTEGER,
  journal_id       INTEGER,
  operation        TEXT    NOT NULL,
  at_ns            INTEGER NOT NULL,
  actor            TEXT    NOT NULL
);
CREATE INDEX alerts_by_org ON alerts (org_id, id);
