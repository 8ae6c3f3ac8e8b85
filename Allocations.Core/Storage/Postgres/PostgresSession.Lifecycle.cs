using Dapper;
using Npgsql;

namespace Allocations.Storage.Postgres;

/// <summary>Holds that expire, allocation periods, rate corrections, alerts, the figure history and the calls that run
/// after a commit (schema version 2).</summary>
/// <remarks>The figure changes alerts are computed from need no read of their own: a write transaction locks every
/// allocation row it reads (<see cref="GetAllocations"/>), so the figures it read stay current, and it follows them
/// through its own writes in <see cref="tracked"/>.</remarks>
internal sealed partial class PostgresSession
{
    private const string FigureHistoryColumns =
        "allocation_id AS AllocationId, at_ns AS AtNs, total AS Total, own_used AS OwnUsed, own_estimated AS OwnEstimated, used AS Used, estimated AS Estimated";

    private const string AlertColumns =
        "id AS Id, org_id AS OrgId, allocation_id AS AllocationId, allocation_name AS AllocationName, kind AS Kind, value AS Value, " +
        "direction AS Direction, total AS Total, used AS Used, estimated AS Estimated, event_id AS EventId, journal_id AS JournalId, " +
        "operation AS Operation, at_ns AS AtNs, actor AS Actor";

    /// <summary>Rows this write transaction holds locked, as they stand after its own writes (flushed or not).</summary>
    private readonly Dictionary<long, (long OrgId, string Name, long Total, long Used, long Estimated)> tracked = [];

    /// <summary>Per allocation changed since the last <see cref="TakeFigureChanges"/>: its figures before the first
    /// change, when known (else the deltas since, to take from the figures read at the end).</summary>
    private readonly SortedDictionary<long, (FigureChangeRow? Before, long UsedDelta, long EstimatedDelta)> changes = [];

    /// <summary>The allocations whose total or figures changed since <see cref="RecordFigureHistory"/>.</summary>
    private readonly HashSet<long> historyDue = [];

    private readonly List<(long[] Ids, long AtNs)> pendingHistory = [];
    private List<Action>? committed;

    // After the commit
    public void OnCommitted(Action action) => (committed ??= []).Add(action);

    /// <summary>Runs what the work registered to run after its commit (the engine calls it once the commit returned).</summary>
    internal void RunCommitted()
    {
        if (committed is { } actions)
        {
            committed = null;
            foreach (var action in actions)
            {
                action();
            }
        }
    }

    // Figure changes: what the writes of this transaction did to each allocation's total and figures
    private void Track(AllocationRow row)
    {
        if (write)
        {
            tracked[row.Id] = (row.OrgId, row.Name, row.Total, row.Used, row.Estimated);
        }
    }

    /// <summary>Notes a change before an absolute write: the figures before it come from the tracked row, or a read.</summary>
    private void NoteAbsolute(long allocationId)
    {
        historyDue.Add(allocationId);
        if (changes.TryGetValue(allocationId, out var change) && change.Before is not null)
        {
            return;
        }
        if (!tracked.TryGetValue(allocationId, out var current))
        {
            var rows = Many<(long, string, long, long, long)>("SELECT org_id, name, total, used, estimated FROM allocations WHERE id = @allocationId", new { allocationId });
            if (rows.Count == 0)
            {
                return;
            }
            current = rows[0];
            tracked[allocationId] = current;
        }
        // Deltas noted before this write are already in the tracked row: the figures before them are the tracked ones less them.
        var before = new FigureChangeRow(allocationId, current.OrgId, current.Name, current.Total, current.Used - change.UsedDelta, current.Estimated - change.EstimatedDelta, 0, 0, 0);
        changes[allocationId] = (before, 0, 0);
    }

