using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NodaTime;

namespace Allocations.Tests.Budgets;

public class PeriodProperties
{
    /// <summary>One step: set a period (on the parent or a child, bounds in hours after Nov 1, null open), or record
    /// usage (on the parent or a child, start hour, hours, per-item batch or alone).</summary>
    public sealed record Step(bool SetPeriod, int Allocation, int? From, int? To, int StartHour, int Hours, bool InBatch);

    private static readonly Gen<int?> Bound = Gen.Frequency((1, Gen.Constant<int?>(null)), (3, Gen.Choose(0, 400).Select(h => (int?)h)));

    private static readonly Gen<Step> Steps =
        from set in Gen.Frequency((1, Gen.Constant(true)), (3, Gen.Constant(false)))
        from allocation in Gen.Choose(0, 2)
        from from_ in Bound
        from to in Bound
        from start in Gen.Choose(0, 400)
        from hours in Gen.Choose(0, 48)
        from batch in Gen.Elements(true, false)
        select new Step(set, allocation, from_, to, start, hours, batch);

    private static Instant At(int hours) => TestStore.November1 + Duration.FromHours(hours);

    private static bool Holds(Instant? start, Instant? end, Instant at) => (start is not { } s || at >= s) && (end is not { } e || at < e);

    /// <summary>Whatever periods are set and whatever is recorded: every event accepted starts in its allocation's own
    /// period and in its parent's, every refused record was outside one of them, and the figures equal the sum of the
    /// accepted events.</summary>
    [Property(MaxTest = 30)]
    public Property AcceptedEvents_LieInTheirPeriods_AndTheFiguresAreTheirSum() =>
        Prop.ForAll(Arb.From(Gen.ListOf(Steps).Select(l => l.Take(30).ToArray())), steps =>
        {
            using var t = TestStore.CreateAsync().GetAwaiter().GetResult();
            var parent = t.CreateAllocationAsync("P", 1_000_000m).GetAwaiter().GetResult();
            var ids = new[] { parent.Id, t.CreateAllocationAsync("C1", 500_000m, parent).GetAwaiter().GetResult().Id, t.CreateAllocationAsync("C2", 500_000m, parent).GetAwaiter().GetResult().Id };
            var accepted = new List<UsageEventId>();
            var failures = new List<string>();
            foreach (var step in steps)
            {
                var id = ids[step.Allocation];
                if (step.SetPeriod)
                {
                    try
                    {
                        t.Store.SetPeriodAsync(TestStore.Admin, id, step.From is { } f ? At(f) : null, step.To is { } to ? At(to) : null).GetAwaiter().GetResult();
                    }
                    catch (Exception ex) when (ex is InvalidInputException or ConflictException)
                    {
                        // End not after start, outside the parent's, a child's period or an event left outside: refused.
                    }
                    continue;
                }
                var start = At(step.StartHour);
                var record = TestStore.Cpu1(parent, 1m, start, start + Duration.FromHours(step.Hours)).With(allocation: id);
                var own = t.Store.GetAllocationAsync(TestStore.Admin, id).GetAwaiter().GetResult();
                var up = own.ParentId is { } p ? t.Store.GetAllocationAsync(TestStore.Admin, p).GetAwaiter().GetResult() : own;
                var inside = Holds(own.PeriodStart, own.PeriodEnd, start) && Holds(up.PeriodStart, up.PeriodEnd, start);
                if (step.InBatch)
                {
                    var result = t.Store.RecordBatchAsync(TestStore.Admin, [record], BatchMode.PerItem).GetAwaiter().GetResult();
                    if (result.Items[0].Accepted)
                    {
                        accepted.Add(result.EventIds[0]);
                    }
                    else if (result.Items[0].Error is not OutsidePeriodException)
                    {
                        failures.Add($"refused with {result.Items[0].Error?.GetType().Name}");
                    }
                    if (result.Items[0].Accepted != inside)
                    {
                        failures.Add($"batch item at {start} on {id}: accepted {result.Items[0].Accepted}, inside {inside}");
                    }
                    continue;
                }
                try
                {
                    accepted.Add(t.Store.RecordUsageAsync(TestStore.Admin, record).GetAwaiter().GetResult().Event.Id);
                    if (!inside)
                    {
                        failures.Add($"record at {start} on {id} accepted outside the period");
                    }
                }
                catch (OutsidePeriodException ex)
                {
                    if (inside || ex.Allocation != id || ex.EventStart != start)
                    {
                        failures.Add($"record at {start} on {id} refused: {ex.Message}");
                    }
                }
            }
            var byId = ids.ToDictionary(i => i, i => t.Store.GetAllocationAsync(TestStore.Admin, i).GetAwaiter().GetResult());
            var events = accepted.Select(e => t.Store.GetEventAsync(TestStore.Admin, e).GetAwaiter().GetResult()).ToList();
            foreach (var e in events)
            {
                var own = byId[e.Allocation];
                var up = own.ParentId is { } p ? byId[p] : own;
                if (!Holds(own.PeriodStart, own.PeriodEnd, e.Interval.Start) || !Holds(up.PeriodStart, up.PeriodEnd, e.Interval.Start))
                {
                    failures.Add($"{e.Id} starts at {e.Interval.Start}, outside the periods it was recorded in");
                }
            }
            var sum = events.Aggregate(Amount.Zero, (s, e) => s + e.Amount);
            var report = t.Store.VerifyAsync(TestStore.Admin, t.Organization).GetAwaiter().GetResult();
            return (failures.Count == 0 && report.IsClean && byId[parent.Id].Used == sum)
                .Label($"failures: {string.Join("; ", failures)}; clean={report.IsClean} used={byId[parent.Id].Used} sum={sum}");
        });
}
