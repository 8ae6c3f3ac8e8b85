namespace Allocations.Storage;

/// <summary>A threshold of an allocation as stored: kind 1 (% Used, value in hundredths of a percent) or 2 (Remaining,
/// value in micro-units).</summary>
internal sealed class ThresholdRow
{
    public long AllocationId { get; set; }

    public int Kind { get; set; }

    public long Value { get; set; }
}

/// <summary>One recorded threshold crossing, as stored in the outbox.</summary>
internal sealed class AlertRow
{
    public long Id { get; set; }

    public long OrgId { get; set; }

    public long AllocationId { get; set; }

    public string AllocationName { get; set; } = "";

    public int Kind { get; set; }

    public long Value { get; set; }

    /// <summary>1: up (the threshold was reached), 2: down (it was left).</summary>
    public int Direction { get; set; }

    public long Total { get; set; }

    public long Used { get; set; }

    public long Estimated { get; set; }

    public long? EventId { get; set; }

    public long? JournalId { get; set; }

    public string Operation { get; set; } = "";

    public long AtNs { get; set; }

    public string Actor { get; set; } = "";
}

/// <summary>An allocation whose total or figures the session's writes changed: its organization and name, and its
/// total, Used and Estimated before the first of those writes and after the last.</summary>
internal readonly record struct FigureChangeRow(
    long AllocationId,
    long OrgId,
    string Name,
    long TotalBefore,
    long UsedBefore,
    long EstimatedBefore,
    long TotalAfter,
    long UsedAfter,
    long EstimatedAfter);

/// <summary>The storage operations of alerts: thresholds, the outbox of crossings, and the figure changes of the
/// session that the crossings are computed from.</summary>
internal partial interface IStorageSession
{
    /// <summary>The thresholds of the given allocations, by allocation id, then kind, then value.</summary>
    IReadOnlyList<ThresholdRow> ListThresholds(IReadOnlyList<long> allocationIds);

    /// <summary>Replaces an allocation's thresholds with <paramref name="thresholds"/> (distinct, possibly none).</summary>
    void ReplaceThresholds(long allocationId, IReadOnlyList<ThresholdRow> thresholds);

    /// <summary>Appends an alert to the outbox and returns its id. Called after the transaction's journal entries of the
    /// alert's organization, while the transaction holds that organization's journal head: the ids of one
    /// organization's alerts increase in commit order, so a reader that resumes after an id never misses one.</summary>
    long InsertAlert(AlertRow alert);

    /// <summary>Whether an alert of this allocation, kind and value is recorded (period alerts are recorded once).</summary>
    bool AlertRecorded(long allocationId, int kind, long value);

    /// <summary>Up to <paramref name="limit"/> alerts of an organization with ids above <paramref name="afterId"/>, in
    /// id order.</summary>
    IReadOnlyList<AlertRow> ListAlerts(long orgId, long afterId, int limit);

    /// <summary>The allocations whose total or figures this session's writes changed (<see cref="AddFigures"/>,
    /// <see cref="SetTotal"/>, <see cref="SetFigures"/>) since the last call, with their figures before the first such
    /// write and after the last, in ascending id order; forgets them. A deleted allocation is not listed. The engine
    /// keeps this list per transaction and, under savepoints, forgets what a rolled-back savepoint changed.</summary>
    IReadOnlyList<FigureChangeRow> TakeFigureChanges();
}
