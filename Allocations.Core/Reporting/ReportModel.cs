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
public sealed class AllocationTableQuery
{
    /// <summary>Initializes a query.</summary>
    /// <param name="unit">Only allocations of this unit; null for all.</param>
    /// <param name="parent">Only this top-level allocation and its children; null for all.</param>
    /// <param name="sortBy">The column to sort by; children are sorted under their parent by the same column.</param>
    /// <param name="descending">Whether to sort from largest to smallest.</param>
    public AllocationTableQuery(
        UnitCode? unit = null,
        AllocationId? parent = null,
        AllocationSort sortBy = AllocationSort.Name,
        bool descending = false)
    {
        Unit = unit;
        Parent = parent;
        SortBy = sortBy;
        Descending = descending;
    }

    /// <summary>Gets the one unit to show; null for all.</summary>
    public UnitCode? Unit { get; }

    /// <summary>Gets the top-level allocation to show with its children; null for all.</summary>
    public AllocationId? Parent { get; }

    /// <summary>Gets the column to sort by; children are sorted under their parent by the same column.</summary>
    public AllocationSort SortBy { get; }

    /// <summary>Gets whether to sort from largest to smallest.</summary>
    public bool Descending { get; }

    /// <summary>Returns the filters and the order.</summary>
    /// <returns>Such as <c>unit core-hours, sorted by Used descending</c>.</returns>
    public override string ToString() =>
        $"{(Unit is { } unit ? "unit " + unit + ", " : "")}{(Parent is { } parent ? "under " + parent + ", " : "")}sorted by {SortBy}{(Descending ? " descending" : "")}";
}

/// <summary>One line of the allocation table: an allocation's figures at a glance.</summary>
public sealed class AllocationTableRow
{
    /// <summary>Initializes a line.</summary>
    /// <param name="id">The allocation.</param>
    /// <param name="name">Its name.</param>
    /// <param name="unit">Its unit.</param>
    /// <param name="parentId">Its parent, or null.</param>
    /// <param name="parentName">Its parent's name, or null.</param>
    /// <param name="depth">0 at the top of the table, 1 under its parent.</param>
    /// <param name="total">The budget.</param>
    /// <param name="used">Confirmed consumption, children included.</param>
    /// <param name="estimated">Estimated consumption, children included.</param>
    /// <param name="remaining">Total − Used − Estimated.</param>
    /// <param name="percentUsed">(Used + Estimated) / Total × 100, or null.</param>
    internal AllocationTableRow(
        AllocationId id,
        string name,
        UnitCode unit,
        AllocationId? parentId,
        string? parentName,
        int depth,
        Amount total,
        Amount used,
        Amount estimated,
        Amount remaining,
        decimal? percentUsed)
    {
        Id = id;
        Name = name;
        Unit = unit;
        ParentId = parentId;
        ParentName = parentName;
        Depth = depth;
        Total = total;
        Used = used;
        Estimated = estimated;
        Remaining = remaining;
        PercentUsed = percentUsed;
    }

    /// <summary>Gets the allocation.</summary>
    public AllocationId Id { get; }

    /// <summary>Gets its name.</summary>
    public string Name { get; }

    /// <summary>Gets its unit.</summary>
    public UnitCode Unit { get; }

    /// <summary>Gets its parent, or null.</summary>
    public AllocationId? ParentId { get; }

    /// <summary>Gets its parent's name when the caller can Read the parent; otherwise null.</summary>
    public string? ParentName { get; }

    /// <summary>Gets 0 for a line at the top of the table, 1 for a child shown under its parent.</summary>
    public int Depth { get; }

    /// <summary>Gets the budget.</summary>
    public Amount Total { get; }

    /// <summary>Gets the Confirmed consumption, children included.</summary>
    public Amount Used { get; }

    /// <summary>Gets the Estimated consumption, children included.</summary>
    public Amount Estimated { get; }

    /// <summary>Gets Total − Used − Estimated.</summary>
    public Amount Remaining { get; }

    /// <summary>Gets (Used + Estimated) / Total × 100; null when Total is zero.</summary>
    public decimal? PercentUsed { get; }

