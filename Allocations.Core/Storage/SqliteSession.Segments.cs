using Microsoft.Data.Sqlite;

namespace Allocations.Storage;

/// <summary>Where SQLite keeps an event's segments (migration 0016). A single segment that spans its event and
/// carries the event's whole amount (most rated events have exactly one) is stored in the event's own row, as
/// <c>seg_rule_id</c> and <c>seg_rate</c>; its interval and amount are the event's. Any other event's segments are rows
/// of <c>event_segments</c>, as before version 16, and those of files written earlier stay there. Every reader takes
/// an event's segments from its row when <c>seg_rule_id</c> is set, and from <c>event_segments</c> otherwise, so the
/// segments read (and the digests over them) are the same whichever way they are stored.</summary>
internal sealed partial class SqliteSession
{
    /// <summary>Whether <paramref name="segments"/> of <paramref name="row"/> are stored in the event row.</summary>
    internal static bool Inlines(EventRow row, IReadOnlyList<SegmentRow> segments) =>
        segments.Count == 1 && segments[0].StartNs == row.StartNs && segments[0].EndNs == row.EndNs && segments[0].Amount == row.Amount;

    public long InsertRatedEvent(EventRow row, IReadOnlyList<SegmentRow> segments)
    {
        if (Inlines(row, segments))
        {
            return InsertEventRow(row, segments[0]);
        }
        var id = InsertEventRow(row, inline: null);
        InsertSegments(id, segments);
        return id;
    }

    public void RewriteRatedEvent(EventRow row, IReadOnlyList<SegmentRow> segments)
    {
        var inline = Inlines(row, segments) ? segments[0] : null;
        Run(
            "UPDATE usage_events SET allocation_id = $alloc, sku_id = $sku, quantity = $qty, start_ns = $start, end_ns = $end, " +
            "status = $status, amount = $amount, usd = $usd, attributes = $attrs, recorded_ns = $recNs, recorded_by = $recBy, " +
            "seg_rule_id = $segRule, seg_rate = $segRate WHERE id = $id",
            ["$alloc", "$sku", "$qty", "$start", "$end", "$status", "$amount", "$usd", "$attrs", "$recNs", "$recBy", "$segRule", "$segRate", "$id"],
            [row.AllocationId, row.SkuId, row.Quantity, row.StartNs, row.EndNs, row.Status, row.Amount, (object?)row.Usd ?? DBNull.Value,
                (object?)row.Attributes ?? DBNull.Value, row.RecordedNs, row.RecordedBy,
                inline is null ? DBNull.Value : inline.RuleId, inline is null ? DBNull.Value : inline.Rate, row.Id],
            command => command.ExecuteNonQuery());
        // The event's segments may be rows of event_segments (a file written before version 16, or more than one).
        Run("DELETE FROM event_segments WHERE event_id = $e", ["$e"], [row.Id], command => command.ExecuteNonQuery());
        if (inline is null)
        {
            InsertSegments(row.Id, segments);
        }
    }

    /// <summary>The event's single segment stored in its row; null when the event stores none there (its segments,
    /// if any, are rows of event_segments) or does not exist.</summary>
    private SegmentRow? ReadInlineSegment(long eventId) =>
        Run(
            "SELECT id, seg_rule_id, seg_rate, start_ns, end_ns, amount FROM usage_events WHERE id = $e AND seg_rule_id IS NOT NULL",
            ["$e"],
            [eventId],
            command =>
            {
                using var reader = command.ExecuteReader();
                return reader.Read() ? StoredRows.Map(reader, ToInlineSegmentRow) : null;
            });

    /// <summary>Maps a row of (id, seg_rule_id, seg_rate, start_ns, end_ns, amount) of usage_events to its single
    /// segment.</summary>
    private static SegmentRow ToInlineSegmentRow(SqliteDataReader reader) =>
        new SegmentRow
        {
            EventId = reader.GetInt64(0),
            Seq = 0,
            RuleId = reader.GetInt64(1),
            Rate = reader.GetInt64(2),
            StartNs = reader.GetInt64(3),
            EndNs = reader.GetInt64(4),
            Amount = reader.GetInt64(5),
        };
}
