namespace Allocations.Storage;

/// <summary>The read-only queries of reporting: pages of events and a stream of rated segments. Values are always
/// bound as parameters; only fixed SQL fragments are chosen by the filter's shape.</summary>
internal interface IReportQueries
{
    /// <summary>One page of an allocation's events in (start, id) order, strictly after the cursor when given.</summary>
    IReadOnlyList<EventRow> ListEventPage(long allocationId, EventFilter filter, bool newestFirst, (long StartNs, long Id)? after, int limit);

    /// <summary>The segments of the given events, in event and segment order.</summary>
    IReadOnlyList<SegmentRow> ListSegmentsOf(IReadOnlyList<long> eventIds);

    /// <summary>Streams the rated segments of the allocations' events that meet the filter, each event's segments
    /// together and in segment order. The sequence must be consumed inside the transaction.</summary>
    IEnumerable<ReportSegmentRow> StreamReportSegments(IReadOnlyList<long> allocationIds, EventFilter filter);
}

/// <summary>The reporting queries are part of every session: an engine that stores events answers them.</summary>
internal partial interface IStorageSession : IReportQueries
{
}

/// <summary>Which events a query keeps: those overlapping [FromNs, ToNs) (a zero-length event when its instant lies
/// inside), of one SKU and status when given, whose attributes hold each (key, value) pair: the attribute named
/// <c>Key</c> is a string equal to <c>Value</c>. Keys are 1 to 64 characters without quotes, backslashes or control
/// characters; how an engine looks a key up (a JSON path, a JSONB operator) is its own affair.</summary>
internal sealed record EventFilter(
    long? FromNs,
    long? ToNs,
    long? SkuId,
    int? Status,
    IReadOnlyList<(string Key, string Value)> Attributes)
{
    /// <summary>Gets a value indicating whether a report reads the events' attributes (it groups by attribute keys);
    /// otherwise <see cref="ReportSegmentRow.Attributes"/> is null.</summary>
    internal bool ReadAttributes { get; init; } = true;
}

/// <summary>A rated segment with the event fields a report groups and splits by. A stream may fill one instance
/// again for every segment it yields.</summary>
internal sealed class ReportSegmentRow
{
    public long EventId { get; set; }

    public long AllocationId { get; set; }

    public long SkuId { get; set; }

    public string SkuCode { get; set; } = "";

    public int Status { get; set; }

    public long EventStartNs { get; set; }

    public long EventEndNs { get; set; }

    public long? Usd { get; set; }

    public string? Attributes { get; set; }

    public long StartNs { get; set; }

    public long EndNs { get; set; }

    public long Amount { get; set; }
}
