using System.Numerics;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Rating;
using FsCheck.Xunit;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Rating;

/// <summary>The fast rater (struct sinks, cached rule hint, division without a 128-bit divide) against the plain
/// BigInteger reference, on random schedules and events, bit for bit.</summary>
public class RaterFastPathTests
{
    private static readonly long Base = Instant.FromUtc(2026, 1, 1, 0, 0).ToUnixTimeTicks() * 100;

    /// <summary>Draws a value from a heavy-tailed spread: mostly realistic, sometimes tiny, sometimes huge, so both the
    /// fast path and its fallbacks are exercised.</summary>
    private static long Spread(Random random, long typical, long huge) => random.Next(10) switch
    {
        0 => 0,
        1 => random.NextInt64(0, 10),
        2 => random.NextInt64(0, huge),
        3 => huge,
        _ => random.NextInt64(0, typical),
    };

    private static (RateSchedule Schedule, List<ReferenceRater.Rule> Rules) RandomSchedule(Random random)
    {
        var rules = new List<ReferenceRater.Rule>();
        var count = random.Next(1, 30);
        var t = Base + random.NextInt64(-1_000_000_000_000_000L, 1_000_000_000_000_000L);
        for (var i = 0; i < count; i++)
        {
            var length = random.Next(4) == 0 ? random.NextInt64(1, 1000) : random.NextInt64(1, 90L * 24 * 3_600_000_000_000L);
            var end = i == count - 1 && random.Next(3) == 0 ? RateSchedule.OpenEnd : t + length;
            var rate = Spread(random, 50_000_000_000L, long.MaxValue / 2);
            rules.Add(new ReferenceRater.Rule(t, end, rate));
            if (end == RateSchedule.OpenEnd)
            {
                break;
            }
            t = end + (random.Next(8) == 0 ? random.NextInt64(1, 3_600_000_000_000L) : 0); // sometimes a gap
        }
        var schedule = RateSchedule.Build("SKU", rules.Select((r, i) => new RateRule(
            i + 1,
            InstantCodec.FromNs(r.FromNs),
            r.ToNs == RateSchedule.OpenEnd ? null : InstantCodec.FromNs(r.ToNs),
            Rate.FromNanos(r.RateNanos))));
        return (schedule, rules);
    }

    private static (long Start, long End) RandomEvent(Random random, List<ReferenceRater.Rule> rules)
    {
        var first = rules[0].FromNs;
        var last = rules[^1].ToNs == RateSchedule.OpenEnd ? rules[^1].FromNs + 1_000_000_000_000_000L : rules[^1].ToNs;
        var pick = random.Next(5);
        long start = pick switch
        {
            0 => rules[random.Next(rules.Count)].FromNs, // exactly on a boundary
            1 => first - random.NextInt64(0, 1_000_000_000_000L), // possibly before the first rule
            _ => random.NextInt64(first, last),
        };
        var length = random.Next(6) switch
        {
            0 => 0,
            1 => random.NextInt64(1, 1000),
            2 => random.NextInt64(0, 400L * 24 * 3_600_000_000_000L),
            _ => random.NextInt64(3_600_000_000_000L, 72 * 3_600_000_000_000L),
        };
        return (start, start + length);
    }

    [Property(MaxTest = 400)]
    public bool FastRater_OnRandomSchedulesAndEvents_MatchesTheBigIntegerReferenceExactly(int seed, bool perHour)
    {
        var random = new Random(seed);
        var (schedule, rules) = RandomSchedule(random);
        var basis = perHour ? RateBasis.PerHour : RateBasis.PerUnit;
        var buffer = new SegmentBuffer();
        var list = new List<SegmentNs>();
        for (var e = 0; e < 25; e++)
        {
            var quantity = Spread(random, 512_000_000L, long.MaxValue);
            var (start, end) = RandomEvent(random, rules);
            var expected = ReferenceRater.Rate(rules, basis, quantity, start, end);
            long? fast = null;
            long? viaList = null;
            Exception? error = null;
            try
            {
                fast = Rater.Rate(schedule, basis, quantity, start, end, buffer);
                list.Clear();
                viaList = Rater.Rate(schedule, basis, quantity, start, end, list);
            }
            catch (NoRateException ex)
            {
                error = ex;
            }
            catch (InvalidInputException ex)
            {
                error = ex;
            }

            var (outcome, total, pieces) = expected;
            if (outcome == ReferenceRater.Outcome.NoRate)
            {
                Assert.IsType<NoRateException>(error);
                continue;
            }
            if (outcome == ReferenceRater.Outcome.Overflow)
            {
                Assert.IsType<InvalidInputException>(error);
                continue;
            }
            Assert.Null(error);
            Assert.Equal((long)total, fast);
            Assert.Equal(fast, viaList);
            Assert.Equal(pieces.Count, buffer.Count);
            Assert.Equal(pieces.Count, list.Count);
            for (var i = 0; i < pieces.Count; i++)
            {
                var expectedSegment = new SegmentNs(pieces[i].StartNs, pieces[i].EndNs, pieces[i].RuleIndex, (long)pieces[i].Amount);
                Assert.Equal(expectedSegment, buffer[i]);
                Assert.Equal(expectedSegment, list[i]);
            }
        }
        return true;
    }

