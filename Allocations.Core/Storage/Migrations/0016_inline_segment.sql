-- Version 16: an event's single segment stored in the event's own row. Most rated events have exactly one segment,
-- which spans the event and carries its whole amount; storing it as a row of event_segments cost a second insert per
-- event, a second b-tree and a fetch per event in every report. Such a segment is now seg_rule_id and seg_rate of its
-- event (its interval and amount are the event's); seg_rule_id is null for an event whose segments are rows of
-- event_segments (several segments, or none). Events written before this version keep their segment rows, which
-- read as before: a reader takes an event's segments from its row when seg_rule_id is set, from event_segments
-- otherwise.
ALTER TABLE usage_events ADD COLUMN seg_rule_id INTEGER;
ALTER TABLE usage_events ADD COLUMN seg_rate INTEGER;
