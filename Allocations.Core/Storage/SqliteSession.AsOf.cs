namespace Allocations.Storage;

internal sealed partial class SqliteSession
{
    private const string FigureHistoryColumns =
        "allocation_id AS AllocationId, at_ns AS AtNs, total AS Total, own_used AS OwnUsed, own_estimated AS OwnEstimated, used AS Used, estimated AS Estimated";

    /// <summary>The allocations whose total or figures this transaction changed since they were last recorded.</summary>
    private readonly HashSet<long> figuresChanged = [];

    public bool FiguresChanged => figuresChanged.Count > 0;

    public void RecordFigureHistory(long atNs)
    {
        foreach (var id in figuresChanged)
        {
            Run(
                "INSERT INTO figure_history (allocation_id, at_ns, total, own_used, own_estimated, used, estimated) " +
                "SELECT id, $at, total, own_used, own_estimated, used, estimated FROM allocations WHERE id = $id " +
                "ON CONFLICT (allocation_id, at_ns) DO UPDATE SET total = excluded.total, own_used = excluded.own_used, " +
                "own_estimated = excluded.own_estimated, used = excluded.used, estimated = excluded.estimated",
                ["$at", "$id"],
                [atNs, id],
                command => command.ExecuteNonQuery());
        }
        figuresChanged.Clear();
    }

    public FigureHistoryRow? GetFiguresAsOf(long allocationId, long atNs) =>
        One<FigureHistoryRow>(
            $"SELECT {FigureHistoryColumns} FROM figure_history WHERE allocation_id = @allocationId AND at_ns <= @atNs ORDER BY at_ns DESC LIMIT 1",
            new { allocationId, atNs });

    public IReadOnlyList<FigureHistoryRow> ListFiguresAsOf(long orgId, long atNs) =>
        Many<FigureHistoryRow>(
            $"SELECT {FigureHistoryColumns} FROM figure_history h WHERE h.at_ns = " +
            "(SELECT MAX(k.at_ns) FROM figure_history k WHERE k.allocation_id = h.allocation_id AND k.at_ns <= @atNs) " +
            "AND h.allocation_id IN (SELECT id FROM allocations WHERE org_id = @orgId) ORDER BY h.allocation_id",
            new { orgId, atNs });

    public bool FigureHistoryRebuildPending() =>
        One<long?>("SELECT id FROM figure_history_rebuild WHERE id = 1") is not null;

    public void ReplaceFigureHistory(long orgId, IReadOnlyList<FigureHistoryRow> rows)
    {
        Exec("DELETE FROM figure_history WHERE allocation_id IN (SELECT id FROM allocations WHERE org_id = @orgId)", new { orgId });
        foreach (var row in rows)
        {
            Exec(
                "INSERT INTO figure_history (allocation_id, at_ns, total, own_used, own_estimated, used, estimated) " +
                "SELECT @AllocationId, @AtNs, @Total, @OwnUsed, @OwnEstimated, @Used, @Estimated WHERE EXISTS (SELECT 1 FROM allocations WHERE id = @AllocationId) " +
                "ON CONFLICT (allocation_id, at_ns) DO UPDATE SET total = excluded.total, own_used = excluded.own_used, " +
                "own_estimated = excluded.own_estimated, used = excluded.used, estimated = excluded.estimated",
                row);
        }
    }

    public IReadOnlyList<EventRow> ListEventsForReplay(long orgId, long afterId, int limit) =>
        Many<EventRow>(
            $"SELECT {EventColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id WHERE e.org_id = @orgId AND e.id > @afterId ORDER BY e.id LIMIT @limit",
            new { orgId, afterId, limit });

    public void FigureHistoryRebuilt() => Exec("DELETE FROM figure_history_rebuild");

    /// <summary>Notes that this transaction changed an allocation's total or figures, for <see cref="RecordFigureHistory"/>.</summary>
    private void FiguresTouched(long allocationId) => figuresChanged.Add(allocationId);

    /// <summary>Notes the change (see <see cref="FiguresTouched"/>) before the statement that makes it.</summary>
    private SqliteSession FiguresTouchedThen(long allocationId)
    {
        figuresChanged.Add(allocationId);
        return this;
    }
}
