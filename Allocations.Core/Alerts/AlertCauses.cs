namespace Allocations.Alerts;

/// <summary>What moved each allocation's figures in one call, for the alerts the call records: the last usage event
/// that moved them (noted by the usage writer) and the last journal entry written on them (noted by the journal).</summary>
internal sealed class AlertCauses
{
    private readonly Dictionary<long, long> lastEvent = [];
    private readonly Dictionary<long, (string Action, long Sequence)> lastEntry = [];
    private (string Action, long Sequence)? lastOfCall;

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
