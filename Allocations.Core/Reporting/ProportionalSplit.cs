using Allocations.Domain;

namespace Allocations.Reporting;

/// <summary>Splits an amount spread over <c>[start, end)</c> in proportion to time, with the rater's arithmetic.</summary>
/// <remarks>
/// <para>The part of the amount up to instant <c>t</c> is <c>amount × (t − start) / (end − start)</c>, computed
/// exactly and rounded half to even once (<see cref="FixedPoint.MulMulDivRound"/>, as rating rounds a segment). A
/// piece <c>[a, b)</c> is <c>Upto(b) − Upto(a)</c>. Because a piece depends only on its own two edges, the pieces of
/// any partition add up to the amount exactly, and a range's total equals the sum of any buckets that tile it.</para>
/// <para>A zero-length interval holds its whole amount at its instant.</para>
/// </remarks>
internal static class ProportionalSplit
{
    /// <summary>The part of <paramref name="amount"/> that lies before <paramref name="t"/>.</summary>
    internal static long Upto(long amount, long startNs, long endNs, long t)
    {
        if (t <= startNs)
        {
            return 0;
        }
        if (t >= endNs)
        {
            return amount;
        }
        if (amount >= 0)
        {
            return FixedPoint.MulMulDivRound(amount, t - startNs, 1, endNs - startNs);
        }
        // Half to even is symmetric, so a negative amount splits as the mirror of its magnitude.
        return -FixedPoint.MulMulDivRound(checked(-amount), t - startNs, 1, endNs - startNs);
    }

    /// <summary>The piece of <paramref name="amount"/> that lies in <c>[a, b)</c>.</summary>
    internal static long Piece(long amount, long startNs, long endNs, long a, long b)
    {
        if (startNs == endNs)
        {
            return startNs >= a && startNs < b ? amount : 0;
        }
        return checked(Upto(amount, startNs, endNs, b) - Upto(amount, startNs, endNs, a));
    }
}
