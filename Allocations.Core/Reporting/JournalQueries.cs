using System.Runtime.CompilerServices;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Journal;
using Allocations.Storage;
using Allocations.Utility;

namespace Allocations.Reporting;

/// <summary>Reading and verifying the journal, inside the caller's unit of work (or one per page when streaming).</summary>
internal static class JournalQueries
{
    private const int MaxJournalPage = 10_000;

    internal static void CheckPage(long afterSequence, int limit)
    {
        Preconditions.CheckNonNegative(afterSequence, "afterSequence");
        Preconditions.CheckArgument(limit is >= 1 and <= MaxJournalPage, "limit", limit.ToString(System.Globalization.CultureInfo.InvariantCulture), $"must be between 1 and {MaxJournalPage}");
    }

    internal static IReadOnlyList<JournalEntry> OfAllocation(UnitOfWork uow, AllocationId allocation, long afterSequence, int limit)
    {
        var row = uow.Access.RequireAllocation(allocation, Operation.ReadAllocationJournal);
        return Page(uow.Session, row.OrgId, row.Id, afterSequence, limit);
    }

    internal static IReadOnlyList<JournalEntry> OfOrganization(UnitOfWork uow, OrganizationId organization, long afterSequence, int limit)
    {
        uow.Access.RequireOrganization(organization, Operation.ReadOrganizationJournal);
        return Page(uow.Session, organization.Value, null, afterSequence, limit);
    }

    private static List<JournalEntry> Page(IStorageSession session, long orgId, long? allocationId, long afterSequence, int limit)
    {
        var legacy = session.JournalLegacyLastSequence();
        // An allocation's journal shows only its own part of a batch entry spanning several allocations.
        return session.ListJournal(orgId, allocationId, afterSequence, limit)
            .Select(r => RowMapping.ToEntry(allocationId is { } id ? BatchView.ForAllocation(r, id) : r, legacy)).ToList();
    }

    internal static JournalVerification Verify(UnitOfWork uow, OrganizationId organization)
    {
        uow.Access.RequireOrganization(organization, Operation.VerifyJournal);
        var (count, broken, problem, head) = JournalChain.Verify(uow.Session, organization.Value);
        return new JournalVerification(count, broken, problem, broken is null && head is not null ? Convert.ToHexStringLower(head) : null);
    }

    /// <summary>Checks the chain, then replays the journal and compares today's state with it.</summary>
    internal static ReplayVerification Replay(UnitOfWork uow, OrganizationId organization)
    {
        uow.Access.RequireOrganization(organization, Operation.VerifyAgainstJournal);
        var chain = Verify(uow, organization);
        if (!chain.IsIntact)
        {
            return new ReplayVerification(chain, 0, []);
        }
        var replay = JournalReplay.Run(uow.Session, organization.Value);
        return new ReplayVerification(chain, replay.Entries, replay.Compare(uow.Session, organization.Value));
    }

    /// <summary>Streams the pages <paramref name="readPage"/> returns, one read each, until a short page.</summary>
    internal static async IAsyncEnumerable<JournalEntry> Stream(
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
