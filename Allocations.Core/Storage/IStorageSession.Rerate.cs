namespace Allocations.Storage;

/// <summary>The storage operations of rate corrections and re-rating.</summary>
internal partial interface IStorageSession
{
    /// <summary>Removes a rate rule (a correction replaced the whole of it). Segments already stored keep its id.</summary>
    void DeleteRule(long ruleId);

    /// <summary>Moves a rate rule's first instant later (a correction replaced its beginning).</summary>
    void SetRuleStart(long ruleId, long fromNs);

    /// <summary>A page of the events of one SKU whose interval overlaps <c>[fromNs, toNs)</c> (start before
    /// <paramref name="toNs"/>, and end after <paramref name="fromNs"/> or start at or after it, so that a zero-length
    /// event counts where it starts), with ids above <paramref name="afterId"/>, in ascending id order, at most
    /// <paramref name="limit"/>. A caller pages through by passing the last id it got.</summary>
    IReadOnlyList<EventRow> ListSkuEventsPage(long skuId, long fromNs, long toNs, long afterId, int limit);
}
