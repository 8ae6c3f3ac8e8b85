using System.Globalization;
using System.Text;
using System.Text.Json;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Recording;
using Allocations.Reporting;
using Allocations.Storage;
using Allocations.Utility;

namespace Allocations;

public sealed partial class AllocationStore
{
    private const int MaxPageSize = 10_000;
    private const int ExportPageSize = 1_000;

    /// <summary>Gets the allocation table: each allocation the actor can Read with its figures, children under their
    /// parent, sorted and filtered as asked.</summary>
    /// <param name="actor">Any principal; the table holds only what it may Read.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="query">Filter and order; null for all allocations by name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The lines; reading them never scans events.</returns>
    /// <exception cref="InvalidInputException">The sort column is unknown.</exception>
    public async Task<IReadOnlyList<AllocationTableRow>> GetAllocationTableAsync(Principal actor, OrganizationId organization, AllocationTableQuery? query = null, CancellationToken cancellationToken = default)
    {
        query ??= new AllocationTableQuery();
        Preconditions.CheckArgument(Enum.IsDefined(query.SortBy), "sortBy", query.SortBy.ToString(), "is not a column of the allocation table");
        var visible = await ListAllocationsAsync(actor, organization, cancellationToken).ConfigureAwait(false);
        return AllocationTable.Build(visible, query);
    }

    /// <summary>Lists one page of an allocation's usage events, filtered, newest or oldest first.</summary>
    /// <remarks>Keyset-paged on (start, id): pass the returned <see cref="EventPage.Next"/> as
    /// <see cref="EventQuery.After"/> for the next page. Events recorded while paging never shift a page; no event
    /// present throughout is skipped or repeated.</remarks>
    /// <param name="actor">Read on the allocation.</param>
    /// <param name="allocation">The allocation (its own events; a parent's list does not include its children's).</param>
    /// <param name="query">Filters, order, page size and cursor; null for the newest 100.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The page and the cursor of the next one.</returns>
    /// <exception cref="InvalidInputException">A filter or the page size is invalid.</exception>
    /// <exception cref="NotFoundException">The allocation or the SKU does not exist, or the actor may not Read the allocation.</exception>
    public Task<EventPage> ListEventsAsync(Principal actor, AllocationId allocation, EventQuery? query = null, CancellationToken cancellationToken = default)
    {
        query ??= new EventQuery();
        var checkedQuery = CheckEventQuery(query);
        return Observed("list_events", () => engine.ReadAsync(
            session =>
            {
                var row = AccessResolver.RequireAllocation(session, actor, allocation, Operation.ReadEvents);
                var filter = ResolveFilter(session, row.OrgId, checkedQuery);
                return ReadEventPage(session, row.Id, filter, query);
            },
            cancellationToken));
    }

