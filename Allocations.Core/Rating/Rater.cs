using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;

namespace Allocations.Rating;

/// <summary>Prices an event against a schedule: pure, exact integer arithmetic, no I/O.</summary>
/// <remarks>
/// <para>The interval <c>[start, end)</c> is split at every rule boundary inside it. Each segment is priced
/// exactly and then rounded once, half to even, to a millionth of the allocation's unit:</para>
/// <list type="bullet">
/// <item><c>PerHour</c>: quantity × (segment nanoseconds / 3.6·10^12) × rate.</item>
/// <item><c>PerUnit</c>: quantity × (segment nanoseconds / event nanoseconds) × rate; a zero-length event takes the
/// rate at its start.</item>
/// </list>
/// <para>The event's amount is the sum of its rounded segments. Quantities and amounts are millionths, rates
/// billionths; products are formed in 128 bits (arbitrary precision when they could exceed it), so no
/// intermediate overflows; an amount beyond the 64-bit range is an error.</para>
/// </remarks>
internal static class Rater
{
    private const long NanosPerHour = 3_600_000_000_000L;

    /// <summary>The divisor of PerHour pricing. With quantity q in 10^-6, duration n in ns and rate r in 10^-9, the
    /// amount in 10^-6 is q·n·r / (3.6·10^12 · 10^9) = q·n·r / 3.6·10^21.</summary>
    private static readonly Int128 PerHourDivisor = (Int128)NanosPerHour * FixedPoint.NanoScale;

    /// <summary>Rates an event and appends its segments to <paramref name="segments"/> when given.</summary>
    /// <returns>The event's amount in millionths.</returns>
    /// <exception cref="NoRateException">Some instant of the interval has no rule in force.</exception>
    /// <exception cref="InvalidInputException">The amount would exceed the 64-bit range.</exception>
    internal static long Rate(RateSchedule schedule, RateBasis basis, long quantityMicros, long startNs, long endNs, List<SegmentNs>? segments)
    {
        if (segments is null)
        {
            var none = default(NoSegments);
            return Rate(schedule, basis, quantityMicros, startNs, endNs, ref none);
        }
        var sink = new ListSink(segments);
        return Rate(schedule, basis, quantityMicros, startNs, endNs, ref sink);
    }

    /// <summary>Rates an event into a reusable buffer (cleared first): the allocation-free form of
    /// <see cref="Rate(RateSchedule, RateBasis, long, long, long, List{SegmentNs})"/>.</summary>
    /// <returns>The event's amount in millionths.</returns>
    /// <exception cref="NoRateException">Some instant of the interval has no rule in force.</exception>
    /// <exception cref="InvalidInputException">The amount would exceed the 64-bit range.</exception>
    internal static long Rate(RateSchedule schedule, RateBasis basis, long quantityMicros, long startNs, long endNs, SegmentBuffer segments)
    {
        segments.Clear();
        var sink = segments.AsSink();
        return Rate(schedule, basis, quantityMicros, startNs, endNs, ref sink);
    }

    /// <summary>Rates an event, handing each segment to <paramref name="sink"/>; specialized per sink type.</summary>
    /// <returns>The event's amount in millionths.</returns>
    /// <exception cref="NoRateException">Some instant of the interval has no rule in force.</exception>
    /// <exception cref="InvalidInputException">The amount would exceed the 64-bit range.</exception>
    internal static long Rate<TSink>(RateSchedule schedule, RateBasis basis, long quantityMicros, long startNs, long endNs, ref TSink sink)
        where TSink : struct, ISegmentSink
    {
        try
        {
            return RateCore(schedule, basis, quantityMicros, startNs, endNs, ref sink);
        }
        catch (OverflowException ex)
        {
            throw new InvalidInputException(
                "quantity",
                FixedPoint.Format(quantityMicros, 6),
                $"the amount over this interval at the rates of '{schedule.Name}' exceeds the amount range",
                ex);
        }
    }

    private static long RateCore<TSink>(RateSchedule schedule, RateBasis basis, long q, long startNs, long endNs, ref TSink segments)
        where TSink : struct, ISegmentSink
    {
        var index = schedule.Find(startNs);
        if (index < 0)
        {
            throw new NoRateException(schedule.Name, schedule.UsdPrices, InstantCodec.FromNs(startNs));
        }
        if (startNs == endNs)
        {
            var point = basis == RateBasis.PerHour ? 0 : FixedPoint.MulMulDivRound(q, schedule.RateNanos(index), 1, FixedPoint.NanoScale);
            segments.Add(new SegmentNs(startNs, endNs, index, point));
            return point;
        }

        var duration = endNs - startNs;
        var divisor = basis == RateBasis.PerHour ? PerHourDivisor : (Int128)duration * FixedPoint.NanoScale;
        long total = 0;
        var t = startNs;
        while (true)
        {
            var segmentEnd = Math.Min(schedule.ToNs(index), endNs);
            var amount = FixedPoint.MulMulDivRound(q, segmentEnd - t, schedule.RateNanos(index), divisor);
            total = checked(total + amount);
            segments.Add(new SegmentNs(t, segmentEnd, index, amount));
            t = segmentEnd;
            if (t >= endNs)
            {
                return total;
            }
            index++;
            if (index >= schedule.Count || schedule.FromNs(index) != t)
            {
                throw new NoRateException(schedule.Name, schedule.UsdPrices, InstantCodec.FromNs(t));
            }
        }
    }

    /// <summary>Prices rated segments in USD with a unit's price schedule: each segment's amount is spread over its
    /// interval in proportion to time, split at the price rules' boundaries, and each piece rounded half to even.</summary>
    /// <returns>The USD amount in millionths.</returns>
    /// <exception cref="NoRateException">Some instant has no USD price in force.</exception>
    internal static long PriceInUsd(RateSchedule prices, ReadOnlySpan<SegmentNs> segments)
    {
        long total = 0;
        try
        {
            foreach (var segment in segments)
            {
                var none = default(NoSegments);
                total = checked(total + Rate(prices, RateBasis.PerUnit, segment.Amount, segment.StartNs, segment.EndNs, ref none));
            }
        }
        catch (InvalidInputException ex) when (ex.InnerException is OverflowException)
        {
            throw new InvalidInputException("quantity", total.ToString(CultureInfo.InvariantCulture), $"the USD cost at the prices of '{prices.Name}' exceeds the amount range", ex);
        }
        return total;
    }
}
