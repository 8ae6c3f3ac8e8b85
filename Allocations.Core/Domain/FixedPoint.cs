using System.Globalization;
using System.Numerics;
using Allocations.Exceptions;

namespace Allocations.Domain;

/// <summary>Conversions between decimal text and the integer minimum units amounts, quantities and rates use.</summary>
internal static class FixedPoint
{
    internal const long MicroScale = 1_000_000L;
    internal const long NanoScale = 1_000_000_000L;

    /// <summary>Converts a decimal to an integer count of 10^-<paramref name="decimals"/> units, refusing any
    /// value that would need rounding or does not fit in 64 bits: nothing is ever clamped.</summary>
    internal static long ToScaled(decimal value, int decimals, long scale, string field)
    {
        decimal scaled;
        try
        {
            scaled = value * scale;
        }
        catch (OverflowException ex)
        {
            throw new InvalidInputException(field, value.ToString(CultureInfo.InvariantCulture), "is too large", ex);
        }
        if (decimal.Truncate(scaled) != scaled)
        {
            throw new InvalidInputException(field, value.ToString(CultureInfo.InvariantCulture), $"has more than {decimals} decimal places");
        }
        if (scaled > long.MaxValue || scaled < long.MinValue)
        {
            throw new InvalidInputException(field, value.ToString(CultureInfo.InvariantCulture), $"is outside ±{long.MaxValue / scale}");
        }
        return (long)scaled;
    }

    internal static decimal ToDecimal(long scaledValue, long scale) => (decimal)scaledValue / scale;

    internal static string Format(long scaledValue, int decimals)
    {
        var d = (decimal)scaledValue / (decimals == 9 ? NanoScale : MicroScale);
        return d.ToString("0.#########", CultureInfo.InvariantCulture);
    }

    /// <summary>Rounds <paramref name="scaledValue"/> (in 10^-6) to <paramref name="decimals"/> places, half to even,
    /// for display only.</summary>
    internal static string FormatMicro(long scaledValue, int decimals)
    {
        var d = Math.Round((decimal)scaledValue / MicroScale, decimals, MidpointRounding.ToEven);
        return d.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    /// <summary>Computes a·b·c / d rounded half to even, exactly, for a, b, c ≥ 0 and d &gt; 0.</summary>
    /// <remarks>The product is formed in 128 bits when it provably fits and in arbitrary precision otherwise, so
    /// no intermediate overflows; a result outside 64 bits throws <see cref="OverflowException"/>.</remarks>
    internal static long MulMulDivRound(long a, long b, long c, Int128 d)
    {
        var bits = BitLength(a) + BitLength(b) + BitLength(c);
        if (bits <= 126)
        {
            var n = (Int128)a * b * c;
            if (a >= 0 && b >= 0 && c >= 0 && d > 0 && TryDivRoundSmallQuotient(n, (double)a * b * c, d, out var fast))
            {
                return fast;
            }
            var q = n / d;
            var r = n - q * d;
            var twice = r * 2;
            if (twice > d || (twice == d && !Int128.IsEvenInteger(q)))
            {
                q += 1;
            }
            return checked((long)q);
        }
        return SlowMulMulDivRound(a, b, c, d);
    }

    /// <summary>The largest quotient the fast division accepts: 2^48.</summary>
    private const double FastQuotientLimit = 281474976710656.0;

    /// <summary>Computes n / d rounded half to even without a 128-bit division, for 0 ≤ n and 0 &lt; d, when the
    /// quotient is below 2^48 (any amount under 281 million units); returns false otherwise.</summary>
    /// <remarks>
    /// <para>A 128-bit division costs about 40 ns, more than the rest of rating one event. Here a binary
    /// floating-point quotient only <em>proposes</em> a candidate; the result is decided in exact integers.
    /// <paramref name="approximateN"/> is a·b·c in doubles (at most five roundings with the conversions) and the
    /// conversion of d and the division add two more, each within 2^-53 relatively, so the candidate is within
    /// 7·2^-53 of the quotient: below 2^48 that is less than one, the floor q or q ± 1. The exact remainder r = n − candidate·d is then
    /// brought into [0, d) by at most one step, which proves the floor; rounding compares r with d − r. No result ever
    /// depends on floating-point rounding, and the property tests compare this path with BigInteger arithmetic.</para>
    /// </remarks>
    private static bool TryDivRoundSmallQuotient(Int128 n, double approximateN, Int128 d, out long result)
    {
        var estimate = approximateN / (double)d;
        if (!(estimate < FastQuotientLimit))
        {
            result = 0;
            return false;
        }
        var q = (long)estimate;

        // q ≤ n/d + 1, so q·d ≤ n + d with n < 2^126; where d ≥ 2^126, q ≤ 1. Nothing here can overflow.
        var r = n - (Int128)q * d;
        while (r < 0)
        {
            q--;
            r += d;
        }
        while (r >= d)
        {
            q++;
            r -= d;
        }
        var rest = d - r;
        if (r > rest || (r == rest && (q & 1) == 1))
        {
            q++;
        }
        result = q;
        return true;
    }

    private static long SlowMulMulDivRound(long a, long b, long c, Int128 d)
    {
        var n = new BigInteger(a) * b * c;
        var bd = (BigInteger)d;
        var q = BigInteger.DivRem(n, bd, out var r);
        var twice = r * 2;
        if (twice > bd || (twice == bd && !q.IsEven))
        {
            q += 1;
        }
        if (q > long.MaxValue)
        {
            throw new OverflowException("the rated amount does not fit in 64 bits");
        }
        return (long)q;
    }

    private static int BitLength(long v) => 64 - BitOperations.LeadingZeroCount((ulong)v);
}