    private void NoteDelta(long allocationId, long usedDelta, long estimatedDelta)
    {
        historyDue.Add(allocationId);
        // unchecked: a sum past the range fails the whole write at the flush (see AddFigures), so a wrapped value
        // noted here is never read.
        unchecked
        {
            if (tracked.TryGetValue(allocationId, out var current))
            {
                tracked[allocationId] = current with { Used = current.Used + usedDelta, Estimated = current.Estimated + estimatedDelta };
            }
            var change = changes.GetValueOrDefault(allocationId);
            changes[allocationId] = change.Before is null
                ? (null, change.UsedDelta + usedDelta, change.EstimatedDelta + estimatedDelta)
                : change;
        }
    }

    public IReadOnlyList<FigureChangeRow> TakeFigureChanges()
    {
        if (changes.Count == 0)
        {
            return [];
        }
        var unknown = changes.Keys.Where(id => !tracked.ContainsKey(id)).ToArray();
        if (unknown.Length > 0)
        {
            foreach (var (id, orgId, name, total, used, estimated) in Many<(long, long, string, long, long, long)>(
                "SELECT id, org_id, name, total, used, estimated FROM allocations WHERE id = ANY(@unknown)", new { unknown }))
            {
                tracked[id] = (orgId, name, total, used, estimated);
            }
        }
        var result = new List<FigureChangeRow>(changes.Count);
        foreach (var (id, change) in changes)
        {
            if (!tracked.TryGetValue(id, out var after))
            {
                continue; // deleted
            }
            var before = change.Before ?? new FigureChangeRow(id, after.OrgId, after.Name, after.Total, after.Used - change.UsedDelta, after.Estimated - change.EstimatedDelta, 0, 0, 0);
            result.Add(before with { TotalAfter = after.Total, UsedAfter = after.Used, EstimatedAfter = after.Estimated });
        }
        changes.Clear();
        return result;
    }

    // Figure history
    public bool FiguresChanged => historyDue.Count > 0;

    /// <summary>Buffered with the other writes: the rows are copied from the allocations' stored values at the flush,
    /// after the figure deltas, in the same round trip.</summary>
    public void RecordFigureHistory(long atNs)
    {
        if (historyDue.Count > 0)
        {
            pendingHistory.Add(([.. historyDue.Order()], atNs));
            historyDue.Clear();
        }
    }

    private void AddHistoryWrites(NpgsqlBatch batch)
    {
        foreach (var (ids, atNs) in pendingHistory)
        {
            var command = new NpgsqlBatchCommand(
                "INSERT INTO figure_history (allocation_id, at_ns, total, own_used, own_estimated, used, estimated) " +
                "SELECT id, $2, total, own_used, own_estimated, used, estimated FROM allocations WHERE id = ANY($1) ORDER BY id " +
                "ON CONFLICT (allocation_id, at_ns) DO UPDATE SET total = excluded.total, own_used = excluded.own_used, " +
                "own_estimated = excluded.own_estimated, used = excluded.used, estimated = excluded.estimated");
            Add(command, ids);
            Add(command, atNs);
            batch.BatchCommands.Add(command);
        }
        pendingHistory.Clear();
    }

    public FigureHistoryRow? GetFiguresAsOf(long allocationId, long atNs) =>
        One<FigureHistoryRow>(
            $"SELECT {FigureHistoryColumns} FROM figure_history WHERE allocation_id = @allocationId AND at_ns <= @atNs ORDER BY at_ns DESC LIMIT 1",
            new { allocationId, atNs });

    public IReadOnlyList<FigureHistoryRow> ListFiguresAsOf(long orgId, long atNs) =>
        Many<FigureHistoryRow>(
            $"SELECT DISTINCT ON (h.allocation_id) {FigureHistoryColumns} FROM figure_history h " +
            "WHERE h.at_ns <= @atNs AND h.allocation_id IN (SELECT id FROM allocations WHERE org_id = @orgId) ORDER BY h.allocation_id, h.at_ns DESC",
            new { orgId, atNs });

    public bool FigureHistoryRebuildPending() =>
        One<long?>("SELECT id::bigint FROM figure_history_rebuild WHERE id = 1") is not null;

