namespace Allocations.Alerts;

/// <summary>What moved each allocation's figures in one call, for the alerts the call records: the last usage event
/// that moved them (noted by the usage writer) and the last journal entry written on them (noted by the journal).</summary>
internal sealed class AlertCauses
{
    private readonly Dictionary<long, long> lastEvent = [];
    private readonly Dictionary<long, (string Action, long Sequence)> lastEntry = [];
    private (string Action, long Sequence)? lastOfCall;
    private Dictionary<long, long>? expiredHoldsGone;

    /// <summary>Notes that the call took an expired hold's amount out of an allocation's Estimated (a sweep, a release,
    /// a replace, a delete), or put one in (<paramref name="amount"/> negative: a re-rated expired hold's new amount).
    /// An expired hold no longer counts, so the figures an alert compares exclude it on both sides of the call: its
    /// amount is subtracted from the figures before the call as well as the expired holds still stored after it.</summary>
    internal void ExpiredHoldGone(long allocationId, long amount)
    {
        expiredHoldsGone ??= [];
        expiredHoldsGone[allocationId] = checked(expiredHoldsGone.GetValueOrDefault(allocationId) + amount);
    }

    /// <summary>The net amount of expired holds the call took out of an allocation's Estimated (its own and, for a
    /// parent, its children's).</summary>
    internal long ExpiredHoldsGone(long allocationId) => expiredHoldsGone?.GetValueOrDefault(allocationId) ?? 0;

    /// <summary>Notes that an event moved an allocation's figures.</summary>
    internal void Moved(long allocationId, long eventId) => lastEvent[allocationId] = eventId;

    /// <summary>Notes a journal entry of the call, on an allocation or (a batch over several) on none.</summary>
    internal void Journaled(long? allocationId, string action, long sequence)
    {
        if (allocationId is { } id)
        {
            lastEntry[id] = (action, sequence);
        }
        lastOfCall = (action, sequence);
    }

    /// <summary>The cause of a change of an allocation's figures: its last event, and its last journal entry or else the
    /// call's last (a parent moved by a child's event, an allocation of a batch entry over several).</summary>
    internal (long? EventId, string Operation, long? Sequence) For(long allocationId)
    {
        long? eventId = lastEvent.TryGetValue(allocationId, out var e) ? e : null;
        var entry = lastEntry.TryGetValue(allocationId, out var own) ? own : lastOfCall;
        return (eventId, entry?.Action ?? "write", entry?.Sequence);
    }
}