    /// <summary>Returns the name and the figures.</summary>
    /// <returns>Such as <c>physics core-hours: total 1000.000000, used 10.000000, estimated 2.000000, remaining 988.000000</c>.</returns>
    public override string ToString() =>
        $"{new string(' ', Depth * 2)}{Name} {Unit}: total {Total}, used {Used}, estimated {Estimated}, remaining {Remaining}";
}

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
/// so events inserted meanwhile never shift a page, and no event present throughout is skipped or repeated. Two
/// cursors are equal when their start and id are.</remarks>
public readonly struct EventCursor : IEquatable<EventCursor>
{
    /// <summary>Initializes a cursor.</summary>
    /// <param name="start">The start of the last event returned.</param>
    /// <param name="id">The id of the last event returned.</param>
    public EventCursor(Instant start, UsageEventId id)
    {
        Start = start;
        Id = id;
    }

    /// <summary>Gets the start of the last event returned.</summary>
    public Instant Start { get; }

    /// <summary>Gets the id of the last event returned.</summary>
    public UsageEventId Id { get; }

    /// <inheritdoc />
    public bool Equals(EventCursor other) => Start == other.Start && Id == other.Id;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is EventCursor other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Start, Id);

    /// <summary>Returns the start and the id.</summary>
    /// <returns>Such as <c>2025-11-01T00:00:00Z event:42</c>.</returns>
    public override string ToString() => $"{Start} {Id}";

    /// <summary>Compares two cursors for equality.</summary>
    /// <param name="left">The first cursor.</param>
    /// <param name="right">The second cursor.</param>
    /// <returns>True when both name the same position.</returns>
    public static bool operator ==(EventCursor left, EventCursor right) => left.Equals(right);

    /// <summary>Compares two cursors for inequality.</summary>
    /// <param name="left">The first cursor.</param>
    /// <param name="right">The second cursor.</param>
    /// <returns>True when they name different positions.</returns>
    public static bool operator !=(EventCursor left, EventCursor right) => !left.Equals(right);
}

/// <summary>Which events of an allocation to list, in which order, a page at a time.</summary>
/// <remarks>The constructor checks nothing: the store checks the query when it is run.</remarks>
public sealed class EventQuery
{
    /// <summary>Initializes a query.</summary>
    /// <param name="from">Only events overlapping [From, To): the start of the range, or null for unbounded.</param>
    /// <param name="to">The end of the range (exclusive), or null for unbounded.</param>
    /// <param name="sku">Only events of this SKU; null for all.</param>
    /// <param name="status">Only events in this status; null for both.</param>
    /// <param name="attributes">Only events whose attributes hold every one of these key/value pairs (exact match).</param>
    /// <param name="order">Newest or oldest first.</param>
    /// <param name="pageSize">Events per page, 1 to 10,000.</param>
    /// <param name="after">The cursor of the previous page; null for the first page.</param>
    public EventQuery(
        Instant? from = null,
        Instant? to = null,
        SkuCode? sku = null,
        UsageStatus? status = null,
        IReadOnlyDictionary<string, string>? attributes = null,
        EventOrder order = EventOrder.NewestFirst,
        int pageSize = 100,
        EventCursor? after = null)
    {
        From = from;
        To = to;
        Sku = sku;
        Status = status;
        Attributes = attributes;
        Order = order;
        PageSize = pageSize;
        After = after;
    }

    /// <summary>Gets the start of the range (inclusive), or null for unbounded.</summary>
    public Instant? From { get; }

    /// <summary>Gets the end of the range (exclusive), or null for unbounded.</summary>
    public Instant? To { get; }

    /// <summary>Gets the one SKU to list; null for all.</summary>
    public SkuCode? Sku { get; }

    /// <summary>Gets the one status to list; null for both.</summary>
    public UsageStatus? Status { get; }

    /// <summary>Gets the attribute values every listed event must have (exact match); null for no condition.</summary>
    public IReadOnlyDictionary<string, string>? Attributes { get; }

    /// <summary>Gets the order: newest or oldest first.</summary>
    public EventOrder Order { get; }

    /// <summary>Gets the number of events per page, 1 to 10,000.</summary>
    public int PageSize { get; }

    /// <summary>Gets the cursor of the previous page; null for the first page.</summary>
    public EventCursor? After { get; }

