using System.Numerics;

namespace Allocations.Tests.Reliability.Model;

/// <summary>One rate rule of the model's catalogue: <c>[FromNs, ToNs)</c> at <c>RateNanos</c> billionths.</summary>
internal sealed record ModelRule(long FromNs, long? ToNs, long RateNanos)
{
    internal bool Covers(long ns) => ns >= FromNs && (ToNs is null || ns < ToNs.Value);
}

/// <summary>A SKU of the model: PerHour or PerUnit, with a fixed list of rules (possibly with gaps).</summary>
internal sealed record ModelSku(string Code, bool PerHour, IReadOnlyList<ModelRule> Rules);

/// <summary>The model's own rater, written from the documented rating rules (docs/rating.md) and not from the library:
/// split the interval at every rule boundary, price each piece exactly with <see cref="BigInteger"/>, round each piece
/// half to even to a millionth, and add the rounded pieces. Returns null where some instant has no rule (the store must
/// refuse).</summary>
internal static class ModelRater
{
    private static readonly BigInteger NanosPerHour = new(3_600_000_000_000L);
    private static readonly BigInteger RateScale = new(1_000_000_000L);

    internal static long? Rate(ModelSku sku, long quantityMicros, long startNs, long endNs)
    {
        if (startNs == endNs)
        {
            var rule = sku.Rules.FirstOrDefault(r => r.Covers(startNs));
            if (rule is null)
            {
                return null;
            }
            // A zero-length PerHour event lasts no hours; a zero-length PerUnit event takes the rate at its start.
            return sku.PerHour ? 0 : RoundHalfEven(new BigInteger(quantityMicros) * rule.RateNanos, RateScale);
        }
        BigInteger total = BigInteger.Zero;
        var t = startNs;
        while (t < endNs)
        {
            var rule = sku.Rules.FirstOrDefault(r => r.Covers(t));
            if (rule is null)
            {
                return null;
            }
            var pieceEnd = rule.ToNs is { } to && to < endNs ? to : endNs;
            var numerator = new BigInteger(quantityMicros) * (pieceEnd - t) * rule.RateNanos;
            var denominator = sku.PerHour ? NanosPerHour * RateScale : new BigInteger(endNs - startNs) * RateScale;
            total += RoundHalfEven(numerator, denominator);
            t = pieceEnd;
        }
        return (long)total;
    }

    internal static long RoundHalfEven(BigInteger numerator, BigInteger denominator)
    {
        var quotient = BigInteger.DivRem(numerator, denominator, out var remainder);
        var twice = remainder * 2;
        if (twice > denominator || (twice == denominator && !quotient.IsEven))
        {
            quotient += 1;
        }
        return (long)quotient;
    }
}
