-- Allocations schema for PostgreSQL, version 3: less work per event (the SQLite schema's version 16, the references
-- kept by the library, and room for updates in place).
--
-- 1. A single segment that spans its event and carries the event's whole amount (most rated events have exactly one)
--    is stored in the event's own row, as seg_rule_id and seg_rate; its interval and amount are the event's. Any other
--    event's segments are rows of event_segments, and those of events written earlier stay there. Every reader takes
--    an event's segments from its row when seg_rule_id is set, and from event_segments otherwise.
ALTER TABLE usage_events ADD COLUMN seg_rule_id BIGINT;
ALTER TABLE usage_events ADD COLUMN seg_rate BIGINT;
ALTER TABLE usage_events ADD CONSTRAINT usage_events_inline_segment CHECK ((seg_rule_id IS NULL) = (seg_rate IS NULL));

-- 2. A foreign key is checked by a trigger that runs a query for every row inserted: for the events and segments of a
--    batch, those checks cost more than copying the rows in. The library writes an event only for an allocation whose
--    row it holds locked (FOR UPDATE) and a SKU it has read (SKUs are never deleted), and a segment only for an event
--    of its own transaction; it deletes an event's segments with the event, and an allocation's events and their
--    segments with the allocation.
ALTER TABLE usage_events DROP CONSTRAINT IF EXISTS usage_events_allocation_id_fkey;
ALTER TABLE usage_events DROP CONSTRAINT IF EXISTS usage_events_sku_id_fkey;
ALTER TABLE event_segments DROP CONSTRAINT IF EXISTS event_segments_event_id_fkey;

-- 3. Allocation rows change with every write that moves their figures: half of each page is kept free, so that an
--    update fits beside the row it replaces (a heap-only update, which touches none of the table's indexes).
ALTER TABLE allocations SET (fillfactor = 50);
ALTER TABLE org_usage_sums SET (fillfactor = 50);
ALTER TABLE journal_heads SET (fillfactor = 50);
