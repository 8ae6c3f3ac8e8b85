using Allocations.Domain;

namespace Allocations.Alerts;

/// <summary>Which thresholds a change of figures crosses: pure, no I/O.</summary>
internal static class Crossings
{
    /// <summary>The thresholds whose state (reached or not) differs between the figures before and after, with the
    /// direction, in the order given.</summary>
    internal static List<(AlertThreshold Threshold, AlertDirection Direction)> Between(
        long totalBefore,
        Int128 consumedBefore,
        long totalAfter,
        Int128 consumedAfter,
        IEnumerable<AlertThreshold> thresholds)
    {
        var crossed = new List<(AlertThreshold, AlertDirection)>();
        foreach (var threshold in thresholds)
        {
            var before = threshold.IsReachedBy(totalBefore, consumedBefore);
            var after = threshold.IsReachedBy(totalAfter, consumedAfter);
            if (before != after)
            {
                crossed.Add((threshold, after ? AlertDirection.Up : AlertDirection.Down));
            }
        }
        return crossed;
    }
}
