using Allocations.Domain;
using Allocations.Exceptions;
using NodaTime;

namespace Allocations.Rating;

/// <summary>One piece of an event's interval priced by one rule, in integer nanoseconds and micro-units.</summary>
/// <param name="StartNs">Start of the piece, nanoseconds since the Unix epoch.</param>
/// <param name="EndNs">End of the piece (exclusive).</param>
/// <param name="RuleIndex">Index of the rule in its <see cref="RateSchedule"/>.</param>
/// <param name="Amount">The piece's amount in millionths, rounded half to even.</param>
internal readonly record struct SegmentNs(long StartNs, long EndNs, int RuleIndex, long Amount);

/// <summary>A SKU's rate rules (or a unit's USD prices) compiled into sorted arrays: a piecewise-constant timeline
/// with possible gaps, immutable once built.</summary>
internal sealed class RateSchedule
{
    /// <summary>Sentinel end of an open-ended rule.</summary>
    internal const long OpenEnd = long.MaxValue;

    private readonly long[] from;
    private readonly long[] to;
    private readonly long[] rates;
    private readonly long[] ruleIds;
    private int hint;

    private RateSchedule(string name, bool usdPrices, long[] from, long[] to, long[] rates, long[] ruleIds)
    {
        Name = name;
        UsdPrices = usdPrices;
        this.from = from;
        this.to = to;
        this.rates = rates;
        this.ruleIds = ruleIds;
    }

    /// <summary>Gets the SKU or unit code the schedule belongs to, for messages.</summary>
    internal string Name { get; }

    /// <summary>Gets whether the schedule holds a unit's USD prices (its name a unit code) rather than a SKU's rates.</summary>
    internal bool UsdPrices { get; }

    internal int Count => from.Length;

    internal long RuleId(int index) => ruleIds[index];

    internal long RateNanos(int index) => rates[index];

    internal long FromNs(int index) => from[index];

    internal long ToNs(int index) => to[index];

    /// <summary>Builds a schedule from rules in any order.</summary>
    /// <exception cref="ConflictException">Two rules overlap.</exception>
    internal static RateSchedule Build(string name, IEnumerable<RateRule> rules, bool usdPrices = false)
    {
        var sorted = rules.OrderBy(r => r.EffectiveFrom).ToArray();
        var from = new long[sorted.Length];
        var to = new long[sorted.Length];
        var rates = new long[sorted.Length];
        var ids = new long[sorted.Length];
        for (var i = 0; i < sorted.Length; i++)
        {
            from[i] = InstantCodec.ToNsUnchecked(sorted[i].EffectiveFrom);
            to[i] = sorted[i].EffectiveTo is { } end ? InstantCodec.ToNsUnchecked(end) : OpenEnd;
            rates[i] = sorted[i].Rate.Nanos;
            ids[i] = sorted[i].Id;
            if (i > 0 && from[i] < to[i - 1])
            {
                throw Overlap(name, sorted[i - 1], sorted[i]);
            }
        }
        return new RateSchedule(name, usdPrices, from, to, rates, ids);
    }

    /// <summary>Checks that a new rule does not overlap any of <paramref name="existing"/>.</summary>
    /// <exception cref="ConflictException">It overlaps; the message names both periods.</exception>
    internal static void CheckNoOverlap(string name, IEnumerable<RateRule> existing, Instant newFrom, Instant? newTo)
    {
        foreach (var rule in existing)
        {
            var startsBeforeEnd = newTo is null || rule.EffectiveFrom < newTo.Value;
            var endsAfterStart = rule.EffectiveTo is null || newFrom < rule.EffectiveTo.Value;
            if (startsBeforeEnd && endsAfterStart)
            {
                throw Overlap(name, rule, new RateRule(0, newFrom, newTo, default));
            }
        }
    }

    private static ConflictException Overlap(string name, RateRule a, RateRule b) =>
        new($"rate rules of '{name}' overlap: {Describe(a)} and {Describe(b)}", ["effectiveFrom", "effectiveTo"]);

    internal static string Describe(RateRule r) => $"[{r.EffectiveFrom}, {(r.EffectiveTo?.ToString() ?? "open")})";

    /// <summary>Finds the rule in force at <paramref name="ns"/>, or -1 when none is.</summary>
    /// <remarks>Events often arrive in time order, so the rule found last is tried first. The hint is a plain int
    /// field shared by every thread rating with this schedule (int reads and writes are atomic): a stale value only
    /// costs the binary search, because it is checked against the arrays before it is used.</remarks>
    internal int Find(long ns)
    {
        var h = hint;
        if ((uint)h < (uint)from.Length && from[h] <= ns && ns < to[h])
        {
            return h;
        }
        var index = Array.BinarySearch(from, ns);
        if (index < 0)
        {
            index = ~index - 1;
        }
        if (index < 0 || ns >= to[index])
        {
            return -1;
        }
        hint = index;
        return index;
    }
}
