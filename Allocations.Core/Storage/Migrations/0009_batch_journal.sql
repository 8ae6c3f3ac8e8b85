-- Version 9: a journal entry per recording call instead of one per new event, and a head row per organization.
--
-- 1. journal_heads holds each organization's chain head: the sequence of its last entry and that entry's hash. The
--    writer reads it, appends, and advances it in the same transaction, instead of searching the journal for its
--    last entry. journal_sequence holds the next sequence of the whole journal (sequences are unique across
--    organizations, and every entry's hash covers its sequence, so the chain format is unchanged). Both are filled
--    from the existing chains here.
CREATE TABLE journal_heads (
  org_id         INTEGER PRIMARY KEY,
  last_sequence  INTEGER NOT NULL,
  head_hash      BLOB    NOT NULL
);
INSERT INTO journal_heads (org_id, last_sequence, head_hash)
  SELECT j.org_id, j.id, j.hash FROM journal j
  WHERE j.id = (SELECT MAX(k.id) FROM journal k WHERE k.org_id = j.org_id);

CREATE TABLE journal_sequence (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  next_sequence  INTEGER NOT NULL
);
INSERT INTO journal_sequence (id, next_sequence) SELECT 1, COALESCE(MAX(id), 0) + 1 FROM journal;

-- 2. A usage.batch entry records many new events at once and may span several allocations of its organization. Its
--    journal row has no allocation; journal_parts lists the allocations it has a part for, so that an allocation's
--    journal finds it through the (allocation_id, journal_id) key. The parts themselves (each allocation's id range,
--    sums and digest) are in the entry's hashed content; verification checks this table against them.
CREATE TABLE journal_parts (
  allocation_id  INTEGER NOT NULL,
  journal_id     INTEGER NOT NULL,
  PRIMARY KEY (allocation_id, journal_id)
) WITHOUT ROWID;
