using Allocations.Domain;
using Allocations.Rating;

namespace Allocations.Benchmarks;

/// <summary>The baseline: the rater a first version would write — rules as a list of decimal records, a linear scan
/// for the rule in force, <c>decimal</c> arithmetic and a list of segments per event.</summary>
internal sealed class NaiveDecimalRater
{
    private readonly List<(long From, long To, decimal Rate)> rules;

    internal NaiveDecimalRater(RateSchedule schedule)
    {
        rules = [];
        for (var i = 0; i < schedule.Count; i++)
        {
            rules.Add((schedule.FromNs(i), schedule.ToNs(i), schedule.RateNanos(i) / 1_000_000_000m));
        }
    }

    internal sealed record Piece(long StartNs, long EndNs, decimal Amount);

    /// <summary>Rates an event in decimal units; returns the amount in millionths (rounded per segment, half to even)
    /// and the segments as a new list, as a straightforward implementation would.</summary>
    internal (long Micros, List<Piece> Pieces) Rate(RateBasis basis, long quantityMicros, long startNs, long endNs)
    {
        var quantity = quantityMicros / 1_000_000m;
        var pieces = new List<Piece>();
        decimal total = 0;
        var t = startNs;
        while (t < endNs)
        {
            var rule = rules.First(r => r.From <= t && t < r.To);
            var segmentEnd = Math.Min(rule.To, endNs);
            var fraction = basis == RateBasis.PerHour
                ? (segmentEnd - t) / 3_600_000_000_000m
                : (decimal)(segmentEnd - t) / (endNs - startNs);
            var amount = Math.Round(quantity * fraction * rule.Rate, 6, MidpointRounding.ToEven);
            pieces.Add(new Piece(t, segmentEnd, amount));
            total += amount;
            t = segmentEnd;
        }
        return ((long)(total * 1_000_000m), pieces);
    }
}
