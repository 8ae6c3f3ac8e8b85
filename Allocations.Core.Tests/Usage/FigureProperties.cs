using Allocations.Domain;
using Allocations.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NodaTime;

namespace Allocations.Tests.Usage;

public class FigureProperties
{
    /// <summary>One step: record (which allocation, cores, start hour, hours, estimated?, key slot or none) or
    /// delete the n-th live event.</summary>
    public sealed record Step(bool Delete, int Allocation, int Cores, int StartHour, int Hours, bool Estimated, int? Key, int Victim);

    private static readonly Gen<Step> Steps =
        from delete in Gen.Frequency((4, Gen.Constant(false)), (1, Gen.Constant(true)))
        from allocation in Gen.Choose(0, 2)
        from cores in Gen.Choose(0, 64)
        from startHour in Gen.Choose(0, 600)
        from hours in Gen.Choose(0, 72)
        from estimated in Gen.Elements(true, false)
        from key in Gen.Frequency((1, Gen.Constant<int?>(null)), (1, Gen.Choose(0, 4).Select(k => (int?)k)))
        from victim in Gen.Choose(0, 1000)
        select new Step(delete, allocation, cores, startHour, hours, estimated, key, victim);

    [Property(MaxTest = 40)]
    public Property AfterAnySequenceOfRecordsAndDeletes_FiguresVerifyAndEqualTheSumOfEvents() =>
        Prop.ForAll(Arb.From(Gen.ListOf(Steps).Select(l => l.Take(25).ToArray())), steps =>
        {
            using var t = TestStore.CreateAsync().GetAwaiter().GetResult();
            var parent = t.CreateAllocationAsync("P", 1_000m).GetAwaiter().GetResult();
            var allocations = new[] { parent, t.CreateAllocationAsync("C1", 500m, parent).GetAwaiter().GetResult(), t.CreateAllocationAsync("C2", 500m, parent).GetAwaiter().GetResult() };
            var live = new List<UsageEventId>();
            foreach (var step in steps)
            {
                if (step.Delete)
                {
                    if (live.Count == 0)
                    {
                        continue;
                    }
                    var victim = live[step.Victim % live.Count];
                    t.Store.DeleteEventAsync(TestStore.Admin, victim).GetAwaiter().GetResult();
                    live.Remove(victim);
                    continue;
                }
                var start = TestStore.November1 + Duration.FromHours(step.StartHour);
                var record = new UsageRecord(
                    allocations[step.Allocation].Id, TestStore.Cpu, Quantity.FromDecimal(step.Cores), start, start + Duration.FromHours(step.Hours),
                    step.Estimated ? UsageStatus.Estimated : UsageStatus.Confirmed, step.Key is { } k ? $"key-{k}" : null);
                try
                {
                    var result = t.Store.RecordUsageAsync(TestStore.Admin, record).GetAwaiter().GetResult();
                    if (result.Disposition == RecordDisposition.Recorded)
                    {
                        live.Add(result.Event.Id);
                    }
                }
                catch (Exceptions.ConflictException)
                {
                    // A different record under the key of a Confirmed event: refused, nothing changed.
                }
            }
            var report = t.Store.VerifyAsync(TestStore.Admin, t.Organization).GetAwaiter().GetResult();
            var table = t.Store.ListAllocationsAsync(TestStore.Admin, t.Organization).GetAwaiter().GetResult();
            var events = live.Select(id => t.Store.GetEventAsync(TestStore.Admin, id).GetAwaiter().GetResult()).ToList();
            var all = events.Where(e => e.Status == UsageStatus.Confirmed).Aggregate(Amount.Zero, (s, e) => s + e.Amount);
            var top = table.Single(a => a.Name == "P");
            return (report.IsClean && top.Used == all && live.Count == report.EventsChecked)
                .Label($"clean={report.IsClean} used={top.Used} sum={all} live={live.Count} checked={report.EventsChecked}");
        });
}