    /// <summary>Returns the same query for the page after <paramref name="after"/>.</summary>
    /// <param name="after">The <see cref="EventPage.Next"/> of the previous page; null for the first page.</param>
    /// <returns>A query that differs from this one only in <see cref="After"/>.</returns>
    public EventQuery WithAfter(EventCursor? after) => new(From, To, Sku, Status, Attributes, Order, PageSize, after);

    /// <summary>The same query with another page size and cursor.</summary>
    internal EventQuery WithPage(int pageSize, EventCursor? after) => new(From, To, Sku, Status, Attributes, Order, pageSize, after);

    /// <summary>Returns the range, the filters, the order and the page.</summary>
    /// <returns>Such as <c>[2025-11-01T00:00:00Z, open) NewestFirst, 100 per page</c>.</returns>
    public override string ToString() =>
        $"[{(From is { } from ? from.ToString() : "open")}, {(To is { } to ? to.ToString() : "open")})"
        + $"{(Sku is { } sku ? " " + sku : "")}{(Status is { } status ? " " + status : "")} {Order}, {PageSize} per page"
        + $"{(After is { } after ? " after " + after : "")}";
}

/// <summary>One page of events.</summary>
public sealed class EventPage
{
    /// <summary>Initializes a page.</summary>
    /// <param name="events">The events.</param>
    /// <param name="next">The cursor for the next page, or null.</param>
    internal EventPage(IReadOnlyList<UsageEvent> events, EventCursor? next)
    {
        Events = events;
        Next = next;
    }

    /// <summary>Gets the events, in the query's order, with their segments.</summary>
    public IReadOnlyList<UsageEvent> Events { get; }

    /// <summary>Gets the cursor for the next page; null when this page is the last.</summary>
    public EventCursor? Next { get; }

    /// <summary>Returns the event count and whether more pages follow.</summary>
    /// <returns>Such as <c>100 events, more after 2025-11-01T00:00:00Z event:42</c>.</returns>
    public override string ToString() => $"{Events.Count} events{(Next is { } next ? ", more after " + next : "")}";
}

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
/// The grouping and filters are set with an object initializer; the store checks the request when it is run.
/// </remarks>
public sealed class UsageReportRequest
{
    /// <summary>Initializes a request over a range.</summary>
    /// <param name="organization">The organization.</param>
    /// <param name="from">The start of the range (inclusive), or null for the earliest.</param>
    /// <param name="to">The end of the range (exclusive), or null for the latest.</param>
    public UsageReportRequest(OrganizationId organization, Instant? from = null, Instant? to = null)
    {
        Organization = organization;
        From = from;
        To = to;
    }

    /// <summary>Gets the organization.</summary>
    public OrganizationId Organization { get; }

    /// <summary>Gets the start of the range (inclusive), or null for the earliest.</summary>
    public Instant? From { get; }

    /// <summary>Gets the end of the range (exclusive), or null for the latest.</summary>
    public Instant? To { get; }

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

    /// <summary>Returns the organization, the range and the grouping.</summary>
    /// <returns>Such as <c>org:1 [open, open) by Allocation, Day in UTC</c>.</returns>
    public override string ToString() =>
        $"{Organization} [{(From is { } from ? from.ToString() : "open")}, {(To is { } to ? to.ToString() : "open")}) by {GroupBy}"
        + $"{(AttributeKeys.Count > 0 ? " + " + string.Join(", ", AttributeKeys) : "")}, {Bucket} in {Zone.Id}";
}

/// <summary>A calendar bucket of a report line.</summary>
/// <remarks>Two periods are equal when their start and interval are.</remarks>
public sealed class ReportPeriod : IEquatable<ReportPeriod>
{
    /// <summary>Initializes a period.</summary>
    /// <param name="start">The local date the bucket starts on.</param>
    /// <param name="interval">The bucket's instants, cut to the report's range.</param>
    internal ReportPeriod(LocalDate start, Interval interval)
    {
        Start = start;
        Interval = interval;
    }

    /// <summary>Gets the local date the bucket starts on (the Monday of a week, the first of a month).</summary>
    public LocalDate Start { get; }

    /// <summary>Gets the bucket's instants, cut to the report's range.</summary>
    public Interval Interval { get; }

