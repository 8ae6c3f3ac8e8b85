-- Version 14: an allocation may have a period [period_start_ns, period_end_ns), either end open (NULL). Usage is
-- recorded, reserved or checked only when its start lies in the period, and a child's period lies within its
-- parent's. Existing allocations have no period, so every event they hold stays valid. Instants are INTEGER
-- nanoseconds since the Unix epoch.
ALTER TABLE allocations ADD COLUMN period_start_ns INTEGER;
ALTER TABLE allocations ADD COLUMN period_end_ns INTEGER
  CHECK (period_end_ns IS NULL OR period_start_ns IS NULL OR period_end_ns > period_start_ns);
