using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Allocations.Access;
using Allocations.Budgets;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Recording;
using Allocations.Storage;
using Allocations.Utility;

namespace Allocations.Reporting;

/// <summary>The read-only side: the allocation table, event pages and exports, and usage reports, inside the caller's
/// unit of work (or, for paging, one unit of work per page).</summary>
internal static class ReportingService
{
    private const int MaxPageSize = 10_000;
    internal const int ExportPageSize = 1_000;

    private static readonly string[] EventCsvHeader =
        ["id", "allocation", "sku", "status", "start", "end", "quantity", "amount", "usd", "external_key", "attributes", "recorded_at", "recorded_by"];

    /// <summary>An event query checked before storage is touched, with attribute filters as (key, value) pairs.</summary>
    internal sealed record CheckedEventQuery(long? FromNs, long? ToNs, SkuCode? Sku, int? Status, IReadOnlyList<(string Key, string Value)> Attributes);

    internal static void CheckTableQuery(AllocationTableQuery query) =>
        Preconditions.CheckArgument(Enum.IsDefined(query.SortBy), "sortBy", query.SortBy.ToString(), "is not a column of the allocation table");

    internal static IReadOnlyList<AllocationTableRow> AllocationTable(UnitOfWork uow, OrganizationId organization, AllocationTableQuery query) =>
        Reporting.AllocationTable.Build(AllocationService.Visible(uow, organization), query);

    internal static EventPage ListEvents(UnitOfWork uow, AllocationId allocation, EventQuery query, CheckedEventQuery checkedQuery)
    {
        var row = uow.Access.RequireAllocation(allocation, Operation.ReadEvents);
        var filter = ResolveFilter(uow.Session, row.OrgId, checkedQuery);
        var session = uow.Session;
        var newestFirst = query.Order == EventOrder.NewestFirst;
        (long, long)? after = query.After is { } cursor ? (InstantCodec.ToNsUnchecked(cursor.Start), cursor.Id.Value) : null;
        var rows = session.ListEventPage(row.Id, filter, newestFirst, after, query.PageSize + 1);
        var more = rows.Count > query.PageSize;
        var pageRows = more ? rows.Take(query.PageSize).ToList() : rows;
        var segments = session.ListSegmentsOf(pageRows.Select(r => r.Id).ToList()).ToLookup(s => s.EventId);
        var events = pageRows.Select(r => RowMapping.ToEvent(r, segments[r.Id].ToList())).ToList();
        var next = more && events.Count > 0 ? new EventCursor(events[^1].Interval.Start, events[^1].Id) : (EventCursor?)null;
        return new EventPage(events, next);
    }