    /// <inheritdoc />
    public bool Equals(ReportPeriod? other) => other is not null && Start == other.Start && Interval == other.Interval;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ReportPeriod);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Start, Interval);

    /// <summary>Returns the start date and the interval.</summary>
    /// <returns>Such as <c>2025-11-01 (2025-11-01T00:00:00Z/2025-11-02T00:00:00Z)</c>.</returns>
    public override string ToString() => $"{Start:uuuu-MM-dd} ({Interval})";

    /// <summary>Compares two periods for equality.</summary>
    /// <param name="left">The first period.</param>
    /// <param name="right">The second period.</param>
    /// <returns>True when both are null or equal.</returns>
    public static bool operator ==(ReportPeriod? left, ReportPeriod? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two periods for inequality.</summary>
    /// <param name="left">The first period.</param>
    /// <param name="right">The second period.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(ReportPeriod? left, ReportPeriod? right) => !(left == right);
}

/// <summary>One line of a usage report.</summary>
public sealed class UsageReportRow
{
    /// <summary>Initializes a line.</summary>
    /// <param name="unit">The unit of the amount.</param>
    /// <param name="allocation">The allocation, when grouped by allocation.</param>
    /// <param name="allocationName">The allocation's name, when grouped by allocation.</param>
    /// <param name="sku">The SKU, when grouped by SKU.</param>
    /// <param name="status">The status, when grouped by status.</param>
    /// <param name="attributeValues">The value of each of the request's attribute keys.</param>
    /// <param name="period">The calendar bucket, when bucketed.</param>
    /// <param name="amount">The usage in the unit.</param>
    /// <param name="usd">The USD cost, or null.</param>
    /// <param name="events">How many events contributed.</param>
    internal UsageReportRow(
        UnitCode unit,
        AllocationId? allocation,
        string? allocationName,
        SkuCode? sku,
        UsageStatus? status,
        IReadOnlyList<string?> attributeValues,
        ReportPeriod? period,
        Amount amount,
        Amount? usd,
        int events)
    {
        Unit = unit;
        Allocation = allocation;
        AllocationName = allocationName;
        Sku = sku;
        Status = status;
        AttributeValues = attributeValues;
        Period = period;
        Amount = amount;
        Usd = usd;
        Events = events;
    }

    /// <summary>Gets the unit of <see cref="Amount"/>.</summary>
    public UnitCode Unit { get; }

    /// <summary>Gets the allocation, when grouped by allocation.</summary>
    public AllocationId? Allocation { get; }

    /// <summary>Gets the allocation's name, when grouped by allocation.</summary>
    public string? AllocationName { get; }

    /// <summary>Gets the SKU, when grouped by SKU.</summary>
    public SkuCode? Sku { get; }

    /// <summary>Gets the status, when grouped by status.</summary>
    public UsageStatus? Status { get; }

    /// <summary>Gets the value of each of the request's attribute keys, in order (null where absent).</summary>
    public IReadOnlyList<string?> AttributeValues { get; }

    /// <summary>Gets the calendar bucket, when bucketed.</summary>
    public ReportPeriod? Period { get; }

    /// <summary>Gets the usage in the unit, split in proportion to time at bucket and range edges.</summary>
    public Amount Amount { get; }

    /// <summary>Gets the USD cost of the events that have one, split the same way; null when none has.</summary>
    public Amount? Usd { get; }

    /// <summary>Gets how many events contributed to the line.</summary>
    public int Events { get; }

    /// <summary>Returns the line's keys and amount.</summary>
    /// <returns>Such as <c>core-hours physics CPU_HOUR 2025-11-01: 8.000000 (3 events)</c>.</returns>
    public override string ToString() =>
        $"{Unit}{(AllocationName is null ? "" : " " + AllocationName)}{(Sku is { } sku ? " " + sku : "")}{(Status is { } status ? " " + status : "")}"
        + $"{string.Concat(AttributeValues.Select(v => " " + (v ?? "(none)")))}{(Period is { } period ? " " + period.Start.ToString("uuuu-MM-dd", null) : "")}"
        + $": {Amount}{(Usd is { } usd ? " (USD " + usd + ")" : "")} ({Events} events)";
}

