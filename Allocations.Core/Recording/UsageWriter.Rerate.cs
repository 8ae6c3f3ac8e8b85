using Allocations.Storage;

namespace Allocations.Recording;

/// <summary>The re-rating side of the writer: an event rated again under today's rules, and the replacement of its
/// rating with the figures moved by the difference and one journal entry.</summary>
internal sealed partial class UsageWriter
{
    /// <summary>Rates a stored event again under today's rules (its SKU's schedule and its unit's USD prices): the row
    /// it would have (only the amount and the USD cost differ) and its segments. Writes nothing.</summary>
    /// <exception cref="Exceptions.NoRateException">Today's rules leave an instant of the event without a rate.</exception>
    internal (EventRow Row, List<SegmentRow> Segments) RateAgain(EventRow stored)
    {
        var allocation = Load(stored.AllocationId);
        var (sku, schedule) = SkuById(stored.OrgId, stored.SkuId, stored.SkuCode);
        var (amount, usd, segments) = Rate(allocation, sku, schedule, stored.Quantity, stored.StartNs, stored.EndNs);
        foreach (var segment in segments)
        {
            segment.EventId = stored.Id;
        }
        var row = new EventRow
        {
            Id = stored.Id,
            OrgId = stored.OrgId,
            AllocationId = stored.AllocationId,
            SkuId = stored.SkuId,
            SkuCode = stored.SkuCode,
            Quantity = stored.Quantity,
            StartNs = stored.StartNs,
            EndNs = stored.EndNs,
            Status = stored.Status,
            ExternalKey = stored.ExternalKey,
            Amount = amount,
            Usd = usd,
            Attributes = stored.Attributes,
            RecordedNs = stored.RecordedNs,
            RecordedBy = stored.RecordedBy,
            Source = stored.Source,
            ExpiresNs = stored.ExpiresNs,
        };
        return (row, segments);
    }

    /// <summary>Whether a stored rating equals another: the same amount, USD cost and segments (bounds, rule, rate and
    /// amount of each, in order).</summary>
    internal static bool SameRating(EventRow a, IReadOnlyList<SegmentRow> aSegments, EventRow b, IReadOnlyList<SegmentRow> bSegments)
    {
        if (a.Amount != b.Amount || a.Usd != b.Usd || aSegments.Count != bSegments.Count)
        {
            return false;
        }
        for (var i = 0; i < aSegments.Count; i++)
        {
            var (x, y) = (aSegments[i], bSegments[i]);
            if (x.StartNs != y.StartNs || x.EndNs != y.EndNs || x.RuleId != y.RuleId || x.Rate != y.Rate || x.Amount != y.Amount)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Replaces a stored event's rating with <paramref name="rerated"/>: the row's amount and USD cost, its
    /// segments, the figures of its allocation (and parent) and the organization's sums moved by the difference, and
    /// one <c>usage.rerate</c> entry with the event before (with the digest of its stored row) and after.</summary>
    internal void Rerate(EventRow stored, EventRow rerated, List<SegmentRow> segments)
    {
        var before = JournalBefore(stored);
        Move(stored.AllocationId, stored.Status, -stored.Amount, stored.Id, IsExpired(stored));
        session.RewriteRatedEvent(rerated, segments);
        Move(rerated.AllocationId, rerated.Status, rerated.Amount, rerated.Id, IsExpired(rerated));
        Sum(stored.OrgId, checked(rerated.Amount - stored.Amount), checked((rerated.Usd ?? 0) - (stored.Usd ?? 0)));
        Log("usage.rerate", rerated, before, rerated);
    }
}
