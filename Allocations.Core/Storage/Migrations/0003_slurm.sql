-- Slurm importer state, one row per organization and cluster: the watermark (the instant of the last committed
-- sacct snapshot; the next run asks sacct for everything since watermark minus the overlap window) and the run
-- lock (an owner token with an expiry, taken and released in BEGIN IMMEDIATE transactions, so overlapping cron
-- runs cannot both import). Instants are INTEGER nanoseconds since the Unix epoch.

CREATE TABLE slurm_sync_state (
  org_id           INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  cluster          TEXT    NOT NULL,
  watermark_ns     INTEGER,
  last_run_ns      INTEGER,
  lock_owner       TEXT,
  lock_expires_ns  INTEGER,
  PRIMARY KEY (org_id, cluster),
  CHECK ((lock_owner IS NULL) = (lock_expires_ns IS NULL))
) WITHOUT ROWID;
