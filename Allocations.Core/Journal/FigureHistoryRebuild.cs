using Allocations.Storage;

namespace Allocations.Journal;

/// <summary>Rebuilds the figure history of a store written before it was kept (schema 15), from the journal, which
/// records every change of a total and of the events: the first open of the upgraded store replays each organization's
/// journal and stores the totals and figures it describes after each instant.</summary>
internal static class FigureHistoryRebuild
{
    /// <summary>Runs the rebuild when the store still needs it, in one write transaction (a second process opening the
    /// store at the same time finds it done).</summary>
    /// <remarks>The SQLite engine runs the work synchronously, so waiting on it here blocks on nothing asynchronous.</remarks>
    /// <param name="engine">The store's engine.</param>
    /// <param name="nowNs">The store's clock when it opens: the instant of the one entry kept for an allocation whose
    /// figures the journal does not reproduce.</param>
    internal static void RunIfPending(IStorageEngine engine, long nowNs)
    {
        if (!engine.ReadAsync(session => session.FigureHistoryRebuildPending(), CancellationToken.None).GetAwaiter().GetResult())
        {
            return;
        }
        engine.WriteAsync(
            session =>
            {
                if (!session.FigureHistoryRebuildPending())
                {
                    return 0;
                }
                foreach (var org in session.ListOrganizations())
                {
                    session.ReplaceFigureHistory(org.Id, Rebuilt(session, org.Id, nowNs));
                }
                session.FigureHistoryRebuilt();
                return 0;
            },
            CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>The history the journal describes for each allocation whose replayed figures are today's; for any other
    /// (a journal written by an early version without every state, or a store edited behind the library's back), only
    /// its figures of today at <paramref name="nowNs"/>: an as-of read before that is refused rather than answered
    /// wrongly.</summary>
    private static List<FigureHistoryRow> Rebuilt(IStorageSession session, long orgId, long nowNs)
    {
        var replayed = JournalReplay.Run(session, orgId).History().GroupBy(h => h.AllocationId).ToDictionary(g => g.Key, g => g.ToList());
        var rows = new List<FigureHistoryRow>();
        foreach (var a in session.ListAllocations(orgId))
        {
            if (replayed.TryGetValue(a.Id, out var history) && history[^1] is var last
                && (last.Total, last.OwnUsed, last.OwnEstimated, last.Used, last.Estimated) == (a.Total, a.OwnUsed, a.OwnEstimated, a.Used, a.Estimated))
            {
                rows.AddRange(history);
            }
            else
            {
                rows.Add(new FigureHistoryRow { AllocationId = a.Id, AtNs = nowNs, Total = a.Total, OwnUsed = a.OwnUsed, OwnEstimated = a.OwnEstimated, Used = a.Used, Estimated = a.Estimated });
            }
        }
        return rows;
    }
}
