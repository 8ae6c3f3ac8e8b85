-- Allocations schema, version 2: groups and their members, grants of Read/Use/Admin on allocations, and the
-- hash-chained journal of every change.

CREATE TABLE groups (
  id          INTEGER PRIMARY KEY,
  org_id      INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  name        TEXT    NOT NULL,
  name_key    TEXT    NOT NULL,
  created_ns  INTEGER NOT NULL,
  UNIQUE (org_id, name_key)
);

CREATE TABLE group_members (
  group_id  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  user_id   TEXT    NOT NULL,
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX ix_group_members_user ON group_members(user_id, group_id);

-- A grant to a group, or organization-wide when group_id is NULL (every member of the organization).
-- Levels: 1 Read, 2 Use, 3 Admin. One grant per (allocation, grantee).
CREATE TABLE grants (
  id             INTEGER PRIMARY KEY,
  allocation_id  INTEGER NOT NULL REFERENCES allocations(id) ON DELETE CASCADE,
  group_id       INTEGER REFERENCES groups(id) ON DELETE CASCADE,
  level          INTEGER NOT NULL CHECK (level IN (1, 2, 3)),
  granted_ns     INTEGER NOT NULL,
  granted_by     TEXT    NOT NULL
);
CREATE UNIQUE INDEX ux_grants_grantee ON grants(allocation_id, COALESCE(group_id, 0));
CREATE INDEX ix_grants_group ON grants(group_id) WHERE group_id IS NOT NULL;

-- The journal: one hash chain per organization. Rows never reference allocations by foreign key, so the entry of
-- a deletion outlives what it deleted. hash = SHA-256(prev_hash || canonical content), computed by the library.
CREATE TABLE journal (
  id             INTEGER PRIMARY KEY,
  org_id         INTEGER NOT NULL,
  allocation_id  INTEGER,
  at_ns          INTEGER NOT NULL,
  actor          TEXT    NOT NULL,
  action         TEXT    NOT NULL,
  target         TEXT    NOT NULL,
  before         TEXT,
  after          TEXT,
  prev_hash      BLOB    NOT NULL,
  hash           BLOB    NOT NULL
);
CREATE INDEX ix_journal_org ON journal(org_id, id);
CREATE INDEX ix_journal_allocation ON journal(allocation_id, id) WHERE allocation_id IS NOT NULL;
