namespace Allocations.Storage;

/// <summary>Set-at-a-time reads for the batch recording path: one statement for many ids or keys instead of one
/// round trip each.</summary>
internal partial interface IStorageSession
{
    /// <summary>The catalogue version (bumped by triggers on every change to units, SKUs and rate rules).</summary>
    long CatalogueVersion();

    /// <summary>The allocations among <paramref name="allocationIds"/> that exist, in no particular order.</summary>
    IReadOnlyList<AllocationRow> GetAllocations(IReadOnlyList<long> allocationIds);

    /// <summary>The events of an organization recorded by <paramref name="source"/> whose external key is among
    /// <paramref name="externalKeys"/>.</summary>
    IReadOnlyList<EventRow> FindEventsByKeys(long orgId, string source, IReadOnlyList<string> externalKeys);
}
