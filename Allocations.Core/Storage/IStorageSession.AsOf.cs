namespace Allocations.Storage;

/// <summary>One allocation's total and figures as they stood after the writes at one instant.</summary>
internal sealed class FigureHistoryRow
{
    public long AllocationId { get; set; }

    public long AtNs { get; set; }

    public long Total { get; set; }

    public long OwnUsed { get; set; }

    public long OwnEstimated { get; set; }

    public long Used { get; set; }

    public long Estimated { get; set; }
}

/// <summary>The figure history behind the figures as of an instant: every write that changes an allocation's total or
/// figures leaves the allocation's values after it, stamped with the write's instant.</summary>
internal partial interface IStorageSession
{
    /// <summary>Gets whether this transaction changed an allocation's total or figures (<see cref="InsertAllocation"/>,
    /// <see cref="SetTotal"/>, <see cref="SetFigures"/>, <see cref="AddFigures"/>) since it last recorded them with
    /// <see cref="RecordFigureHistory"/>.</summary>
    bool FiguresChanged { get; }

    /// <summary>Records the current total and figures of every allocation this transaction changed (and that still
    /// exists) in its history at <paramref name="atNs"/>, replacing what was recorded at that same instant. Called once
    /// at the end of every write, by the unit of work, so no write has to remember it.</summary>
    void RecordFigureHistory(long atNs);

    /// <summary>The allocation's history entry with the greatest instant at or before <paramref name="atNs"/>; null when
    /// it has none (it did not exist yet).</summary>
    FigureHistoryRow? GetFiguresAsOf(long allocationId, long atNs);

    /// <summary>For every allocation of the organization that has one, its history entry with the greatest instant at or
    /// before <paramref name="atNs"/>, in allocation id order.</summary>
    IReadOnlyList<FigureHistoryRow> ListFiguresAsOf(long orgId, long atNs);

    /// <summary>Gets whether the store still has allocations written before the figure history existed, whose history
    /// is to be rebuilt from the journal (<see cref="ReplaceFigureHistory"/>).</summary>
    bool FigureHistoryRebuildPending();

    /// <summary>Replaces the whole figure history of the organization's allocations with <paramref name="rows"/> (each
    /// allocation's entries in instant order); rows of allocations that no longer exist are skipped.</summary>
    void ReplaceFigureHistory(long orgId, IReadOnlyList<FigureHistoryRow> rows);

    /// <summary>Marks the rebuild of the figure history done.</summary>
    void FigureHistoryRebuilt();

    /// <summary>Up to <paramref name="limit"/> of the organization's events with ids above <paramref name="afterId"/>, in
    /// id order, every stored field as it is (for the verification that replays the journal).</summary>
    IReadOnlyList<EventRow> ListEventsForReplay(long orgId, long afterId, int limit);
}
