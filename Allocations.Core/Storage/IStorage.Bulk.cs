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

    /// <summary>Adds deltas to an allocation's four figures in one statement (never an absolute write-back, so that
    /// changes of concurrent writers add up). Returns false, having changed the row, when a figure or Used + Estimated
    /// left the 64-bit range: the caller fails the transaction naming the allocation.</summary>
    bool AddFigures(long allocationId, long ownUsedDelta, long ownEstimatedDelta, long usedDelta, long estimatedDelta);

    /// <summary>The organization's events with ids from <paramref name="firstId"/> to <paramref name="lastId"/>, in id
    /// order, each with its segments in order, every stored field as it is (for the digests of batch entries).</summary>
    IReadOnlyList<(EventRow Row, List<SegmentRow> Segments)> ReadEventsForDigest(long orgId, long firstId, long lastId);
}
