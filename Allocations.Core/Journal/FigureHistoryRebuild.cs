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
    internal static void RunIfPending(IStorageEngine engine)
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
                    session.ReplaceFigureHistory(org.Id, JournalReplay.Run(session, org.Id).History());
                }
                session.FigureHistoryRebuilt();
                return 0;
            },
            CancellationToken.None).GetAwaiter().GetResult();
    }
}