    public void ReplaceFigureHistory(long orgId, IReadOnlyList<FigureHistoryRow> rows)
    {
        Exec("DELETE FROM figure_history WHERE allocation_id IN (SELECT id FROM allocations WHERE org_id = @orgId)", new { orgId });
        if (rows.Count == 0)
        {
            return;
        }
        Exec(
            "INSERT INTO figure_history (allocation_id, at_ns, total, own_used, own_estimated, used, estimated) " +
            "SELECT v.* FROM unnest(@ids, @at, @total, @ownUsed, @ownEstimated, @used, @estimated) AS v(id, at_ns, total, ou, oe, u, e) " +
            "WHERE EXISTS (SELECT 1 FROM allocations WHERE id = v.id) " +
            "ON CONFLICT (allocation_id, at_ns) DO UPDATE SET total = excluded.total, own_used = excluded.own_used, " +
            "own_estimated = excluded.own_estimated, used = excluded.used, estimated = excluded.estimated",
            new
            {
                ids = rows.Select(r => r.AllocationId).ToArray(),
                at = rows.Select(r => r.AtNs).ToArray(),
                total = rows.Select(r => r.Total).ToArray(),
                ownUsed = rows.Select(r => r.OwnUsed).ToArray(),
                ownEstimated = rows.Select(r => r.OwnEstimated).ToArray(),
                used = rows.Select(r => r.Used).ToArray(),
                estimated = rows.Select(r => r.Estimated).ToArray(),
            });
    }

    public void FigureHistoryRebuilt() => Exec("DELETE FROM figure_history_rebuild");

    public IReadOnlyList<EventRow> ListEventsForReplay(long orgId, long afterId, int limit) =>
        Many<EventRow>(
            $"SELECT {EventColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id WHERE e.org_id = @orgId AND e.id > @afterId ORDER BY e.id LIMIT @limit",
            new { orgId, afterId, limit });

    // Alerts
    public IReadOnlyList<ThresholdRow> ListThresholds(IReadOnlyList<long> allocationIds) =>
        allocationIds.Count == 0
            ? []
            : Many<ThresholdRow>(
                "SELECT allocation_id AS AllocationId, kind AS Kind, value AS Value FROM alert_thresholds " +
                "WHERE allocation_id = ANY(@ids) ORDER BY allocation_id, kind, value",
                new { ids = allocationIds.ToArray() });

    public void ReplaceThresholds(long allocationId, IReadOnlyList<ThresholdRow> thresholds) =>
        Exec(
            "DELETE FROM alert_thresholds WHERE allocation_id = @allocationId; " +
            "INSERT INTO alert_thresholds (allocation_id, kind, value) SELECT @allocationId, k, v FROM unnest(@kinds, @values) AS t(k, v)",
            new { allocationId, kinds = thresholds.Select(t => t.Kind).ToArray(), values = thresholds.Select(t => t.Value).ToArray() });

    public long InsertAlert(AlertRow alert)
    {
        // Numbered while the organization's head is held (the journal entries of the write took it already).
        LockHead(alert.OrgId);
        return InsertReturningId(
            "INSERT INTO alerts (org_id, allocation_id, allocation_name, kind, value, direction, total, used, estimated, event_id, journal_id, operation, at_ns, actor) " +
            "VALUES (@OrgId, @AllocationId, @AllocationName, @Kind, @Value, @Direction, @Total, @Used, @Estimated, @EventId, @JournalId, @Operation, @AtNs, @Actor)",
            alert);
    }

    public bool AlertRecorded(long allocationId, int kind, long value) =>
        One<long?>("SELECT 1::bigint FROM alerts WHERE allocation_id = @allocationId AND kind = @kind AND value = @value LIMIT 1", new { allocationId, kind, value }) is not null;

    public IReadOnlyList<AlertRow> ListAlerts(long orgId, long afterId, int limit) =>
        Many<AlertRow>(
            $"SELECT {AlertColumns} FROM alerts WHERE org_id = @orgId AND id > @afterId ORDER BY id LIMIT @limit",
            new { orgId, afterId, limit });

