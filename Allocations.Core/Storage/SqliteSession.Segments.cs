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
    /// <summary>Where an event's segments are, read with the event: appended to <see cref="EventColumns"/> by the
    /// readers of the write path, so that a replace's before-state needs no second read of an event whose row holds
    /// its segment.</summary>
    private const string SegmentFormColumns = ", e.seg_rule_id, e.seg_rate";

    /// <summary>The segment form of the events this transaction has read or written: the segment stored in the row,
    /// or null when the event's segments are rows of event_segments (or it has none). An event missing here is read
    /// from the file.</summary>
    private readonly Dictionary<long, SegmentRow?> storedSegments = [];

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
        var wasInline = storedSegments.TryGetValue(row.Id, out var known) && known is not null;
        Run(
            "UPDATE usage_events SET allocation_id = $alloc, sku_id = $sku, quantity = $qty, start_ns = $start, end_ns = $end, " +
            "status = $status, amount = $amount, usd = $usd, attributes = $attrs, recorded_ns = $recNs, recorded_by = $recBy, " +
            "seg_rule_id = $segRule, seg_rate = $segRate, expires_ns = $expires WHERE id = $id",
            ["$alloc", "$sku", "$qty", "$start", "$end", "$status", "$amount", "$usd", "$attrs", "$recNs", "$recBy", "$segRule", "$segRate", "$expires", "$id"],
            [row.AllocationId, row.SkuId, row.Quantity, row.StartNs, row.EndNs, row.Status, row.Amount, (object?)row.Usd ?? DBNull.Value,
                (object?)row.Attributes ?? DBNull.Value, row.RecordedNs, row.RecordedBy,
                inline is null ? DBNull.Value : inline.RuleId, inline is null ? DBNull.Value : inline.Rate, (object?)row.ExpiresNs ?? DBNull.Value, row.Id],
            command => command.ExecuteNonQuery());
        // The event's segments may be rows of event_segments (a file written before version 16, or more than one),
        // unless its row is known to have held its segment; they are deleted before any are written there.
        if (!wasInline || inline is null)
        {
            Run("DELETE FROM event_segments WHERE event_id = $e", ["$e"], [row.Id], command => command.ExecuteNonQuery());
        }
        if (inline is null)
        {
            InsertSegments(row.Id, segments);
        }
        storedSegments[row.Id] = inline is null ? null : InlineSegment(row, inline.RuleId, inline.Rate);
    }

    /// <summary>Maps a row of <see cref="EventColumns"/> then <see cref="SegmentFormColumns"/> (checked by
    /// <paramref name="check"/>), and remembers where the event's segments are.</summary>
    private EventRow MapEvent(SqliteDataReader reader, StoredRows.RowCheck check)
    {
        var row = check.Map(reader, ToEventRow);
        // The segment form's two columns follow the event's (the last of which is expires_ns, at 16).
        if (reader.IsDBNull(17))
        {
            storedSegments[row.Id] = null;
        }
        else if (!reader.IsDBNull(18))
        {
            storedSegments[row.Id] = InlineSegment(row, reader.GetInt64(17), reader.GetInt64(18));
        }
        else
        {
            storedSegments.Remove(row.Id); // a rule without a rate: ListSegments reads the row and reports it
        }
        return row;
    }

    /// <summary>The single segment an event's row holds: the event's interval and amount, at the stored rule and rate.</summary>
    internal static SegmentRow InlineSegment(EventRow row, long ruleId, long rate) =>
        new() { EventId = row.Id, Seq = 0, StartNs = row.StartNs, EndNs = row.EndNs, RuleId = ruleId, Rate = rate, Amount = row.Amount };

    /// <summary>Forgets where the event's segments are (its row changes: a segment it holds takes its new interval and
    /// amount).</summary>
    private SqliteSession ForgetSegmentForm(long eventId)
    {
        storedSegments.Remove(eventId);
        return this;
    }

    private static SegmentRow Copy(SegmentRow s) =>
        new() { EventId = s.EventId, Seq = s.Seq, StartNs = s.StartNs, EndNs = s.EndNs, RuleId = s.RuleId, Rate = s.Rate, Amount = s.Amount };

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
