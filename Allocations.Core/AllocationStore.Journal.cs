using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Journal;
using Allocations.Storage;
using Allocations.Utility;

namespace Allocations;

public sealed partial class AllocationStore
{
    private const int MaxJournalPage = 10_000;

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
        CheckPage(afterSequence, limit);
        return Observed("read_journal", () => engine.ReadAsync<IReadOnlyList<JournalEntry>>(
            session =>
            {
                var row = AccessResolver.RequireAllocation(session, actor, allocation, Operation.ReadAllocationJournal);
                var legacy = session.JournalLegacyLastSequence();
                return session.ListJournal(row.OrgId, row.Id, afterSequence, limit).Select(r => ToEntry(BatchView.ForAllocation(r, row.Id), legacy)).ToList();
            },
            cancellationToken));
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
        CheckPage(afterSequence, limit);
        return Observed("read_journal", () => engine.ReadAsync<IReadOnlyList<JournalEntry>>(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ReadOrganizationJournal);
                var legacy = session.JournalLegacyLastSequence();
                return session.ListJournal(organization.Value, null, afterSequence, limit).Select(r => ToEntry(r, legacy)).ToList();
            },
            cancellationToken));
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
        engine.ReadAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.VerifyJournal);
                var (count, broken, problem, head) = JournalChain.Verify(session, organization.Value);
                return new JournalVerification(count, broken, problem, broken is null && head is not null ? Convert.ToHexStringLower(head) : null);
            },
            cancellationToken);

    private static void CheckPage(long afterSequence, int limit)
    {
        Preconditions.CheckNonNegative(afterSequence, "afterSequence");
        Preconditions.CheckArgument(limit is >= 1 and <= MaxJournalPage, "limit", limit.ToString(System.Globalization.CultureInfo.InvariantCulture), $"must be between 1 and {MaxJournalPage}");
    }

    /// <summary>An entry as callers see it. Rows up to <paramref name="legacyLastSequence"/> were written before
    /// actors were encoded: their bare <c>system</c> is read as the system actor, any other id as <c>user:&lt;id&gt;</c>.</summary>
    private static JournalEntry ToEntry(JournalRow row, long legacyLastSequence) => new(
        row.Id,
        new OrganizationId(row.OrgId),
        row.AllocationId is { } a ? new AllocationId(a) : null,
        InstantCodec.FromNs(row.AtNs),
        row.Id <= legacyLastSequence && row.Actor != "system" ? "user:" + row.Actor : row.Actor,
        row.Action,
        row.Target,
        row.Before,
        row.After,
        Convert.ToHexStringLower(row.Hash),
        Convert.ToHexStringLower(row.PrevHash));
}
