namespace Allocations.Storage;

/// <summary>The storage operations of holds that expire. An expired hold stays stored, and in its allocation's
/// figures, until it is swept or released; until then reads and fit checks subtract it with these sums.</summary>
internal partial interface IStorageSession
{
    /// <summary>The amounts of the Estimated events of an allocation and of its children whose expiry is at or before
    /// <paramref name="nowNs"/>: the allocation's own, and its own plus its children's.</summary>
    (long Own, long Tree) SumExpiredHolds(long allocationId, long nowNs);

    /// <summary>The amount of each allocation's own expired holds (as <see cref="SumExpiredHolds"/>) in an organization;
    /// allocations with none are left out.</summary>
    IReadOnlyDictionary<long, long> SumExpiredHoldsByAllocation(long orgId, long nowNs);

    /// <summary>Up to <paramref name="limit"/> of an organization's Estimated events whose expiry is at or before
    /// <paramref name="nowNs"/>, in id order, after the id <paramref name="afterId"/>.</summary>
    IReadOnlyList<EventRow> ListExpiredHolds(long orgId, long nowNs, long afterId, int limit);

    /// <summary>Sets a hold's expiry (null: never).</summary>
    void SetHoldExpiry(long eventId, long? expiresNs);
}
