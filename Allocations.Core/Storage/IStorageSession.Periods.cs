namespace Allocations.Storage;

/// <summary>An event found outside a period: its id, its allocation and its start.</summary>
internal readonly record struct EventStart(long EventId, long AllocationId, long StartNs);

/// <summary>The storage operations of allocation periods. The period itself is read with the allocation
/// (<see cref="AllocationRow.PeriodStartNs"/>, <see cref="AllocationRow.PeriodEndNs"/>).</summary>
internal partial interface IStorageSession
{
    /// <summary>Sets an allocation's own period <c>[startNs, endNs)</c>; null for an open end.</summary>
    void SetPeriod(long allocationId, long? startNs, long? endNs);

    /// <summary>An event of the allocation whose start lies before <paramref name="startNs"/> or at or after
    /// <paramref name="endNs"/> (null bounds are open), or null when every event starts inside: the earliest such
    /// start, else the latest.</summary>
    EventStart? FindEventOutside(long allocationId, long? startNs, long? endNs);
}
