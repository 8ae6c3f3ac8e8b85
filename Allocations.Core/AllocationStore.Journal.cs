using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;

namespace Allocations;

public sealed partial class AllocationStore
{
    /// <summary>Reads the journal entries of one allocation, oldest first, a page at a time.</summary>
    /// <remarks>The entries of a deleted allocation remain in the organization's journal
    /// (<see cref="GetOrganizationJournalAsync"/>), the deletion's own entry carrying its final figures.</remarks>
    /// <param name="actor">Admin of the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="afterSequence">Return entries after this sequence (0 for the first page).</param>
    /// <param name="limit">At most this many entries, 1 to 10,000.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The entries.</returns>
    /// <exception cref="InvalidInputException">The limit or sequence is out of range.</exception>
    /// <exception cref="NotFoundException">The allocation does not exist, or the actor may not Read it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not Admin of the allocation.</exception>
    public Task<IReadOnlyList<JournalEntry>> GetAllocationJournalAsync(Principal actor, AllocationId allocation, long afterSequence = 0, int limit = 1000, CancellationToken cancellationToken = default)
    {
        JournalQueries.CheckPage(afterSequence, limit);
        return Observed("read_journal", () => tx.Read(actor, uow => JournalQueries.OfAllocation(uow, allocation, afterSequence, limit), cancellationToken));
    }

    /// <summary>Reads the journal of a whole organization, oldest first, a page at a time.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="afterSequence">Return entries after this sequence (0 for the first page).</param>
    /// <param name="limit">At most this many entries, 1 to 10,000.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The entries.</returns>
    /// <exception cref="InvalidInputException">The limit or sequence is out of range.</exception>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<IReadOnlyList<JournalEntry>> GetOrganizationJournalAsync(Principal actor, OrganizationId organization, long afterSequence = 0, int limit = 1000, CancellationToken cancellationToken = default)
    {
        JournalQueries.CheckPage(afterSequence, limit);
        return Observed("read_journal", () => tx.Read(actor, uow => JournalQueries.OfOrganization(uow, organization, afterSequence, limit), cancellationToken));
    }

    /// <summary>Checks the hash chain of an organization's journal and reports the first entry that does not hold:
    /// one edited after it was written, or one whose predecessor was removed.</summary>
    /// <remarks>Entries removed from the very end leave a shorter chain that still holds; compare
    /// <see cref="JournalVerification.HeadHash"/> with a copy kept outside the database to detect that.</remarks>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The result; <see cref="JournalVerification.IsIntact"/> when every entry holds.</returns>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<JournalVerification> VerifyJournalAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => JournalQueries.Verify(uow, organization), cancellationToken);

    /// <summary>Replays an organization's journal and checks that today's stored state is what it says: each
    /// allocation's existence, name, parent, total and figures; each event's fields (amount, status, quantity,
    /// interval…); the grants, groups, group members and organization admins. A row changed, added or removed behind the
    /// library's back, even consistently with the figures, is reported naming its table and row.</summary>
    /// <remarks>The journal's hash chain and batch digests are checked first (<see cref="VerifyJournalAsync"/>); when
    /// they do not hold, nothing is replayed. Events recorded by one batch entry are checked through its digest; every
    /// other event against the state its last entry recorded. The whole journal and every event are read: a deep check
    /// for an operator, not for every request.</remarks>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The result; <see cref="ReplayVerification.IsClean"/> when the journal holds and the state matches it.</returns>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<ReplayVerification> VerifyAgainstJournalAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => JournalQueries.Replay(uow, organization), cancellationToken);

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
        JournalQueries.CheckPage(afterSequence, pageSize);
        return JournalQueries.Stream((after, ct) => GetAllocationJournalAsync(actor, allocation, after, pageSize, ct), afterSequence, pageSize, cancellationToken);
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
        JournalQueries.CheckPage(afterSequence, pageSize);
        return JournalQueries.Stream((after, ct) => GetOrganizationJournalAsync(actor, organization, after, pageSize, ct), afterSequence, pageSize, cancellationToken);
    }
}
