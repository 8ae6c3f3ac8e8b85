using Allocations.Domain;
using Allocations.Storage;
using NodaTime;

namespace Allocations.Budgets;

/// <summary>A period <c>[StartNs, EndNs)</c> in store nanoseconds; a null bound is open. The default value is the whole
/// timeline (no period).</summary>
internal readonly record struct Period(long? StartNs, long? EndNs)
{
    /// <summary>The allocation's own period.</summary>
    internal static Period Of(AllocationRow row) => new(row.PeriodStartNs, row.PeriodEndNs);

    /// <summary>The period usage of <paramref name="row"/> must start in: its own within its parent's.</summary>
    internal static Period Effective(AllocationRow row, AllocationRow? parent) =>
        parent is null ? Of(row) : Of(row).Within(Of(parent));

    internal bool IsOpen => StartNs is null && EndNs is null;

    internal Instant? Start => StartNs is { } s ? InstantCodec.FromNs(s) : null;

    internal Instant? End => EndNs is { } e ? InstantCodec.FromNs(e) : null;

    internal bool Contains(long ns) => (StartNs is not { } s || ns >= s) && (EndNs is not { } e || ns < e);

    /// <summary>Whether this period lies within <paramref name="outer"/> (an open bound lies within only an open one).</summary>
    internal bool LiesWithin(Period outer) =>
        (outer.StartNs is not { } os || (StartNs is { } s && s >= os)) && (outer.EndNs is not { } oe || (EndNs is { } e && e <= oe));

    /// <summary>Whether the two periods share an instant.</summary>
    internal bool Overlaps(Period other) =>
        (EndNs is not { } e || other.StartNs is not { } os || os < e) && (other.EndNs is not { } oe || StartNs is not { } s || s < oe);

    /// <summary>This period narrowed to <paramref name="outer"/>'s bounds.</summary>
    internal Period Within(Period outer) => new(
        StartNs is { } s && outer.StartNs is { } os ? Math.Max(s, os) : StartNs ?? outer.StartNs,
        EndNs is { } e && outer.EndNs is { } oe ? Math.Min(e, oe) : EndNs ?? outer.EndNs);

    /// <summary>The period as text: <c>[2026-01-01T00:00:00Z, 2027-01-01T00:00:00Z)</c>, an open bound shown as ∞.</summary>
    public override string ToString() => Format(Start, End);

    internal static string Format(Instant? start, Instant? end) =>
        $"[{(start is { } s ? s.ToString() : "-∞")}, {(end is { } e ? e.ToString() : "∞")})";
}
