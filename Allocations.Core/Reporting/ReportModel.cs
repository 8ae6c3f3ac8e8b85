using Allocations.Domain;
using NodaTime;

namespace Allocations.Reporting;

/// <summary>The column an allocation table is sorted by.</summary>
public enum AllocationSort
{
    /// <summary>By name, ignoring case.</summary>
    Name = 0,

    /// <summary>By unit code, then name.</summary>
    Unit = 1,

    /// <summary>By total.</summary>
    Total = 2,

    /// <summary>By Used.</summary>
    Used = 3,

    /// <summary>By Estimated.</summary>
    Estimated = 4,

    /// <summary>By Remaining.</summary>
    Remaining = 5,

    /// <summary>By % Used; allocations with a zero total (no percentage) come last.</summary>
    PercentUsed = 6,
}

/// <summary>Which allocations an allocation table shows and in what order.</summary>
/// <param name="Unit">Only allocations of this unit; null for all.</param>
/// <param name="Parent">Only this top-level allocation and its children; null for all.</param>
/// <param name="SortBy">The column to sort by; children are sorted under their parent by the same column.</param>
/// <param name="Descending">Whether to sort from largest to smallest.</param>
public sealed record AllocationTableQuery(
    UnitCode? Unit = null,
    AllocationId? Parent = null,
    AllocationSort SortBy = AllocationSort.Name,
    bool Descending = false);

/// <summary>One line of the allocation table: an allocation's figures at a glance.</summary>
/// <param name="Id">The allocation.</param>
/// <param name="Name">Its name.</param>
/// <param name="Unit">Its unit.</param>
/// <param name="ParentId">Its parent, or null.</param>
/// <param name="ParentName">Its parent's name when the caller can Read the parent; otherwise null.</param>
/// <param name="Depth">0 for a line at the top of the table, 1 for a child shown under its parent.</param>
/// <param name="Total">The budget.</param>
/// <param name="Used">Confirmed consumption, children included.</param>
/// <param name="Estimated">Estimated consumption, children included.</param>
/// <param name="Remaining">Total − Used − Estimated.</param>
/// <param name="PercentUsed">(Used + Estimated) / Total × 100; null when Total is zero.</param>
public sealed record AllocationTableRow(
    AllocationId Id,
    string Name,
    UnitCode Unit,
    AllocationId? ParentId,
    string? ParentName,
    int Depth,
    Amount Total,
    Amount Used,
    Amount Estimated,
    Amount Remaining,
    decimal? PercentUsed);

/// <summary>The order of an event listing.</summary>
public enum EventOrder
{
    /// <summary>Latest start first (ties: highest id first).</summary>
    NewestFirst = 0,

    /// <summary>Earliest start first (ties: lowest id first).</summary>
    OldestFirst = 1,
}

/// <summary>A position in an event listing: the (start, id) of the last event of a page.</summary>
/// <remarks>Keyset paging: the next page holds the events strictly after this position in the listing's order,
/// so events inserted meanwhile never shift a page, and no event present throughout is skipped or repeated.</remarks>
/// <param name="Start">The start of the last event returned.</param>
/// <param name="Id">The id of the last event returned.</param>
public sealed record EventCursor(Instant Start, UsageEventId Id);

/// <summary>Which events of an allocation to list, in which order, a page at a time.</summary>
/// <param name="From">Only events overlapping [From, To): the start of the range, or null for unbounded.</param>
/// <param name="To">The end of the range (exclusive), or null for unbounded.</param>
/// <param name="Sku">Only events of this SKU; null for all.</param>
/// <param name="Status">Only events in this status; null for both.</param>
/// <param name="Attributes">Only events whose attributes hold every one of these key/value pairs (exact match).</param>
/// <param name="Order">Newest or oldest first.</param>
/// <param name="PageSize">Events per page, 1 to 10,000.</param>
/// <param name="After">The cursor of the previous page; null for the first page.</param>
public sealed record EventQuery(
    Instant? From = null,
    Instant? To = null,
    SkuCode? Sku = null,
    UsageStatus? Status = null,
    IReadOnlyDictionary<string, string>? Attributes = null,
    EventOrder Order = EventOrder.NewestFirst,
    int PageSize = 100,
    EventCursor? After = null);

/// <summary>One page of events.</summary>
/// <param name="Events">The events, in the query's order, with their segments.</param>
/// <param name="Next">The cursor for the next page; null when this page is the last.</param>
public sealed record EventPage(IReadOnlyList<UsageEvent> Events, EventCursor? Next);

/// <summary>Dimensions a usage report groups by, besides attribute keys and calendar buckets.</summary>
[Flags]
public enum ReportGroups
{
    /// <summary>No dimension: one line per unit (and bucket, and attribute values).</summary>
    None = 0,

    /// <summary>By allocation.</summary>
    Allocation = 1,

    /// <summary>By SKU.</summary>
    Sku = 2,

    /// <summary>By status (Estimated, Confirmed).</summary>
    Status = 4,
}

/// <summary>The calendar period a usage report splits its lines into.</summary>
public enum CalendarBucket
{
    /// <summary>No split: one period, the whole report range.</summary>
    None = 0,

    /// <summary>Local calendar days (23 or 25 hours long on DST change days).</summary>
    Day = 1,

    /// <summary>ISO weeks, Monday to Monday, local time.</summary>
    Week = 2,