    [Property(MaxTest = 1000)]
    public bool MulMulDivRound_OnRandomOperands_EqualsBigIntegerRoundHalfEven(int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < 50; i++)
        {
            var a = Spread(random, 1L << random.Next(1, 63), long.MaxValue);
            var b = Spread(random, 1L << random.Next(1, 63), long.MaxValue);
            var c = Spread(random, 1L << random.Next(1, 40), long.MaxValue);
            Int128 d = random.Next(3) switch
            {
                0 => (Int128)3_600_000_000_000L * 1_000_000_000L,
                1 => (Int128)random.NextInt64(1, long.MaxValue) * 1_000_000_000L,
                _ => random.NextInt64(1, 1L << random.Next(1, 63)),
            };
            var expected = ReferenceRater.RoundHalfEven(new BigInteger(a) * b * c, (BigInteger)d);
            if (expected > long.MaxValue)
            {
                Assert.Throws<OverflowException>(() => FixedPoint.MulMulDivRound(a, b, c, d));
            }
            else
            {
                Assert.Equal((long)expected, FixedPoint.MulMulDivRound(a, b, c, d));
            }
        }
        return true;
    }

    [Fact]
    public void MulMulDivRound_OnExactHalves_RoundsToEven()
    {
        // 5/2 = 2.5 → 2, 7/2 = 3.5 → 4, and the same at PerHour scale: 1.5 hours of 1 unit at rate 1 → 1.5 micro… exact.
        Assert.Equal(2, FixedPoint.MulMulDivRound(5, 1, 1, 2));
        Assert.Equal(4, FixedPoint.MulMulDivRound(7, 1, 1, 2));
        var perHour = (Int128)3_600_000_000_000L * 1_000_000_000L;
        Assert.Equal(2, FixedPoint.MulMulDivRound(1, 3_600_000_000_000L * 5 / 2, 1_000_000_000L, perHour));
        Assert.Equal(4, FixedPoint.MulMulDivRound(1, 3_600_000_000_000L * 7 / 2, 1_000_000_000L, perHour));
    }

    [Fact]
    public void Rate_IntoAWarmBuffer_AllocatesNothing()
    {
        var schedule = RateSchedule.Build("SKU", Enumerable.Range(0, 24).Select(m => new RateRule(
            m + 1,
            Instant.FromUtc(2026, 1, 1, 0, 0) + Duration.FromDays(30 * m),
            Instant.FromUtc(2026, 1, 1, 0, 0) + Duration.FromDays(30 * (m + 1)),
            Rate.FromNanos(1_000_000_000L + m))));
        var buffer = new SegmentBuffer();
        var start = InstantCodec.ToNsUnchecked(Instant.FromUtc(2026, 1, 1, 0, 0));
        const long hour = 3_600_000_000_000L;
        long sum = 0;
        for (var i = 0; i < 1000; i++)
        {
            sum += Rater.Rate(schedule, RateBasis.PerHour, 8_000_000, start + (i * 7 * hour), start + (i * 7 * hour) + (50 * hour), buffer);
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            sum += Rater.Rate(schedule, RateBasis.PerHour, 8_000_000, start + (i * 7 * hour), start + (i * 7 * hour) + (50 * hour), buffer);
            sum += Rater.Rate(schedule, RateBasis.PerUnit, 8_000_000, start + (i * 7 * hour), start + (i * 7 * hour) + (50 * hour), buffer);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(sum > 0);
    }
}
