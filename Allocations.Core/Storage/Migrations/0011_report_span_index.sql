-- Version 11: an index that bounds a period report on both sides. Version 8's (allocation_id, end_ns, start_ns) index
-- read every event that ends after the period's start, so a report on any but the latest period still walked the
-- whole later history in the index. Overlap with [from, to) is end > from and start < to; an index on the start alone
-- cannot bound the first test, because an event may be long. So events are indexed by span class: the class of an
-- event whose end - start is under 2^(32 + 6c) ns is c (0: under 4.3 s, 1: 4.6 min, 2: 4.9 h, 3: 13 days, 4: 2.3
-- years; 5: longer). An event of class c that overlaps the period starts in (from - 2^(32 + 6c), to): a bounded range
-- of (class, allocation_id, start_ns) for every class but the last, which holds only events longer than 2.3 years.
-- end_ns rides along so that "end > from" is checked in the index, and rows are fetched only for the events that
-- overlap. The expression is the one SqliteSession.SpanClassSql writes; SQLite matches them term for term.
DROP INDEX ix_usage_events_allocation_end;
CREATE INDEX ix_usage_events_allocation_span ON usage_events(
  (CASE WHEN end_ns - start_ns < 4294967296 THEN 0 WHEN end_ns - start_ns < 274877906944 THEN 1
        WHEN end_ns - start_ns < 17592186044416 THEN 2 WHEN end_ns - start_ns < 1125899906842624 THEN 3
        WHEN end_ns - start_ns < 72057594037927936 THEN 4 ELSE 5 END),
  allocation_id, start_ns, end_ns);
