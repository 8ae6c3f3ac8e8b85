-- Version 12: holds expire. A hold placed by a reservation carries the instant it expires at (nanoseconds since the
-- epoch, like every instant of the store); null means it never expires, as every hold placed before this version and
-- every event recorded directly do. From that instant on it no longer counts against Remaining, although the figures
-- still include it until a sweep (or a release) deletes it: reads and fit checks subtract the expired holds of the
-- allocations they read, which this index finds by allocation without visiting the allocation's other events.
ALTER TABLE usage_events ADD COLUMN expires_ns INTEGER;
CREATE INDEX ix_usage_events_hold_expiry ON usage_events(allocation_id, expires_ns)
  WHERE status = 1 AND expires_ns IS NOT NULL;
