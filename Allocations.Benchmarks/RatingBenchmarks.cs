using Allocations.Domain;
using Allocations.Rating;
using BenchmarkDotNet.Attributes;

namespace Allocations.Benchmarks;

/// <summary>The rating hot path: each benchmark rates <see cref="EventsPerInvoke"/> events into a reusable segment
/// buffer and returns the sum of the amounts, so nothing is optimized away.</summary>
[MemoryDiagnoser]
public class RatingBenchmarks
{
    /// <summary>Events rated per benchmark invocation.</summary>
    public const int EventsPerInvoke = 4096;

    private readonly SegmentBuffer buffer = new();
    private RateSchedule single = null!;
    private RateSchedule[] schedules = null!;
    private NaiveDecimalRater[] naive = null!;
    private Workload.RawEvent[] events = null!;
    private Workload.RawEvent[] crossing = null!;

    /// <summary>Builds the schedules and the events.</summary>
    [GlobalSetup]
    public void Setup()
    {
        single = Workload.SingleRule();
        schedules = Enumerable.Range(0, Workload.SkuCount).Select(Workload.Schedule).ToArray();
        naive = schedules.Select(s => new NaiveDecimalRater(s)).ToArray();
        events = Workload.Events(EventsPerInvoke, seed: 1);
        crossing = CrossingEvents(EventsPerInvoke);
    }

    /// <summary>Events that each straddle one month boundary of the 24-rule schedule.</summary>
    internal static Workload.RawEvent[] CrossingEvents(int count)
    {
        var random = new Random(2);
        var result = new Workload.RawEvent[count];
        const long hour = 3_600_000_000_000L;
        for (var i = 0; i < count; i++)
        {
            var boundary = InstantCodec.ToNsUnchecked(Workload.MonthStart(random.Next(1, Workload.Months)));
            var before = random.NextInt64(1, 36) * hour;
            var after = random.NextInt64(1, 36) * hour;
            result[i] = new Workload.RawEvent(0, random.Next(Workload.SkuCount), random.Next(1, 129) * 1_000_000L, boundary - before, boundary + after, "", "");
        }
        return result;
    }

    /// <summary>One open-ended rule, PerHour: one segment per event.</summary>
    [Benchmark(OperationsPerInvoke = EventsPerInvoke)]
    public long OneRule() => RateSingle(single, events, buffer);

    /// <summary>Every event crosses one rule boundary: two segments.</summary>
    [Benchmark(OperationsPerInvoke = EventsPerInvoke)]
    public long BoundaryCrossing() => RateMixed(schedules, crossing, buffer);

    /// <summary>The 24-rule schedules of 8 SKUs (PerHour and PerUnit), events anywhere in the two years.</summary>
    [Benchmark(OperationsPerInvoke = EventsPerInvoke)]
    public long Mix24Rules() => RateMixed(schedules, events, buffer);

    /// <summary>The same mix rated by the naive decimal rater.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = EventsPerInvoke)]
    public long NaiveDecimalMix() => RateNaive(naive, events);

    internal static long RateSingle(RateSchedule schedule, Workload.RawEvent[] events, SegmentBuffer buffer)
    {
        long sum = 0;
        foreach (ref readonly var e in events.AsSpan())
        {
            sum += Rater.Rate(schedule, RateBasis.PerHour, e.QuantityMicros, e.StartNs, e.EndNs, buffer);
        }
        return sum;
    }

    internal static long RateMixed(RateSchedule[] schedules, Workload.RawEvent[] events, SegmentBuffer buffer)
    {
        long sum = 0;
        foreach (ref readonly var e in events.AsSpan())
        {
            sum += Rater.Rate(schedules[e.Sku], Workload.Basis(e.Sku), e.QuantityMicros, e.StartNs, e.EndNs, buffer);
        }
        return sum;
    }

    internal static long RateNaive(NaiveDecimalRater[] raters, Workload.RawEvent[] events)
    {
        long sum = 0;
        foreach (ref readonly var e in events.AsSpan())
        {
            sum += raters[e.Sku].Rate(Workload.Basis(e.Sku), e.QuantityMicros, e.StartNs, e.EndNs).Micros;
        }
        return sum;
    }
}