    /// <summary>Local calendar months.</summary>
    Month = 3,
}

/// <summary>What a usage report covers and how it groups.</summary>
/// <remarks>
/// The range is half-open, <c>[From, To)</c>; a null end is the store's supported limit (1900 or 2200), so a
/// report without both is over all time. Lines are always kept apart by unit; each dimension asked for adds a column.
/// </remarks>
/// <param name="Organization">The organization.</param>
/// <param name="From">The start of the range (inclusive), or null for the earliest.</param>
/// <param name="To">The end of the range (exclusive), or null for the latest.</param>
public sealed record UsageReportRequest(OrganizationId Organization, Instant? From = null, Instant? To = null)
{
    /// <summary>Gets the dimensions to group by.</summary>
    public ReportGroups GroupBy { get; init; }

    /// <summary>Gets the attribute keys to group by (user, project, cluster …), in column order; an event without the
    /// attribute groups under a null value.</summary>
    public IReadOnlyList<string> AttributeKeys { get; init; } = [];

    /// <summary>Gets the calendar bucket; <see cref="CalendarBucket.None"/> for one period.</summary>
    public CalendarBucket Bucket { get; init; }

    /// <summary>Gets the time zone whose calendar defines the buckets; UTC by default.</summary>
    public DateTimeZone Zone { get; init; } = DateTimeZone.Utc;

    /// <summary>Gets the allocations to include; null for every allocation the caller can Read.</summary>
    public IReadOnlyList<AllocationId>? Allocations { get; init; }

    /// <summary>Gets whether a listed parent brings its children (those the caller can Read); true by default.</summary>
    public bool IncludeChildren { get; init; } = true;

    /// <summary>Gets the one SKU to include; null for all.</summary>
    public SkuCode? Sku { get; init; }

    /// <summary>Gets the one status to include; null for both.</summary>
    public UsageStatus? Status { get; init; }

    /// <summary>Gets attribute values every included event must have (exact match); null for no condition.</summary>
    public IReadOnlyDictionary<string, string>? Attributes { get; init; }
}

/// <summary>A calendar bucket of a report line.</summary>
/// <param name="Start">The local date the bucket starts on (the Monday of a week, the first of a month).</param>
/// <param name="Interval">The bucket's instants, cut to the report's range.</param>
public sealed record ReportPeriod(LocalDate Start, Interval Interval);

/// <summary>One line of a usage report.</summary>
/// <param name="Unit">The unit of <see cref="Amount"/>.</param>
/// <param name="Allocation">The allocation, when grouped by allocation.</param>
/// <param name="AllocationName">The allocation's name, when grouped by allocation.</param>
/// <param name="Sku">The SKU, when grouped by SKU.</param>
/// <param name="Status">The status, when grouped by status.</param>
/// <param name="AttributeValues">The value of each of the request's attribute keys, in order (null where absent).</param>
/// <param name="Period">The calendar bucket, when bucketed.</param>
/// <param name="Amount">The usage in the unit, split in proportion to time at bucket and range edges.</param>
/// <param name="Usd">The USD cost of the events that have one, split the same way; null when none has.</param>
/// <param name="Events">How many events contributed to the line.</param>
public sealed record UsageReportRow(
    UnitCode Unit,
    AllocationId? Allocation,
    string? AllocationName,
    SkuCode? Sku,
    UsageStatus? Status,
    IReadOnlyList<string?> AttributeValues,
    ReportPeriod? Period,
    Amount Amount,
    Amount? Usd,
    int Events);

/// <summary>The total of a report in one unit.</summary>
/// <param name="Unit">The unit.</param>
/// <param name="Amount">The sum of the lines in that unit.</param>
/// <param name="Usd">The sum of their USD costs; null when no line has one.</param>
public sealed record ReportTotal(UnitCode Unit, Amount Amount, Amount? Usd);

/// <summary>A usage report: lines over a range, grouped as asked, with totals per unit.</summary>
/// <remarks>
/// Amounts come from the rated segments stored with each event. A segment that crosses a bucket or range edge is
/// split in proportion to time: the part up to instant <c>t</c> is the segment's amount × elapsed / duration,
/// rounded half to even, and a piece is the difference of two such parts. Pieces of a segment therefore always add
/// up to the segment exactly, so the lines of a period add up to the period's total, and over all time the lines of
/// an allocation add up to its figures.
/// </remarks>
/// <param name="From">The start of the range (inclusive).</param>
/// <param name="To">The end of the range (exclusive).</param>
/// <param name="Request">The request it answers.</param>
/// <param name="Rows">The lines, ordered by unit, allocation name, SKU, status, attribute values and period.</param>
/// <param name="Totals">The totals per unit.</param>
public sealed record UsageReport(
    Instant From,
    Instant To,
    UsageReportRequest Request,
    IReadOnlyList<UsageReportRow> Rows,
    IReadOnlyList<ReportTotal> Totals);

/// <summary>A file format for exports.</summary>
public enum ExportFormat
{
    /// <summary>RFC 4180 CSV: a header row, comma-separated, CRLF line ends, invariant culture, ISO-8601 instants.</summary>
    Csv = 0,

    /// <summary>JSON (System.Text.Json with NodaTime's converters): an array of objects, or one report object.</summary>
    Json = 1,
}
