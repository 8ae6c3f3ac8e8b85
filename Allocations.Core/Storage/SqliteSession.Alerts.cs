using System.Text.Json;

namespace Allocations.Storage;

internal sealed partial class SqliteSession
{
    private const string AlertColumns =
        "id AS Id, org_id AS OrgId, allocation_id AS AllocationId, allocation_name AS AllocationName, kind AS Kind, value AS Value, " +
        "direction AS Direction, total AS Total, used AS Used, estimated AS Estimated, event_id AS EventId, journal_id AS JournalId, " +
        "operation AS Operation, at_ns AS AtNs, actor AS Actor";

    /// <summary>The figure changes of the transaction since the last <see cref="TakeFigureChanges"/>, by allocation.</summary>
    private readonly SortedDictionary<long, FigureChangeRow> figureChanges = [];

    public IReadOnlyList<ThresholdRow> ListThresholds(IReadOnlyList<long> allocationIds) =>
        allocationIds.Count == 0
            ? []
            : Many<ThresholdRow>(
                "SELECT allocation_id AS AllocationId, kind AS Kind, value AS Value FROM alert_thresholds " +
                "WHERE allocation_id IN (SELECT value FROM json_each(@ids)) ORDER BY allocation_id, kind, value",
                new { ids = JsonSerializer.Serialize(allocationIds) });

    public void ReplaceThresholds(long allocationId, IReadOnlyList<ThresholdRow> thresholds)
    {
        Exec("DELETE FROM alert_thresholds WHERE allocation_id = @allocationId", new { allocationId });
        foreach (var threshold in thresholds)
        {
            Exec(
                "INSERT INTO alert_thresholds (allocation_id, kind, value) VALUES (@allocationId, @Kind, @Value)",
                new { allocationId, threshold.Kind, threshold.Value });
        }
    }

    public long InsertAlert(AlertRow alert) =>
        InsertReturningId(
            "INSERT INTO alerts (org_id, allocation_id, allocation_name, kind, value, direction, total, used, estimated, event_id, journal_id, operation, at_ns, actor) " +
            "VALUES (@OrgId, @AllocationId, @AllocationName, @Kind, @Value, @Direction, @Total, @Used, @Estimated, @EventId, @JournalId, @Operation, @AtNs, @Actor)",
            alert);

    public bool AlertRecorded(long allocationId, int kind, long value) =>
        One<long?>("SELECT 1 FROM alerts WHERE allocation_id = @allocationId AND kind = @kind AND value = @value LIMIT 1", new { allocationId, kind, value }) is not null;

    public IReadOnlyList<AlertRow> ListAlerts(long orgId, long afterId, int limit) =>
        Many<AlertRow>(
            $"SELECT {AlertColumns} FROM alerts WHERE org_id = @orgId AND id > @afterId ORDER BY id LIMIT @limit",
            new { orgId, afterId, limit });

    public IReadOnlyList<FigureChangeRow> TakeFigureChanges()
    {
        if (figureChanges.Count == 0)
        {
            return [];
        }
        var changes = figureChanges.Values.ToList();
        figureChanges.Clear();
        return changes;
    }

    /// <summary>Notes an allocation's figures before a write that sets its total or figures (read now, once per
    /// allocation until the changes are taken).</summary>
    private void NoteFiguresBefore(long allocationId)
    {
        if (figureChanges.ContainsKey(allocationId))
        {
            return;
        }
        var before = Run(
            "SELECT org_id, name, total, used, estimated FROM allocations WHERE id = $id",
            ["$id"],
            [allocationId],
            command =>
            {
                using var reader = command.ExecuteReader();
                return reader.Read()
                    ? StoredRows.Map(reader, r => (OrgId: r.GetInt64(0), Name: r.GetString(1), Total: r.GetInt64(2), Used: r.GetInt64(3), Estimated: r.GetInt64(4)))
                    : ((long OrgId, string Name, long Total, long Used, long Estimated)?)null;
            });
        if (before is { } b)
        {
            figureChanges[allocationId] = new FigureChangeRow(allocationId, b.OrgId, b.Name, b.Total, b.Used, b.Estimated, b.Total, b.Used, b.Estimated);
        }
    }

    /// <summary>Notes an allocation's figures after a write; the figures before are those noted first, or, for a delta
    /// write, the figures after less the deltas.</summary>
    private void NoteFiguresAfter(long allocationId, long orgId, string name, long total, long used, long estimated, long usedDelta = 0, long estimatedDelta = 0)
    {
        figureChanges[allocationId] = figureChanges.TryGetValue(allocationId, out var change)
            ? change with { TotalAfter = total, UsedAfter = used, EstimatedAfter = estimated }
            : new FigureChangeRow(allocationId, orgId, name, total, used - usedDelta, estimated - estimatedDelta, total, used, estimated);
    }

    /// <summary>Notes what an absolute write of the total or of the figures leaves (every figure write is noted, so the
    /// figures noted last are the stored ones).</summary>
    private void NoteFiguresSet(long allocationId, long? total = null, long? used = null, long? estimated = null)
    {
        if (figureChanges.TryGetValue(allocationId, out var change))
        {
            figureChanges[allocationId] = change with
            {
                TotalAfter = total ?? change.TotalAfter,
                UsedAfter = used ?? change.UsedAfter,
                EstimatedAfter = estimated ?? change.EstimatedAfter,
            };
        }
    }

    private void ForgetFigureChanges(long allocationId) => figureChanges.Remove(allocationId);
}