    // Holds that expire: every query names the partial index's condition (status = 1, an expiry set).
    public (long Own, long Tree) SumExpiredHolds(long allocationId, long nowNs)
    {
        var row = Many<(long, long)>(
            // The allocation and its children as one array, so the expiry index is probed per allocation (an OR with a
            // subquery is planned as a scan of every event).
            "SELECT COALESCE(SUM(CASE WHEN e.allocation_id = @allocationId THEN e.amount END), 0)::bigint, COALESCE(SUM(e.amount), 0)::bigint FROM usage_events e " +
            "WHERE e.status = 1 AND e.expires_ns IS NOT NULL AND e.expires_ns <= @nowNs " +
            "AND e.allocation_id = ANY(array_append(ARRAY(SELECT c.id FROM allocations c WHERE c.parent_id = @allocationId), @allocationId::bigint))",
            new { allocationId, nowNs });
        return row[0];
    }

    public IReadOnlyDictionary<long, long> SumExpiredHoldsByAllocation(long orgId, long nowNs) =>
        Many<(long, long)>(
            "SELECT e.allocation_id, SUM(e.amount)::bigint FROM usage_events e " +
            "WHERE e.status = 1 AND e.expires_ns IS NOT NULL AND e.expires_ns <= @nowNs AND e.allocation_id IN (SELECT a.id FROM allocations a WHERE a.org_id = @orgId) " +
            "GROUP BY e.allocation_id",
            new { orgId, nowNs }).ToDictionary(r => r.Item1, r => r.Item2);

    public IReadOnlyList<EventRow> ListExpiredHolds(long orgId, long nowNs, long afterId, int limit) =>
        Many<EventRow>(
            $"SELECT {EventColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id " +
            "WHERE e.status = 1 AND e.expires_ns IS NOT NULL AND e.expires_ns <= @nowNs AND e.allocation_id IN (SELECT a.id FROM allocations a WHERE a.org_id = @orgId) " +
            "AND e.id > @afterId ORDER BY e.id LIMIT @limit",
            new { orgId, nowNs, afterId, limit });

    public void SetHoldExpiry(long eventId, long? expiresNs) =>
        Exec("UPDATE usage_events SET expires_ns = @expiresNs WHERE id = @eventId", new { eventId, expiresNs });

    // Periods
    public void SetPeriod(long allocationId, long? startNs, long? endNs)
    {
        lockedRows.Remove(allocationId);
        Exec(
            "UPDATE allocations SET period_start_ns = @startNs, period_end_ns = @endNs WHERE id = @allocationId",
            new { allocationId, startNs, endNs });
    }

    public EventStart? FindEventOutside(long allocationId, long? startNs, long? endNs)
    {
        if (startNs is { } start
            && Many<(long Id, long StartNs)>("SELECT id, start_ns FROM usage_events WHERE allocation_id = @allocationId AND start_ns < @start ORDER BY start_ns LIMIT 1", new { allocationId, start }) is [var before, ..])
        {
            return new EventStart(before.Id, allocationId, before.StartNs);
        }
        return endNs is { } end
            && Many<(long Id, long StartNs)>("SELECT id, start_ns FROM usage_events WHERE allocation_id = @allocationId AND start_ns >= @end ORDER BY start_ns DESC LIMIT 1", new { allocationId, end }) is [var after, ..]
            ? new EventStart(after.Id, allocationId, after.StartNs)
            : null;
    }

    // Rate corrections and re-rating
    public void DeleteRule(long ruleId) => Exec("DELETE FROM rate_rules WHERE id = @ruleId", new { ruleId });

    public void SetRuleStart(long ruleId, long fromNs) =>
        Exec("UPDATE rate_rules SET from_ns = @fromNs WHERE id = @ruleId", new { ruleId, fromNs });

    public IReadOnlyList<EventRow> ListSkuEventsPage(long skuId, long fromNs, long toNs, long afterId, int limit) =>
        Many<EventRow>(
            $"SELECT {EventColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id " +
            "WHERE e.id > @afterId AND e.sku_id = @skuId AND e.start_ns < @toNs AND (e.end_ns > @fromNs OR e.start_ns >= @fromNs) ORDER BY e.id LIMIT @limit",
            new { skuId, fromNs, toNs, afterId, limit });
}
