using System.Numerics;
using Allocations.Domain;

namespace Allocations.Tests.Rating;

/// <summary>The rating rules (docs/rating.md) written the plainest way, in BigInteger, as the oracle for the fast
/// rater: linear search for the rule in force, one exact quotient per segment, half-to-even rounding by
/// comparison.</summary>
internal static class ReferenceRater
{
    private static readonly BigInteger NanosPerHour = 3_600_000_000_000L;
    private static readonly BigInteger Billion = 1_000_000_000L;

    internal sealed record Rule(long FromNs, long ToNs, long RateNanos);

    internal sealed record Piece(long StartNs, long EndNs, int RuleIndex, BigInteger Amount);

    internal enum Outcome
    {
        Rated,
        NoRate,
        Overflow,
    }

    /// <summary>Rates an event, segment by segment; stops at the first instant without a rule (NoRate) or the first
    /// segment or running total beyond 64 bits (Overflow), whichever comes first in time.</summary>
    internal static (Outcome Outcome, BigInteger Total, List<Piece> Pieces) Rate(IReadOnlyList<Rule> sortedRules, RateBasis basis, long quantity, long startNs, long endNs)
    {
        var pieces = new List<Piece>();
        var at = RuleAt(sortedRules, startNs);
        if (at < 0)
        {
            return (Outcome.NoRate, 0, pieces);
        }
        if (startNs == endNs)
        {
            var point = basis == RateBasis.PerHour ? BigInteger.Zero : RoundHalfEven(new BigInteger(quantity) * sortedRules[at].RateNanos, Billion);
            pieces.Add(new Piece(startNs, endNs, at, point));
            return (point > long.MaxValue ? Outcome.Overflow : Outcome.Rated, point, pieces);
        }
        BigInteger total = 0;
        var t = startNs;
        while (t < endNs)
        {
            var index = RuleAt(sortedRules, t);
            if (index < 0)
            {
                return (Outcome.NoRate, total, pieces);
            }
            var rule = sortedRules[index];
            var segmentEnd = Math.Min(rule.ToNs, endNs);
            var numerator = new BigInteger(quantity) * (segmentEnd - t) * rule.RateNanos;
            var denominator = basis == RateBasis.PerHour ? NanosPerHour * Billion : new BigInteger(endNs - startNs) * Billion;
            var amount = RoundHalfEven(numerator, denominator);
            pieces.Add(new Piece(t, segmentEnd, index, amount));
            total += amount;
            if (amount > long.MaxValue || total > long.MaxValue)
            {
                return (Outcome.Overflow, total, pieces);
            }
            t = segmentEnd;
        }
        return (Outcome.Rated, total, pieces);
    }

    private static int RuleAt(IReadOnlyList<Rule> rules, long ns)
    {
        for (var i = 0; i < rules.Count; i++)
        {
            if (rules[i].FromNs <= ns && ns < rules[i].ToNs)
            {
                return i;
            }
        }
        return -1;
    }

    internal static BigInteger RoundHalfEven(BigInteger numerator, BigInteger denominator)
    {
        var quotient = BigInteger.DivRem(numerator, denominator, out var remainder);
        var twice = remainder * 2;
        if (twice > denominator || (twice == denominator && !quotient.IsEven))
        {
            quotient += 1;
        }
        return quotient;
    }
}
