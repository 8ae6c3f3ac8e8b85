-- Version 8: an index that serves "events overlapping [from, to)" for one allocation. A period report used to read
-- every event of an allocation that started before the period's end (the (allocation_id, start_ns) index bounds only
-- that side), so a month's report grew with the whole history before it. Ordered by end, the report reads only the
-- events that end at or after the period's start; start_ns rides along so "start < to" is checked in the index,
-- without fetching the rows of events that begin after the period.
CREATE INDEX ix_usage_events_allocation_end ON usage_events(allocation_id, end_ns, start_ns);
