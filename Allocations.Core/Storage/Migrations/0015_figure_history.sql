-- Version 15: each allocation's total and figures as they stood after every write, so that the figures as of any
-- instant are one indexed look-up instead of a replay of its events.
--
-- figure_history holds one row per allocation and instant of the store's clock at which a write changed its total or
-- its figures: the values after the last such write at that instant. The figures as of an instant T are those of the
-- row with the greatest at_ns <= T; an allocation has no row before it was created. Rows go with their allocation.
CREATE TABLE figure_history (
  allocation_id  INTEGER NOT NULL REFERENCES allocations(id) ON DELETE CASCADE,
  at_ns          INTEGER NOT NULL,
  total          INTEGER NOT NULL,
  own_used       INTEGER NOT NULL,
  own_estimated  INTEGER NOT NULL,
  used           INTEGER NOT NULL,
  estimated      INTEGER NOT NULL,
  PRIMARY KEY (allocation_id, at_ns)
) WITHOUT ROWID;

-- A store written before this version has allocations without history: the library rebuilds it from the journal
-- (which records every change of a total and of the events) the first time it opens the upgraded store, and then
-- empties this table. A row means the rebuild is still to do; it names the schema version the store was written at.
CREATE TABLE figure_history_rebuild (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  from_version  INTEGER NOT NULL
);
INSERT INTO figure_history_rebuild (id, from_version)
  SELECT 1, (SELECT user_version FROM pragma_user_version) WHERE EXISTS (SELECT 1 FROM allocations);
