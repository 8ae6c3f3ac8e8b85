using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;

namespace Allocations.Tests.Reliability.Model;

// Allocation periods, by the documentation: an allocation may have a period [start, end), either end open; usage is
// taken only when it starts in the allocation's own period narrowed to its parent's; recording outside is refused
// with OutsidePeriodException, a reservation or fit check answers OutsidePeriod; a child's bounds lie within its
// parent's period, and a period change that would leave a child's period or an event outside is refused.
internal sealed partial class ModelInterpreter
{
    /// <summary>Each allocation's own period as the model has it; absent for none.</summary>
    private readonly Dictionary<MAllocation, (long? StartNs, long? EndNs)> periods = [];

    private (long? StartNs, long? EndNs) OwnPeriod(MAllocation a) => periods.GetValueOrDefault(a);

    private static (long? StartNs, long? EndNs) Narrow((long? StartNs, long? EndNs) own, (long? StartNs, long? EndNs) outer) => (
        own.StartNs is { } s && outer.StartNs is { } os ? Math.Max(s, os) : own.StartNs ?? outer.StartNs,
        own.EndNs is { } e && outer.EndNs is { } oe ? Math.Min(e, oe) : own.EndNs ?? outer.EndNs);

    /// <summary>The period usage on <paramref name="a"/> must start in: its own, narrowed to its parent's.</summary>
    private (long? StartNs, long? EndNs) TakesUsageIn(MAllocation a, (long? StartNs, long? EndNs)? own = null) =>
        a.Parent is { } parent ? Narrow(own ?? OwnPeriod(a), OwnPeriod(parent)) : own ?? OwnPeriod(a);

    private static bool Holds((long? StartNs, long? EndNs) period, long ns) =>
        (period.StartNs is not { } s || ns >= s) && (period.EndNs is not { } e || ns < e);

    /// <summary>Which bound of <paramref name="inner"/> lies outside <paramref name="outer"/> ("start" first), or null.</summary>
    private static string? BoundOutside((long? StartNs, long? EndNs) inner, (long? StartNs, long? EndNs) outer)
    {
        if (inner.StartNs is { } s && !Holds(outer, s))
        {
            return "start";
        }
        return inner.EndNs is { } e && ((outer.EndNs is { } oe && e > oe) || (outer.StartNs is { } os && e <= os)) ? "end" : null;
    }

    private bool OutsidePeriod(MAllocation target, long startNs)
    {
        var outside = !Holds(TakesUsageIn(target), startNs);
        if (outside)
        {
            Tally("usage outside the period");
        }
        return outside;
    }

    private void CheckOutsidePeriod(FitCheck fit, MAllocation target, long startNs, string what)
    {
        var (start, end) = TakesUsageIn(target);
        Check(!fit.Fits && fit.OutsidePeriod, $"{what} starting at {Ns(startNs)} outside {target.Id}'s period answered {fit}");
        Check(fit.BlockedBy == target.Id, $"{what} outside the period names {fit.BlockedBy}, expected {target.Id}");
        Check(
            fit.PeriodStart == (start is { } s ? Ns(s) : null) && fit.PeriodEnd == (end is { } e ? Ns(e) : null) && fit.Start == Ns(startNs),
            $"{what} outside the period answered [{fit.PeriodStart}, {fit.PeriodEnd}) for a start at {fit.Start}, the model has [{start}, {end}) for {startNs}");
        Check(fit.Amount == Amount.Zero && fit.Shortfall == Amount.Zero, $"{what} outside the period has amount {fit.Amount} and shortfall {fit.Shortfall}");
        Tally(what + " outside the period");
    }

    private void DoSetPeriod(MAllocation target, SetPeriod op, ModelActor actor)
    {
        (long? StartNs, long? EndNs) period = (
            op.StartHour is { } sh ? T0Ns + (sh * NsPerHour) : null,
            op.EndHour is { } eh ? T0Ns + (eh * NsPerHour) : null);
        Func<Task<Allocation>> call = () => store.SetPeriodAsync(
            Actors[(int)actor], target.Id, period.StartNs is { } s ? Ns(s) : null, period.EndNs is { } e ? Ns(e) : null);
        if (period is { StartNs: { } from, EndNs: { } to } && to <= from)
        {
            Expect<InvalidInputException>(call, "end");
            return;
        }
        if (Refusal(actor, target, AccessLevel.Admin) is { } refusal)
        {
            Expect(refusal, call);
            return;
        }
        if (OwnPeriod(target) == period)
        {
            Run(call());
            Tally("period unchanged");
            return;
        }
        if (target.Parent is { } parent && BoundOutside(period, OwnPeriod(parent)) is { } bound)
        {
            Expect<InvalidInputException>(call, bound);
            Tally("period refused: outside the parent's");
            return;
        }
        var children = allocations.Where(a => a.Parent == target && !a.Deleted).ToList();
        if (children.Any(c => BoundOutside(OwnPeriod(c), period) is not null))
        {
            Expect<ConflictException>(call);
            Tally("period refused: a child's period outside");
            return;
        }
        var effective = TakesUsageIn(target, period);
        if (EventsOf(target, false).Any(e => !Holds(effective, e.StartNs))
            || children.Any(c => EventsOf(c, false).Any(e => !Holds(Narrow(OwnPeriod(c), period), e.StartNs))))
        {
            Expect<ConflictException>(call);
            Tally("period refused: an event outside");
            return;
        }
        var changed = Run(call());
        periods[target] = period;
        Tally(period is { StartNs: null, EndNs: null } ? "period cleared" : "period set");
        CheckPeriod(target, changed);
    }

    private void CheckPeriod(MAllocation a, Allocation stored)
    {
        var (start, end) = OwnPeriod(a);
        Check(
            stored.PeriodStart == (start is { } s ? Ns(s) : null) && stored.PeriodEnd == (end is { } e ? Ns(e) : null),
            $"{a.Id} period is [{stored.PeriodStart}, {stored.PeriodEnd}), the model has [{start}, {end})");
    }
}
