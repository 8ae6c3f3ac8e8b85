using Allocations.Domain;
using Allocations.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NodaTime;

namespace Allocations.Tests.Alerts;

public class AlertProperties
{
    /// <summary>One step on a parent P or its child C: record (hours of one core, Estimated or Confirmed), delete the
    /// n-th live event, change the total, or a batch of two records.</summary>
    public sealed record Step(int Kind, bool OnChild, int Hours, bool Estimated, int Victim, int Total);

    private static readonly Gen<Step> Steps =
        from kind in Gen.Frequency((5, Gen.Constant(0)), (2, Gen.Constant(1)), (1, Gen.Constant(2)), (1, Gen.Constant(3)))
        from onChild in Gen.Elements(true, false)
        from hours in Gen.Choose(0, 30)
        from estimated in Gen.Elements(true, false)
        from victim in Gen.Choose(0, 1000)
        from total in Gen.Choose(0, 150)
        select new Step(kind, onChild, hours, estimated, victim, total);

    private static readonly AlertThreshold[] Thresholds =
        [AlertThreshold.PercentUsed(50), AlertThreshold.PercentUsed(80), AlertThreshold.PercentUsed(100), AlertThreshold.Remaining(Amount.FromDecimal(10m)), AlertThreshold.Remaining(Amount.Zero)];

    /// <summary>The alerts recorded equal, in order, the crossings computed from the figures each allocation had
    /// after every step (read back with GetAllocationAsync): none lost, none invented, none repeated.</summary>
    [Property(MaxTest = 30)]
    public Property AlertSequence_EqualsTheCrossingsOfTheFigureSequence() =>
        Prop.ForAll(Arb.From(Gen.ListOf(Steps).Select(l => l.Take(20).ToArray())), steps =>
        {
            using var t = TestStore.CreateAsync().GetAwaiter().GetResult();
            var parent = t.CreateAllocationAsync("P", 100m).GetAwaiter().GetResult();
            var child = t.CreateAllocationAsync("C", 60m, parent).GetAwaiter().GetResult();
            t.Store.SetAlertThresholdsAsync(TestStore.Admin, parent.Id, Thresholds).GetAwaiter().GetResult();
            t.Store.SetAlertThresholdsAsync(TestStore.Admin, child.Id, Thresholds[..3]).GetAwaiter().GetResult();
            var thresholdsOf = new Dictionary<AllocationId, AlertThreshold[]> { [parent.Id] = Thresholds, [child.Id] = Thresholds[..3] };
            var figures = new Dictionary<AllocationId, Allocation> { [parent.Id] = parent, [child.Id] = child };
            var expected = new List<string>();
            var live = new List<UsageEventId>();
            var start = Instant.FromUtc(2026, 11, 16, 0, 0);
            foreach (var step in steps)
            {
                var on = step.OnChild ? child : parent;
                UsageRecord Record(int hours) =>
                    TestStore.Cpu1(on, 1m, start, start + Duration.FromHours(hours), step.Estimated ? UsageStatus.Estimated : UsageStatus.Confirmed);
                switch (step.Kind)
                {
                    case 0:
                        live.Add(t.Store.RecordUsageAsync(TestStore.Admin, Record(step.Hours)).GetAwaiter().GetResult().Event.Id);
                        break;
                    case 1 when live.Count > 0:
                        var victim = live[step.Victim % live.Count];
                        t.Store.DeleteEventAsync(TestStore.Admin, victim).GetAwaiter().GetResult();
                        live.Remove(victim);
                        break;
                    case 2:
                        t.Store.ChangeTotalAsync(TestStore.Admin, on.Id, Amount.FromDecimal(step.Total), "change").GetAwaiter().GetResult();
                        break;
                    case 3:
                        live.AddRange(t.Store.RecordBatchAsync(TestStore.Admin, [Record(step.Hours), Record(step.Hours / 2)]).GetAwaiter().GetResult().EventIds);
                        break;
                }
                // Crossings per allocation in id order, each allocation's thresholds in the order they are stored.
                foreach (var id in new[] { parent.Id, child.Id })
                {
                    var before = figures[id];
                    var after = t.Store.GetAllocationAsync(TestStore.Admin, id).GetAwaiter().GetResult();
                    foreach (var threshold in thresholdsOf[id].OrderBy(x => x.Kind).ThenBy(x => x.Percent ?? x.RemainingAmount!.Value.ToDecimal()))
                    {
                        bool Reached(Allocation a) => threshold.Kind == AlertThresholdKind.PercentUsed
                            ? a.Used + a.Estimated > Amount.Zero && (a.PercentUsed is not { } p || p >= threshold.Percent!.Value)
                            : a.Remaining <= threshold.RemainingAmount!.Value;
                        if (Reached(before) != Reached(after))
                        {
                            expected.Add($"{id} {threshold} {(Reached(after) ? AlertDirection.Up : AlertDirection.Down)} {after.Total}/{after.Used}/{after.Estimated}");
                        }
                    }
                    figures[id] = after;
                }
            }
            var actual = new List<string>();
            var cursor = AlertCursor.Start;
            while (true)
            {
                var page = t.Store.GetAlertsAsync(TestStore.Admin, t.Organization, cursor, pageSize: 3).GetAwaiter().GetResult();
                actual.AddRange(page.Alerts.Select(a => $"{a.Allocation} {a.Threshold} {a.Direction} {a.Total}/{a.Used}/{a.Estimated}"));
                if (page.Next == cursor)
                {
                    break;
                }
                cursor = page.Next;
            }
            return actual.SequenceEqual(expected).Label($"expected:\n{string.Join("\n", expected)}\nactual:\n{string.Join("\n", actual)}");
        });
}