/// <summary>The total of a report in one unit.</summary>
/// <remarks>Two totals are equal when their unit and amounts are.</remarks>
public sealed class ReportTotal : IEquatable<ReportTotal>
{
    /// <summary>Initializes a total.</summary>
    /// <param name="unit">The unit.</param>
    /// <param name="amount">The sum of the lines in that unit.</param>
    /// <param name="usd">The sum of their USD costs, or null.</param>
    internal ReportTotal(UnitCode unit, Amount amount, Amount? usd)
    {
        Unit = unit;
        Amount = amount;
        Usd = usd;
    }

    /// <summary>Gets the unit.</summary>
    public UnitCode Unit { get; }

    /// <summary>Gets the sum of the lines in that unit.</summary>
    public Amount Amount { get; }

    /// <summary>Gets the sum of their USD costs; null when no line has one.</summary>
    public Amount? Usd { get; }

    /// <inheritdoc />
    public bool Equals(ReportTotal? other) => other is not null && Unit == other.Unit && Amount == other.Amount && Usd == other.Usd;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ReportTotal);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Unit, Amount, Usd);

    /// <summary>Returns the unit and the amounts.</summary>
    /// <returns>Such as <c>core-hours 8.000000</c> or <c>GB-months 2.000000 (USD 0.200000)</c>.</returns>
    public override string ToString() => $"{Unit} {Amount}{(Usd is { } usd ? " (USD " + usd + ")" : "")}";

    /// <summary>Compares two totals for equality.</summary>
    /// <param name="left">The first total.</param>
    /// <param name="right">The second total.</param>
    /// <returns>True when both are null or equal.</returns>
    public static bool operator ==(ReportTotal? left, ReportTotal? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two totals for inequality.</summary>
    /// <param name="left">The first total.</param>
    /// <param name="right">The second total.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(ReportTotal? left, ReportTotal? right) => !(left == right);
}

/// <summary>A usage report: lines over a range, grouped as asked, with totals per unit.</summary>
/// <remarks>
/// Amounts come from the rated segments stored with each event. A segment that crosses a bucket or range edge is
/// split in proportion to time: the part up to instant <c>t</c> is the segment's amount × elapsed / duration,
/// rounded half to even, and a piece is the difference of two such parts. Pieces of a segment therefore always add
/// up to the segment exactly, so the lines of a period add up to the period's total, and over all time the lines of
/// an allocation add up to its figures.
/// </remarks>
public sealed class UsageReport
{
    /// <summary>Initializes a report.</summary>
    /// <param name="from">The start of the range (inclusive).</param>
    /// <param name="to">The end of the range (exclusive).</param>
    /// <param name="request">The request it answers.</param>
    /// <param name="rows">The lines.</param>
    /// <param name="totals">The totals per unit.</param>
    internal UsageReport(
        Instant from,
        Instant to,
        UsageReportRequest request,
        IReadOnlyList<UsageReportRow> rows,
        IReadOnlyList<ReportTotal> totals)
    {
        From = from;
        To = to;
        Request = request;
        Rows = rows;
        Totals = totals;
    }

    /// <summary>Gets the start of the range (inclusive).</summary>
    public Instant From { get; }

    /// <summary>Gets the end of the range (exclusive).</summary>
    public Instant To { get; }

    /// <summary>Gets the request it answers.</summary>
    public UsageReportRequest Request { get; }

    /// <summary>Gets the lines, ordered by unit, allocation name, SKU, status, attribute values and period.</summary>
    public IReadOnlyList<UsageReportRow> Rows { get; }

    /// <summary>Gets the totals per unit.</summary>
    public IReadOnlyList<ReportTotal> Totals { get; }

    /// <summary>Returns the range, the line count and the totals.</summary>
    /// <returns>Such as <c>[2025-11-01T00:00:00Z, 2025-12-01T00:00:00Z) 30 lines: core-hours 240.000000</c>.</returns>
    public override string ToString() => $"[{From}, {To}) {Rows.Count} lines: {string.Join("; ", Totals)}";
}

/// <summary>A file format for exports.</summary>
public enum ExportFormat
{
    /// <summary>RFC 4180 CSV: a header row, comma-separated, CRLF line ends, invariant culture, ISO-8601 instants.</summary>
    Csv = 0,

    /// <summary>JSON (System.Text.Json with NodaTime's converters): an array of objects, or one report object.</summary>
    Json = 1,
}
