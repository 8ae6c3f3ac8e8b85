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
            if (a >= 0 && b >= 0 && c >= 0 && d > 0 && TryDivRoundNarrowDivisor(n, d, out var fast))
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

    /// <summary>Computes n / d rounded half to even for 0 ≤ n &lt; 2^126 and 0 &lt; d, when d's odd part (d without its
    /// factors of two) fits in 64 bits; returns false otherwise.</summary>
    /// <remarks>
    /// <para>A division by a 128-bit divisor costs about 45 ns, more than the rest of rating one event, while a 128-bit
    /// dividend over a 64-bit divisor takes the processor's own division (about 3 ns). The divisors of rating are
    /// 3.6·10^21 = 2^22 · 858,306,884,765,625 for PerHour and duration · 10^9 (so at least 2^9 ·) for PerUnit, so
    /// dropping the common factor 2^k brings them under 2^64: floor(n / (2^k·m)) = floor(floor(n / 2^k) / m). The
    /// remainder is then recomputed exactly as n − q·d, and rounding compares it with d − r. Integers only.</para>
    /// </remarks>
    private static bool TryDivRoundNarrowDivisor(Int128 n, Int128 d, out long result)
    {
        var shift = (int)Int128.TrailingZeroCount(d);
        var odd = (UInt128)(d >> shift);
        if (odd > ulong.MaxValue)
        {
            result = 0;
            return false;
        }
        var quotient = ((UInt128)n >> shift) / odd;
        if (quotient > long.MaxValue)
        {
            result = 0;
            return false;
        }
        var q = (long)quotient;
        var r = n - (Int128)q * d;
        var rest = d - r;
        if (r > rest || (r == rest && (q & 1) == 1))
        {
            q = checked(q + 1);
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
