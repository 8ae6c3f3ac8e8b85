using System.Text;
using Dapper;

namespace Allocations.Storage;

/// <summary>Reporting queries. The filter only chooses among fixed SQL fragments; every value (ids, instants, JSON
/// paths built from attribute keys, and attribute values) is a bound parameter.</summary>
internal sealed partial class SqliteSession : IReportQueries
{
    public IReadOnlyList<EventRow> ListEventPage(long allocationId, EventFilter filter, bool newestFirst, (long StartNs, long Id)? after, int limit)
    {
        var parameters = new DynamicParameters();
        var sql = new StringBuilder($"SELECT {EventColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id WHERE e.allocation_id = @allocationId");
        parameters.Add("allocationId", allocationId);
        if (newestFirst && after is { } bound && filter.ToNs is { } to && bound.StartNs < to)
        {
            // The cursor is then the tighter upper bound on start_ns; leaving out the looser one lets the index range
            // start right at the cursor, so a deep page costs the same as the first.
            filter = filter with { ToNs = null };
        }
        AppendFilter(sql, parameters, filter);
        if (after is { } cursor)
        {
            // Row-value comparison: the index on (allocation_id, start_ns) carries the rowid, so this is a range seek.
            sql.Append(newestFirst ? " AND (e.start_ns, e.id) < (@afterStart, @afterId)" : " AND (e.start_ns, e.id) > (@afterStart, @afterId)");
            parameters.Add("afterStart", cursor.StartNs);
            parameters.Add("afterId", cursor.Id);
        }
        sql.Append(newestFirst ? " ORDER BY e.start_ns DESC, e.id DESC" : " ORDER BY e.start_ns, e.id");
        sql.Append(" LIMIT @limit");
        parameters.Add("limit", limit);
        return Many<EventRow>(sql.ToString(), parameters);
    }

    public IReadOnlyList<SegmentRow> ListSegmentsOf(IReadOnlyList<long> eventIds)
    {
        if (eventIds.Count == 0)
        {
            return [];
        }
        return Many<SegmentRow>(
            "SELECT event_id AS EventId, seq AS Seq, start_ns AS StartNs, end_ns AS EndNs, rule_id AS RuleId, rate AS Rate, amount AS Amount " +
            "FROM event_segments WHERE event_id IN (SELECT value FROM json_each(@ids)) ORDER BY event_id, seq",
            new { ids = "[" + string.Join(',', eventIds.Select(id => id.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]" });
    }

    public IEnumerable<ReportSegmentRow> StreamReportSegments(IReadOnlyList<long> allocationIds, EventFilter filter)
    {
        var (sql, parameters) = ReportSegmentsCommand(allocationIds, filter);
        return Stream<ReportSegmentRow>(sql, parameters);
    }

    /// <summary>The query behind <see cref="StreamReportSegments"/>: the allocations' events read through the
    /// (allocation_id, end_ns, start_ns) index, so a period's report reads the events that end at or after the period's
    /// start (checking "start before the period's end" in the index) rather than the whole history before its end.
    /// One statement for all the allocations (one index seek each), in index order, which keeps each event's segments
    /// together without a sort.</summary>
    /// <remarks>The index is named because the planner, without statistics, cannot tell which of the two range
    /// conditions is the narrower; for the recent periods reports are mostly asked for, it is this one.</remarks>
    internal static (string Sql, DynamicParameters Parameters) ReportSegmentsCommand(IReadOnlyList<long> allocationIds, EventFilter filter)
    {
        var parameters = new DynamicParameters();
        var sql = new StringBuilder(
            "SELECT e.id AS EventId, e.allocation_id AS AllocationId, e.sku_id AS SkuId, s.code AS SkuCode, e.status AS Status, e.start_ns AS EventStartNs, " +
            "e.end_ns AS EventEndNs, e.usd AS Usd, e.attributes AS Attributes, g.start_ns AS StartNs, g.end_ns AS EndNs, g.amount AS Amount " +
            "FROM usage_events e INDEXED BY ix_usage_events_allocation_end JOIN skus s ON s.id = e.sku_id " +
            "JOIN event_segments g ON g.event_id = e.id WHERE e.allocation_id IN (SELECT value FROM json_each(@allocationIds))");
        parameters.Add("allocationIds", "[" + string.Join(',', allocationIds.Select(id => id.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]");
        if (filter.FromNs is { } from)
        {
            // Implied by the overlap test AppendFilter writes (the schema keeps end_ns >= start_ns), but stated as a
            // range on the index's second column so that the seek starts at the period.
            sql.Append(" AND e.end_ns >= @periodFromNs");
            parameters.Add("periodFromNs", from);
        }
        AppendFilter(sql, parameters, filter);
        sql.Append(" ORDER BY e.allocation_id, e.end_ns, e.start_ns, e.id, g.seq");
        return (sql.ToString(), parameters);
    }

    private static void AppendFilter(StringBuilder sql, DynamicParameters parameters, EventFilter filter)
    {
        if (filter.ToNs is { } to)
        {
            sql.Append(" AND e.start_ns < @toNs");
            parameters.Add("toNs", to);
        }
        if (filter.FromNs is { } from)
        {
            sql.Append(" AND (e.end_ns > @fromNs OR e.start_ns >= @fromNs)");
            parameters.Add("fromNs", from);
        }
        if (filter.SkuId is { } sku)
        {
            sql.Append(" AND e.sku_id = @skuId");
            parameters.Add("skuId", sku);
        }
        if (filter.Status is { } status)
        {
            sql.Append(" AND e.status = @status");
            parameters.Add("status", status);
        }
        for (var i = 0; i < filter.Attributes.Count; i++)
        {
            var (key, value) = filter.Attributes[i];
            var p = "attrPath" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var v = "attrValue" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            sql.Append(" AND json_extract(e.attributes, @").Append(p).Append(") = @").Append(v);
            parameters.Add(p, "$.\"" + key + "\""); // the key as a quoted JSON path label, itself a bound parameter
            parameters.Add(v, value);
        }
    }
}