    /// <summary>Writes the pages <paramref name="readPage"/> returns (each its own read) as CSV or JSON.</summary>
    internal static async Task<long> ExportAsync(
        Func<EventQuery, CancellationToken, Task<EventPage>> readPage, EventQuery? query, TextWriter writer, ExportFormat format, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var pageQuery = (query ?? new EventQuery()).WithPage(ExportPageSize, null);
        var page = await readPage(pageQuery, cancellationToken).ConfigureAwait(false);
        long count = 0;
        if (format == ExportFormat.Csv)
        {
            await Csv.WriteRecordAsync(writer, EventCsvHeader, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await writer.WriteAsync("[".AsMemory(), cancellationToken).ConfigureAwait(false);
        }
        var fields = new string?[EventCsvHeader.Length];
        while (true)
        {
            foreach (var e in page.Events)
            {
                if (format == ExportFormat.Csv)
                {
                    EventCsvFields(e, fields);
                    await Csv.WriteRecordAsync(writer, fields, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var json = JsonSerializer.Serialize(JsonExport.ToJson(e), JsonExport.Options);
                    await writer.WriteAsync((count == 0 ? "\n" : ",\n").AsMemory(), cancellationToken).ConfigureAwait(false);
                    await writer.WriteAsync(json.AsMemory(), cancellationToken).ConfigureAwait(false);
                }
                count++;
            }
            progress?.Report(count);
            if (page.Next is null)
            {
                break;
            }
            page = await readPage(pageQuery.WithAfter(page.Next), cancellationToken).ConfigureAwait(false);
        }
        if (format == ExportFormat.Json)
        {
            await writer.WriteAsync("\n]\n".AsMemory(), cancellationToken).ConfigureAwait(false);
        }
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        return count;
    }

    /// <summary>Streams the pages <paramref name="readPage"/> returns, one read each, as one sequence of events.</summary>
    internal static async IAsyncEnumerable<UsageEvent> StreamEvents(
        Func<EventQuery, CancellationToken, Task<EventPage>> readPage, EventQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var page = await readPage(query, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            foreach (var e in page.Events)
            {
                yield return e;
            }
            if (page.Next is null)
            {
                yield break;
            }
            cancellationToken.ThrowIfCancellationRequested();
            page = await readPage(query.WithAfter(page.Next), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Checks a report request before storage is touched; returns its range in the store's encoding.</summary>
    internal static (long FromNs, long ToNs, CheckedEventQuery Query) CheckReport(UsageReportRequest request)
    {
        Preconditions.CheckNotNull(request, "request");
        var fromNs = request.From is { } from ? InstantCodec.ToNs(from, "from") : InstantCodec.MinNs;
        var toNs = request.To is { } to ? InstantCodec.ToNs(to, "to") : InstantCodec.MaxNs;
        if (toNs < fromNs)
        {
            throw new InvalidInputException("to", request.To.ToString(), $"must not be earlier than from {request.From}");
        }
        Preconditions.CheckNotNull(request.Zone, "zone");
        Preconditions.CheckArgument(Enum.IsDefined(request.Bucket), "bucket", request.Bucket.ToString(), "must be None, Day, Week or Month");
        Preconditions.CheckArgument(
            (request.GroupBy & ~(ReportGroups.Allocation | ReportGroups.Sku | ReportGroups.Status)) == 0,
            "groupBy",
            request.GroupBy.ToString(),
            "may combine only Allocation, Sku and Status");
        Preconditions.CheckNotNull(request.AttributeKeys, "attributeKeys");
        var seenKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in request.AttributeKeys)
        {
            CheckAttributeKey(key, "attributeKeys");
            Preconditions.CheckArgument(seenKeys.Add(key), "attributeKeys", key, "names the same key twice");
        }
        return (fromNs, toNs, CheckEventQuery(new EventQuery(request.From, request.To, request.Sku, request.Status, request.Attributes)));
    }

    internal static UsageReport UsageReport(UnitOfWork uow, UsageReportRequest request, long fromNs, long toNs, CheckedEventQuery query)
    {
        // An outsider gets the answer a missing organization gives, before anything (a SKU filter) is resolved.
        uow.Access.RequireOrganization(request.Organization, Operation.ReadUsageReport);
        var filter = ResolveFilter(uow.Session, request.Organization.Value, query) with { FromNs = fromNs, ToNs = toNs, ReadAttributes = request.AttributeKeys.Count > 0 };
        var builder = new ReportBuilder(request, fromNs, toNs);
        var chosen = ReportAllocations(uow, request);
        if (chosen.Count > 0)
        {
            builder.Add(chosen.ToDictionary(r => r.Id), uow.Session.StreamReportSegments(chosen.Select(r => r.Id).ToList(), filter), uow.CancellationToken);
        }
        return builder.Build();
    }

    /// <summary>The allocations a report covers: the listed ones (each must be readable) with their readable children,
    /// or every readable allocation of the organization.</summary>
    private static List<AllocationRow> ReportAllocations(UnitOfWork uow, UsageReportRequest request)
    {
        var access = uow.Access;
        var all = uow.Session.ListAllocations(request.Organization.Value);
        if (request.Allocations is null)
        {
            return all.Where(r => access.LevelOn(r) >= AccessLevel.Read).ToList();
        }
        var chosen = new Dictionary<long, AllocationRow>();
        foreach (var id in request.Allocations)
        {
            var row = access.RequireAllocation(id, Operation.ReadAllocation);
            if (row.OrgId != request.Organization.Value)
            {
                throw new NotFoundException(id);
            }
            chosen[row.Id] = row;
            if (request.IncludeChildren)
            {
                foreach (var child in all.Where(c => c.ParentId == row.Id))
                {
                    if (access.LevelOn(child) >= AccessLevel.Read)
                    {
                        chosen[child.Id] = child;
                    }
                }
            }
        }
        return chosen.Values.OrderBy(r => r.Id).ToList();
    }

    internal static CheckedEventQuery CheckEventQuery(EventQuery query)
    {
        Preconditions.CheckArgument(
            query.PageSize is >= 1 and <= MaxPageSize,
            "pageSize",
            query.PageSize.ToString(CultureInfo.InvariantCulture),
            $"must be between 1 and {MaxPageSize}");
        Preconditions.CheckArgument(Enum.IsDefined(query.Order), "order", query.Order.ToString(), "must be NewestFirst or OldestFirst");
        long? fromNs = query.From is { } from ? InstantCodec.ToNs(from, "from") : null;
        long? toNs = query.To is { } to ? InstantCodec.ToNs(to, "to") : null;
        if (fromNs is { } f && toNs is { } t && t < f)
        {
            throw new InvalidInputException("to", query.To.ToString(), $"must not be earlier than from {query.From}");
        }
        if (query.Status is { } status)
        {
            Preconditions.CheckArgument(Enum.IsDefined(status), "status", status.ToString(), "must be Estimated or Confirmed");
        }
        if (query.After is { } cursor)
        {
            InstantCodec.ToNs(cursor.Start, "after.start");
        }
        if (query.Sku is { } sku && sku.Value.Length == 0)
        {
            throw new InvalidInputException("sku", null, "a SKU code is required");
        }
        var attributes = new List<(string, string)>();
        foreach (var (key, value) in query.Attributes ?? Recording.Attributes.Empty)
        {
            CheckAttributeKey(key, "attributes.key");
            Preconditions.CheckNotNull(value, $"attributes[{key}]");
            Preconditions.CheckWellFormed(value, $"attributes[{key}]");
            attributes.Add((key, value));
        }
        return new CheckedEventQuery(fromNs, toNs, query.Sku, query.Status is { } s ? (int)s : null, attributes);
    }

    private static void CheckAttributeKey(string? key, string field)
    {
        if (string.IsNullOrWhiteSpace(key) || key.Length > Recording.Attributes.MaxKeyLength || key.AsSpan().IndexOfAny("\"\\") >= 0 || key.Any(char.IsControl))
        {
            throw new InvalidInputException(field, key, $"an attribute key has 1 to {Recording.Attributes.MaxKeyLength} characters, not all white space, without quotes, backslashes or control characters");
        }
        Preconditions.CheckWellFormed(key, field);
    }

    private static EventFilter ResolveFilter(IStorageSession session, long orgId, CheckedEventQuery query)
    {
        long? skuId = null;
        if (query.Sku is { } sku)
        {
            skuId = (session.FindSku(orgId, CodeRules.Key(sku.Value)) ?? throw new NotFoundException(sku)).Id;
        }
        return new EventFilter(query.FromNs, query.ToNs, skuId, query.Status, query.Attributes);
    }

    private static void EventCsvFields(UsageEvent e, string?[] fields)
    {
        fields[0] = Csv.Number(e.Id.Value);
        fields[1] = Csv.Number(e.Allocation.Value);
        fields[2] = e.Sku.Value;
        fields[3] = e.Status.ToString();
        fields[4] = Csv.Instant(e.Interval.Start);
        fields[5] = Csv.Instant(e.Interval.End);
        fields[6] = Csv.Quantity(e.Quantity);
        fields[7] = Csv.Amount(e.Amount);
        fields[8] = e.UsdAmount is { } usd ? Csv.Amount(usd) : null;
        fields[9] = e.ExternalKey;
        fields[10] = e.Attributes.Count == 0 ? null : Attributes.ToJson(e.Attributes);
        fields[11] = Csv.Instant(e.RecordedAt);
        fields[12] = e.RecordedBy;
    }
}
