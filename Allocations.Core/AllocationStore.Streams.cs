using System.Runtime.CompilerServices;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;

namespace Allocations;

public sealed partial class AllocationStore
{
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
        CheckEventQuery(query);
        return StreamEvents(actor, allocation, query, cancellationToken);
    }

    /// <summary>Streams the journal entries of one allocation, oldest first, reading one page at a time.</summary>
    /// <remarks>Access is checked before the first entry and again for every page (see
    /// <see cref="GetAllocationJournalAsync"/>). Entries written while streaming are included when they come after the
    /// page being read.</remarks>
    /// <param name="actor">Admin of the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="afterSequence">Start after this sequence (0 for the beginning).</param>
    /// <param name="pageSize">Entries per read, 1 to 10,000.</param>
    /// <param name="cancellationToken">Cancels between and during pages.</param>
    /// <returns>The entries.</returns>
    /// <exception cref="InvalidInputException">The page size or sequence is out of range (thrown by this call).</exception>
    /// <exception cref="NotFoundException">The allocation does not exist, or the actor may not Read it (thrown while
    /// enumerating).</exception>
    /// <exception cref="AccessDeniedException">The actor is not Admin of the allocation (thrown while enumerating).</exception>
    public IAsyncEnumerable<JournalEntry> ReadAllocationJournalAsync(Principal actor, AllocationId allocation, long afterSequence = 0, int pageSize = 1000, CancellationToken cancellationToken = default)
    {
        CheckPage(afterSequence, pageSize);
        return StreamJournal((after, ct) => GetAllocationJournalAsync(actor, allocation, after, pageSize, ct), afterSequence, pageSize, cancellationToken);
    }

    /// <summary>Streams the journal of a whole organization, oldest first, reading one page at a time.</summary>
    /// <remarks>Access is checked before the first entry and again for every page (see
    /// <see cref="GetOrganizationJournalAsync"/>).</remarks>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="afterSequence">Start after this sequence (0 for the beginning).</param>
    /// <param name="pageSize">Entries per read, 1 to 10,000.</param>
    /// <param name="cancellationToken">Cancels between and during pages.</param>
    /// <returns>The entries.</returns>
    /// <exception cref="InvalidInputException">The page size or sequence is out of range (thrown by this call).</exception>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it
    /// (thrown while enumerating).</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin (thrown while enumerating).</exception>
    public IAsyncEnumerable<JournalEntry> ReadOrganizationJournalAsync(Principal actor, OrganizationId organization, long afterSequence = 0, int pageSize = 1000, CancellationToken cancellationToken = default)
    {
        CheckPage(afterSequence, pageSize);
        return StreamJournal((after, ct) => GetOrganizationJournalAsync(actor, organization, after, pageSize, ct), afterSequence, pageSize, cancellationToken);
    }

    private async IAsyncEnumerable<UsageEvent> StreamEvents(Principal actor, AllocationId allocation, EventQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var page = await ListEventsAsync(actor, allocation, query, cancellationToken).ConfigureAwait(false);
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
            page = await ListEventsAsync(actor, allocation, query.WithAfter(page.Next), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async IAsyncEnumerable<JournalEntry> StreamJournal(
        Func<long, CancellationToken, Task<IReadOnlyList<JournalEntry>>> readPage,
        long afterSequence,
        int pageSize,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            var page = await readPage(afterSequence, cancellationToken).ConfigureAwait(false);
            foreach (var entry in page)
            {
                yield return entry;
            }
            if (page.Count < pageSize)
            {
                yield break;
            }
            afterSequence = page[^1].Sequence;
            cancellationToken.ThrowIfCancellationRequested();
        }
    }
}
