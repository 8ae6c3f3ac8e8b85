using System.Text;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Utility;

namespace Allocations;

public sealed partial class AllocationStore
{
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
        ReportingService.CheckTableQuery(query);
        return await tx.Read(actor, uow => ReportingService.AllocationTable(uow, organization, query), cancellationToken).ConfigureAwait(false);
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
        var checkedQuery = ReportingService.CheckEventQuery(query);
        return Observed("list_events", () => tx.Read(actor, uow => ReportingService.ListEvents(uow, allocation, query, checkedQuery), cancellationToken));
    }

    /// <summary>Streams an allocation's usage events, filtered, in the query's order, reading one keyset page at a
    /// time.</summary>
    /// <remarks>
    /// <para>Each page is its own short read (see <see cref="ListEventsAsync"/>), so the listing keeps its guarantees:
    /// events recorded while streaming never shift a page, and no event present throughout is skipped or repeated.
    /// Memory holds one page. The query is checked when this method is called; the actor's access is checked before the
    /// first event and again for every page, so access revoked while streaming ends the stream with
    /// <see cref="NotFoundException"/> or <see cref="AccessDeniedException"/>.</para>
    /// <para>The query's <see cref="EventQuery.PageSize"/> sets the page size; its <see cref="EventQuery.After"/>, when
    /// given, the position to start after.</para>
    /// </remarks>
    /// <param name="actor">Read on the allocation.</param>
    /// <param name="allocation">The allocation (its own events).</param>
    /// <param name="query">Filters, order and page size; null for all events, newest first, 100 a page.</param>
    /// <param name="cancellationToken">Cancels between and during pages (also honoured from
    /// <see cref="TaskAsyncEnumerableExtensions.WithCancellation{T}(IAsyncEnumerable{T}, CancellationToken)"/>).</param>
    /// <returns>The events.</returns>
    /// <exception cref="InvalidInputException">A filter or the page size is invalid (thrown by this call).</exception>
    /// <exception cref="NotFoundException">The allocation or the SKU does not exist, or the actor may not Read the
    /// allocation (thrown while enumerating).</exception>
    public IAsyncEnumerable<UsageEvent> ReadEventsAsync(Principal actor, AllocationId allocation, EventQuery? query = null, CancellationToken cancellationToken = default)
    {
        query ??= new EventQuery();
        ReportingService.CheckEventQuery(query);
        return ReportingService.StreamEvents((q, ct) => ListEventsAsync(actor, allocation, q, ct), query, cancellationToken);
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
        return await ReportingService.ExportAsync((q, ct) => ListEventsAsync(actor, allocation, q, ct), query, writer, format, progress, cancellationToken).ConfigureAwait(false);
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
        var (fromNs, toNs, checkedQuery) = ReportingService.CheckReport(request);
        return tx.Read(actor, uow => ReportingService.UsageReport(uow, request, fromNs, toNs, checkedQuery), cancellationToken);
    }
}
