-- Allocations schema, version 7: external keys scoped by source, actors that tell the system actor from a host user
-- named "system", and per-organization sums of event amounts that bound every report sum.
--
-- 1. usage_events.source is who recorded the event as the key scope sees it: 'user:<id>' for a host user,
--    'system' for the system actor, 'slurm' for the Slurm importer. An external key is unique within
--    (org_id, source, external_key), so a user can no longer take, replace or block a key another source records.
--    Backfill: until now the importer recorded under the principal that ran it (an organization admin or the system
--    actor), so recorded_by alone cannot tell an imported event from a hand-recorded one. A row becomes 'slurm' when
--    its key has the importer's shape ('slurm:' prefix, case-sensitive) AND its recorder could run the importer:
--    the system actor, a current admin of the organization, or a user the journal shows was ever made its admin
--    (first admin of organization.create, or organization.admin.add). Such rows are the importer's unless an admin
--    typed an importer key by hand, and taking them as 'slurm' keeps the next run from importing the job twice.
--    A 'slurm:' key recorded by anyone else (a Use-level user: a possible squat) stays that user's own event, so the
--    importer's real event is recorded beside it. Every other row: 'system' when recorded_by is 'system' (before this
--    version a host user named "system" was written the same way; such rows are taken as the system actor's),
--    otherwise 'user:' || recorded_by.
CREATE TEMP TABLE m7_admins AS
  SELECT org_id, user_id FROM org_admins
  UNION SELECT org_id, substr(target, 6) FROM journal WHERE action = 'organization.admin.add' AND target GLOB 'user:*'
  UNION SELECT org_id, json_extract(after, '$.firstAdmin') FROM journal
    WHERE action = 'organization.create' AND json_valid(after) AND json_extract(after, '$.firstAdmin') IS NOT NULL;

ALTER TABLE usage_events ADD COLUMN source TEXT NOT NULL DEFAULT '';
UPDATE usage_events SET source = CASE
  WHEN external_key GLOB 'slurm:*'
    AND (recorded_by = 'system' OR EXISTS (SELECT 1 FROM m7_admins a WHERE a.org_id = usage_events.org_id AND a.user_id = usage_events.recorded_by))
    THEN 'slurm'
  WHEN recorded_by = 'system' THEN 'system'
  ELSE 'user:' || recorded_by
END;
DROP TABLE m7_admins;

DROP INDEX ux_usage_events_key;
CREATE UNIQUE INDEX ux_usage_events_key ON usage_events(org_id, source, external_key) WHERE external_key IS NOT NULL;

-- 2. Actors. From this version the journal and the total history write 'user:<id>' for a host user and 'system' for
--    the system actor. Journal rows are hash-chained over their actor text, so the rows written before stay as they
--    are (their hashes keep verifying, and a head hash kept outside still matches); journal_legacy records the last
--    sequence written the old way, and the library reads those rows' bare actor as 'user:<actor>', or as the system
--    actor when it is 'system' (the same decision as above). total_changes is not chained and is rewritten.
CREATE TABLE journal_legacy (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  last_sequence  INTEGER NOT NULL
);
INSERT INTO journal_legacy (id, last_sequence) SELECT 1, COALESCE(MAX(id), 0) FROM journal;

UPDATE total_changes SET actor = CASE WHEN actor = 'system' THEN 'system' ELSE 'user:' || actor END;

-- 3. The sums of event amounts and of USD amounts per organization, maintained by every write, which refuses a
--    change that would take either past the largest amount: every report sum (any subset of an organization's
--    non-negative amounts) then stays representable. They are taken here in two 32-bit halves, which cannot
--    overflow for fewer than 2^31 events, then joined; a file whose events already sum past the range saturates at
--    the largest integer, so only writes that lower the sum succeed until events are removed.
CREATE TABLE org_usage_sums (
  org_id      INTEGER PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  amount_sum  INTEGER NOT NULL,
  usd_sum     INTEGER NOT NULL
);
INSERT INTO org_usage_sums (org_id, amount_sum, usd_sum)
  SELECT o.id,
    CASE WHEN COALESCE(h.ahi, 0) + (COALESCE(h.alo, 0) >> 32) >= 2147483648 THEN 9223372036854775807
      ELSE (COALESCE(h.ahi, 0) + (COALESCE(h.alo, 0) >> 32)) * 4294967296 + (COALESCE(h.alo, 0) & 4294967295) END,
    CASE WHEN COALESCE(h.uhi, 0) + (COALESCE(h.ulo, 0) >> 32) >= 2147483648 THEN 9223372036854775807
      ELSE (COALESCE(h.uhi, 0) + (COALESCE(h.ulo, 0) >> 32)) * 4294967296 + (COALESCE(h.ulo, 0) & 4294967295) END
  FROM organizations o
  LEFT JOIN (SELECT org_id, SUM(amount >> 32) AS ahi, SUM(amount & 4294967295) AS alo,
                    SUM(COALESCE(usd, 0) >> 32) AS uhi, SUM(COALESCE(usd, 0) & 4294967295) AS ulo
             FROM usage_events GROUP BY org_id) h ON h.org_id = o.id;
