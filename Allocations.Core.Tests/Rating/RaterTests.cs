using System.Numerics;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Rating;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Rating;

public class RaterTests
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 11, 1, 0, 0);

    private static readonly List<SegmentNs>? NoSegments = null;

    private static long Ns(Instant i) => InstantCodec.ToNsUnchecked(i);

    private static RateSchedule Schedule(params (int FromHour, int? ToHour, decimal Rate)[] rules) =>
        RateSchedule.Build("SKU", rules.Select((r, i) => new RateRule(
            i + 1,
            T0 + Duration.FromHours(r.FromHour),
            r.ToHour is { } to ? T0 + Duration.FromHours(to) : null,
            Rate.FromDecimal(r.Rate))));

    [Fact]
    public void PerHour_WithinOneRule_IsQuantityTimesHoursTimesRate()
    {
        var schedule = Schedule((0, null, 1.5m));
        var segments = new List<SegmentNs>();
        var amount = Rater.Rate(schedule, RateBasis.PerHour, Quantity.FromDecimal(4m).Micros, Ns(T0), Ns(T0 + Duration.FromMinutes(90)), segments);
        Assert.Equal(Amount.FromDecimal(9m).Micros, amount); // 4 × 1.5 h × 1.5
        Assert.Single(segments);
    }

    [Fact]
    public void PerHour_AcrossTwoBoundaries_SplitsIntoThreeSegmentsEachAtItsRule()
    {
        var schedule = Schedule((0, 10, 1m), (10, 20, 2m), (20, null, 3m));
        var segments = new List<SegmentNs>();
        var amount = Rater.Rate(schedule, RateBasis.PerHour, Quantity.FromDecimal(1m).Micros, Ns(T0 + Duration.FromHours(5)), Ns(T0 + Duration.FromHours(25)), segments);
        Assert.Equal(new long[] { 5_000_000, 20_000_000, 15_000_000 }, segments.Select(s => s.Amount));
        Assert.Equal(new[] { 0, 1, 2 }, segments.Select(s => s.RuleIndex));
        Assert.Equal(40_000_000, amount);
        Assert.Equal(Ns(T0 + Duration.FromHours(10)), segments[0].EndNs);
        Assert.Equal(segments[0].EndNs, segments[1].StartNs);
    }

    [Fact]
    public void PerUnit_AcrossBoundary_SpreadsQuantityInProportionToTime()
    {
        var schedule = Schedule((0, 10, 10m), (10, null, 20m));
        var segments = new List<SegmentNs>();
        // 3 units over [8h, 12h): half the time at 10, half at 20.
        var amount = Rater.Rate(schedule, RateBasis.PerUnit, Quantity.FromDecimal(3m).Micros, Ns(T0 + Duration.FromHours(8)), Ns(T0 + Duration.FromHours(12)), segments);
        Assert.Equal(new long[] { 15_000_000, 30_000_000 }, segments.Select(s => s.Amount));
        Assert.Equal(45_000_000, amount);
    }

    [Fact]
    public void PerUnit_ZeroLength_TakesTheRateAtStart()
    {
        var schedule = Schedule((0, 10, 10m), (10, null, 20m));
        var at = Ns(T0 + Duration.FromHours(10));
        Assert.Equal(40_000_000, Rater.Rate(schedule, RateBasis.PerUnit, Quantity.FromDecimal(2m).Micros, at, at, NoSegments));
    }

    [Fact]
    public void PerHour_ZeroLength_IsZero()
    {
        var at = Ns(T0 + Duration.FromHours(3));
        Assert.Equal(0, Rater.Rate(Schedule((0, null, 7m)), RateBasis.PerHour, Quantity.FromDecimal(2m).Micros, at, at, NoSegments));
    }

    [Fact]
    public void Rounding_IsHalfToEvenPerSegment()
    {
        var schedule = Schedule((0, null, 1m));
        // A quantity of one millionth at rate 1: 30 min = 0.5 µ → 0 (even); 90 min = 1.5 µ → 2; 150 min = 2.5 µ → 2.
        Assert.Equal(0, Rater.Rate(schedule, RateBasis.PerHour, 1, Ns(T0), Ns(T0 + Duration.FromMinutes(30)), NoSegments));
        Assert.Equal(2, Rater.Rate(schedule, RateBasis.PerHour, 1, Ns(T0), Ns(T0 + Duration.FromMinutes(90)), NoSegments));
        Assert.Equal(2, Rater.Rate(schedule, RateBasis.PerHour, 1, Ns(T0), Ns(T0 + Duration.FromMinutes(150)), NoSegments));
        Assert.Equal(1, Rater.Rate(schedule, RateBasis.PerHour, 1, Ns(T0), Ns(T0 + Duration.FromMinutes(31)), NoSegments));
    }

    [Fact]
    public void Gap_BetweenRules_ThrowsNoRateNamingSkuAndInstant()
    {
        var schedule = Schedule((0, 10, 1m), (12, null, 1m));
        var ex = Assert.Throws<NoRateException>(() => Rater.Rate(schedule, RateBasis.PerHour, 1_000_000, Ns(T0 + Duration.FromHours(9)), Ns(T0 + Duration.FromHours(13)), NoSegments));
        Assert.Equal("SKU", ex.Schedule);
        Assert.Equal(T0 + Duration.FromHours(10), ex.Instant);
    }

    [Fact]
    public void BeforeFirstRule_ThrowsNoRate()
    {
        var ex = Assert.Throws<NoRateException>(() => Rater.Rate(Schedule((5, null, 1m)), RateBasis.PerHour, 1, Ns(T0), Ns(T0 + Duration.FromHours(6)), NoSegments));
        Assert.Equal(T0, ex.Instant);
    }

    [Fact]
    public void HugeProducts_AreExactThroughTheWidePath()
    {
        // 9e12 units × 100 years × rate 1e3: the 128-bit product overflows, the arbitrary-precision path does not.
        var schedule = RateSchedule.Build("BIG", [new RateRule(1, InstantCodec.MinSupported, null, Rate.FromDecimal(0.000000001m))]);
        var q = Quantity.FromDecimal(9_000_000_000_000m).Micros;
        var start = Ns(T0);
        var end = Ns(T0 + Duration.FromHours(1));
        Assert.Equal(9_000_000_000L, Rater.Rate(schedule, RateBasis.PerHour, q, start, end, NoSegments)); // 9e12 × 1 h × 1e-9 = 9000 units
    }

    [Fact]
    public void AmountBeyondRange_IsAnInvalidQuantityNotAWrap()
    {
        var schedule = Schedule((0, null, 1000m));
        var ex = Assert.Throws<InvalidInputException>(() => Rater.Rate(schedule, RateBasis.PerHour, Quantity.FromDecimal(9_000_000_000_000m).Micros, Ns(T0), Ns(T0 + Duration.FromDays(365)), NoSegments));
        Assert.Equal("quantity", ex.Field);
        Assert.IsType<OverflowException>(ex.InnerException);
    }

    [Fact]
    public void OverlappingRules_AreRefusedNamingBothPeriods()
    {
        var ex = Assert.Throws<ConflictException>(() => Schedule((0, 10, 1m), (5, null, 2m)));
        Assert.Contains((T0 + Duration.FromHours(5)).ToString(), ex.Message);
        Assert.Contains((T0 + Duration.FromHours(10)).ToString(), ex.Message);
    }

    // ---- Properties ----

    private static readonly Gen<(RateSchedule Schedule, long[] Boundaries)> Schedules =
        from count in Gen.Choose(1, 8)
        from lengths in Gen.ArrayOf(Gen.Choose(1, 72), count)
        from rates in Gen.ArrayOf(Gen.Choose(0, 5_000_000), count)
        select BuildContiguous(lengths, rates);

    private static (RateSchedule, long[]) BuildContiguous(int[] lengthsHours, int[] ratesMicro)
    {
        var rules = new List<RateRule>();
        var boundaries = new List<long> { Ns(T0) };
        var at = T0;
        for (var i = 0; i < lengthsHours.Length; i++)
        {
            var end = at + Duration.FromHours(lengthsHours[i]);
            rules.Add(new RateRule(i + 1, at, i == lengthsHours.Length - 1 ? null : end, Rate.FromNanos(ratesMicro[i] * 1000L)));
            boundaries.Add(Ns(end));
            at = end;
        }
        return (RateSchedule.Build("P", rules), boundaries.ToArray());
    }

    private static readonly Gen<(RateSchedule Schedule, long Quantity, long Start, long End, long Split, RateBasis Basis)> Events =
        from s in Schedules
        from q in Gen.Choose(0, 2_000_000_000)
        from a in Gen.Choose(0, 600 * 3600)
        from b in Gen.Choose(0, 600 * 3600)
        from m in Gen.Choose(0, 1000)
        from basis in Gen.Elements(RateBasis.PerHour, RateBasis.PerUnit)
        let start = Ns(T0) + Math.Min(a, b) * 1_000_000_000L + 123
        let end = Ns(T0) + Math.Max(a, b) * 1_000_000_000L + 123
        select (s.Schedule, (long)q * 1000, start, end, start + (end - start) * m / 1000, basis);

    [Property(MaxTest = 500)]
    public Property EventAmount_EqualsSumOfItsSegments() => Prop.ForAll(Arb.From(Events), e =>
    {
        var segments = new List<SegmentNs>();
        var amount = Rater.Rate(e.Schedule, e.Basis, e.Quantity, e.Start, e.End, segments);
        return amount == segments.Sum(s => s.Amount)
            && (e.Start == e.End || (segments[0].StartNs == e.Start && segments[^1].EndNs == e.End
                && segments.Zip(segments.Skip(1)).All(p => p.First.EndNs == p.Second.StartNs)));
    });

    [Property(MaxTest = 500)]
    public Property SplittingAPerHourEvent_ChangesTheTotalByAtMostOneUnitPerExtraSegment() => Prop.ForAll(Arb.From(Events), e =>
    {
        var whole = new List<SegmentNs>();
        var left = new List<SegmentNs>();
        var right = new List<SegmentNs>();
        var total = Rater.Rate(e.Schedule, RateBasis.PerHour, e.Quantity, e.Start, e.End, whole);
        var parts = Rater.Rate(e.Schedule, RateBasis.PerHour, e.Quantity, e.Start, e.Split, left)
            + Rater.Rate(e.Schedule, RateBasis.PerHour, e.Quantity, e.Split, e.End, right);
        var extra = left.Count + right.Count - whole.Count;
        return Math.Abs(total - parts) <= Math.Max(extra, 0);
    });

    [Property(MaxTest = 500)]
    public Property Rating_MatchesAnArbitraryPrecisionReference() => Prop.ForAll(Arb.From(Events), e =>
    {
        var segments = new List<SegmentNs>();
        Rater.Rate(e.Schedule, e.Basis, e.Quantity, e.Start, e.End, segments);
        foreach (var s in segments)
        {
            var rate = new BigInteger(e.Schedule.RateNanos(s.RuleIndex));
            BigInteger numerator, denominator;
            if (e.Start == e.End)
            {
                numerator = e.Basis == RateBasis.PerHour ? 0 : e.Quantity * rate;
                denominator = 1_000_000_000;
            }
            else if (e.Basis == RateBasis.PerHour)
            {
                numerator = e.Quantity * (BigInteger)(s.EndNs - s.StartNs) * rate;
                denominator = BigInteger.Parse("3600000000000000000000");
            }
            else
            {
                numerator = e.Quantity * (BigInteger)(s.EndNs - s.StartNs) * rate;
                denominator = (BigInteger)(e.End - e.Start) * 1_000_000_000;
            }
            var expected = (long)HalfEven(numerator, denominator);
            if (expected != s.Amount)
            {
                return false;
            }
        }
        return true;
    });

    private static BigInteger HalfEven(BigInteger n, BigInteger d)
    {
        var q = BigInteger.DivRem(n, d, out var r);
        var twice = 2 * r;
        return twice > d || (twice == d && !q.IsEven) ? q + 1 : q;
    }
}