    /// <summary>Writes an allocation's events, filtered, to a text writer as CSV or JSON, a page at a time.</summary>
    /// <remarks>Memory stays flat however many events there are: the events are read in keyset pages of 1,000, each
    /// its own short read, and written as they come. CSV columns: id, allocation, sku, status, start, end, quantity,
    /// amount, usd, external_key, attributes (a JSON object), recorded_at, recorded_by. JSON: an array of objects.
    /// The query's page size and cursor are ignored; the export starts at the beginning.</remarks>
    /// <param name="actor">Read on the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="query">Filters and order; null for all events, newest first.</param>
    /// <param name="writer">Where to write; not closed.</param>
    /// <param name="format">CSV or JSON.</param>
    /// <param name="progress">Told the running count of events written after each page; may be null.</param>
    /// <param name="cancellationToken">Cancels the export; what was written stays written.</param>
    /// <returns>How many events were written.</returns>
    /// <exception cref="InvalidInputException">A filter or the format is invalid.</exception>
    /// <exception cref="NotFoundException">The allocation or the SKU does not exist, or the actor may not Read the allocation.</exception>
    public async Task<long> ExportEventsAsync(Principal actor, AllocationId allocation, EventQuery? query, TextWriter writer, ExportFormat format, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        Preconditions.CheckNotNull(writer, "writer");
        Preconditions.CheckArgument(Enum.IsDefined(format), "format", format.ToString(), "must be Csv or Json");
        var pageQuery = (query ?? new EventQuery()).WithPage(ExportPageSize, null);
        var page = await ListEventsAsync(actor, allocation, pageQuery, cancellationToken).ConfigureAwait(false);
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
            page = await ListEventsAsync(actor, allocation, pageQuery.WithAfter(page.Next), cancellationToken).ConfigureAwait(false);
        }
        if (format == ExportFormat.Json)
        {
            await writer.WriteAsync("\n]\n".AsMemory(), cancellationToken).ConfigureAwait(false);
        }
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        return count;
    }

    /// <summary>Writes an allocation's events to a stream as UTF-8 CSV or JSON; see the <see cref="TextWriter"/> overload.</summary>
    /// <param name="actor">Read on the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="query">Filters and order; null for all events, newest first.</param>
    /// <param name="stream">Where to write (writable); left open.</param>
    /// <param name="format">CSV or JSON.</param>
    /// <param name="progress">Told the running count of events written after each page; may be null.</param>
    /// <param name="cancellationToken">Cancels the export.</param>
    /// <returns>How many events were written.</returns>
    /// <exception cref="InvalidInputException">A filter or the format is invalid, or the stream is not writable.</exception>
    /// <exception cref="NotFoundException">The allocation or the SKU does not exist, or the actor may not Read the allocation.</exception>
    public async Task<long> ExportEventsAsync(Principal actor, AllocationId allocation, EventQuery? query, Stream stream, ExportFormat format, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        Preconditions.CheckNotNull(stream, "stream");
        Preconditions.CheckArgument(stream.CanWrite, "stream", stream.GetType().Name, "must be writable");
        var writer = new StreamWriter(stream, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        await using (writer.ConfigureAwait(false))
        {
            return await ExportEventsAsync(actor, allocation, query, writer, format, progress, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Builds a usage report over a range: amounts grouped by any of allocation, SKU, status, attribute keys
    /// and calendar bucket, split in proportion to time at the edges (see <see cref="UsageReport"/>).</summary>
    /// <remarks>Only allocations the actor can Read are included. Lines are kept apart by unit. Each allocation's
    /// events are read as a stream inside one read transaction; memory grows with the number of lines only.</remarks>
    /// <param name="actor">Read on each allocation included.</param>
    /// <param name="request">What to report.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The report.</returns>
    /// <exception cref="InvalidInputException">The range, a grouping, a filter or the zone is invalid.</exception>
    /// <exception cref="NotFoundException">The organization does not exist or is hidden from the actor (neither its
    /// admin nor a member of one of its groups: the same answer, before any filter is looked at), a listed allocation
    /// or the SKU does not exist, or the
    /// actor may not Read a listed allocation.</exception>
    public Task<UsageReport> GetUsageReportAsync(Principal actor, UsageReportRequest request, CancellationToken cancellationToken = default)
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
        var checkedQuery = CheckEventQuery(new EventQuery(request.From, request.To, request.Sku, request.Status, request.Attributes));
        return engine.ReadAsync(
            session =>
            {
                // An outsider gets the answer a missing organization gives, before anything (a SKU filter) is resolved.
                AccessResolver.RequireOrganization(session, actor, request.Organization, Operation.ReadUsageReport);
                var filter = ResolveFilter(session, request.Organization.Value, checkedQuery) with { FromNs = fromNs, ToNs = toNs };
                var builder = new ReportBuilder(request, fromNs, toNs);
                var chosen = ReportAllocations(session, actor, request);
                if (chosen.Count > 0)
                {
                    builder.Add(chosen.ToDictionary(r => r.Id), Queries(session).StreamReportSegments(chosen.Select(r => r.Id).ToList(), filter), session.CancellationToken);
                }
                return builder.Build();
            },
            cancellationToken);
    }

    private static readonly string[] EventCsvHeader =
        ["id", "allocation", "sku", "status", "start", "end", "quantity", "amount", "usd", "external_key", "attributes", "recorded_at", "recorded_by"];

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

    /// <summary>The allocations a report covers: the listed ones (each must be readable) with their readable children,
    /// or every readable allocation of the organization.</summary>
    private static List<AllocationRow> ReportAllocations(IStorageSession session, Principal actor, UsageReportRequest request)
    {
        var all = session.ListAllocations(request.Organization.Value);
        if (request.Allocations is null)
        {
            return all.Where(r => AccessResolver.LevelOn(session, actor, r) >= AccessLevel.Read).ToList();
        }
        var chosen = new Dictionary<long, AllocationRow>();
        foreach (var id in request.Allocations)
        {
            var row = AccessResolver.RequireAllocation(session, actor, id, Operation.ReadAllocation);
            if (row.OrgId != request.Organization.Value)
            {
                throw new NotFoundException(id);
            }
            chosen[row.Id] = row;
            if (request.IncludeChildren)
            {
                foreach (var child in all.Where(c => c.ParentId == row.Id))
                {
                    if (AccessResolver.LevelOn(session, actor, child) >= AccessLevel.Read)
                    {
                        chosen[child.Id] = child;
                    }
                }
            }
        }
        return chosen.Values.OrderBy(r => r.Id).ToList();
    }

    private static IReportQueries Queries(IStorageSession session) =>
        session as IReportQueries ?? throw new InvalidOperationException("the storage engine does not support reports");

    private static EventPage ReadEventPage(IStorageSession session, long allocationId, EventFilter filter, EventQuery query)
    {
        var queries = Queries(session);
        var newestFirst = query.Order == EventOrder.NewestFirst;
        (long, long)? after = query.After is { } cursor ? (InstantCodec.ToNsUnchecked(cursor.Start), cursor.Id.Value) : null;
        var rows = queries.ListEventPage(allocationId, filter, newestFirst, after, query.PageSize + 1);
        var more = rows.Count > query.PageSize;
        var pageRows = more ? rows.Take(query.PageSize).ToList() : rows;
        var segments = queries.ListSegmentsOf(pageRows.Select(r => r.Id).ToList()).ToLookup(s => s.EventId);
        var writer = new UsageWriter(session, Principal.System, 0);
        var events = pageRows.Select(r => writer.ToEvent(r, segments[r.Id].ToList())).ToList();
        var next = more && events.Count > 0 ? new EventCursor(events[^1].Interval.Start, events[^1].Id) : (EventCursor?)null;
        return new EventPage(events, next);
    }

    private sealed record CheckedEventQuery(long? FromNs, long? ToNs, SkuCode? Sku, int? Status, IReadOnlyList<(string Path, string Value)> Attributes);

    private static CheckedEventQuery CheckEventQuery(EventQuery query)
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
            // The key goes into a JSON path as a quoted label; the path itself is a bound parameter.
            attributes.Add(("$.\"" + key + "\"", value));
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
}
