using System.Diagnostics;
using Allocations.Domain;
using NodaTime;

namespace Allocations.Benchmarks;

internal static partial class QuickMode
{
    /// <summary>Figures as of an instant for one allocation (a child, so its parent's history grows too) holding
    /// <paramref name="count"/> Confirmed events (written straight into the schema, see
    /// <see cref="Workload.BulkFillAsync"/>), then 200 rounds of library writes on it (a hold, its confirmation or
    /// release, a total change), the store's clock moving a minute per call: the median of 21 as-of reads at instants
    /// spread over the history (after 3 warm-ups), beside the median of as many reads of today's figures. Each as-of
    /// read is checked against the figures the store returned at that instant. The as-of read never touches events, so
    /// the bulk fill does not flatter it.</summary>
    private static async Task AsOfAsync(string directory, int count)
    {
        var path = Path.Combine(directory, "asof.db");
        var clock = new SteppingClock(Instant.FromUtc(2027, 1, 1, 0, 0));
        var fill = Stopwatch.StartNew();
        var checkpoints = new List<(Instant At, Allocation Figures)>();
        AllocationId target;
        const int rounds = 200;
        using (var setup = await AllocationStore.OpenAsync(path, new AllocationStoreOptions { DurableWrites = false, Clock = clock }))
        {
            var (org, allocations) = await Workload.SetUpAsync(setup, parents: 1);
            target = allocations[1];
            await Workload.BulkFillAsync(setup, path, org, [target], count, Workload.Months);
            foreach (var id in new[] { allocations[0], target })
            {
                // Room for the holds: the events are far more than the totals the workload sets.
                var filled = await setup.GetAllocationAsync(Workload.Admin, id);
                await setup.ChangeTotalAsync(Workload.Admin, id, filled.Used + Amount.FromDecimal(1_000_000_000m), "room for the holds");
            }
            var events = Workload.Events(rounds, seed: 5000, allocations.Length);
            for (var i = 0; i < rounds; i++)
            {
                var e = events[i];
                clock.Step();
                var hold = await setup.ReserveAsync(Workload.Admin, new UsageRecord(
                    target, Workload.Sku(e.Sku), Quantity.FromMicros(e.QuantityMicros), InstantCodec.FromNs(e.StartNs), InstantCodec.FromNs(e.EndNs), UsageStatus.Estimated));
                checkpoints.Add((clock.GetCurrentInstant(), await setup.GetAllocationAsync(Workload.Admin, target)));
                clock.Step();
                var held = hold.Event ?? throw new InvalidOperationException("the hold did not fit: " + hold);
                if (i % 2 == 0)
                {
                    await setup.ReleaseAsync(Workload.Admin, held.Id);
                }
                else
                {
                    await setup.ConfirmAsync(Workload.Admin, held.Id);
                }
                checkpoints.Add((clock.GetCurrentInstant(), await setup.GetAllocationAsync(Workload.Admin, target)));
                clock.Step();
                var current = await setup.GetAllocationAsync(Workload.Admin, target);
                await setup.ChangeTotalAsync(Workload.Admin, target, current.Total + Amount.FromDecimal(1m), "top-up");
                checkpoints.Add((clock.GetCurrentInstant(), await setup.GetAllocationAsync(Workload.Admin, target)));
            }
        }
        Print("asof_fill_s", fill.Elapsed.TotalSeconds, "F1");
        using var store = await AllocationStore.OpenAsync(path, new AllocationStoreOptions { Clock = clock });
        var random = new Random(7);
        var asOfTimes = new List<double>();
        var nowTimes = new List<double>();
        for (var i = 0; i < 24; i++)
        {
            var (at, expected) = checkpoints[random.Next(checkpoints.Count)];
            var sw = Stopwatch.StartNew();
            var then = await store.GetAllocationAsOfAsync(Workload.Admin, target, at);
            sw.Stop();
            var asOfMs = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            _ = await store.GetAllocationAsync(Workload.Admin, target);
            sw.Stop();
            if (then.Total != expected.Total || then.Used != expected.Used || then.Estimated != expected.Estimated)
            {
                throw new InvalidOperationException($"as of {at}: {then}, but the store returned {expected} then");
            }
            if (i >= 3)
            {
                asOfTimes.Add(asOfMs);
                nowTimes.Add(sw.Elapsed.TotalMilliseconds);
            }
        }
        Print("asof_events", count);
        Print("asof_writes", checkpoints.Count);
        Print("asof_ms_1m_events", Median(asOfTimes), "F3");
        Print("asof_get_allocation_now_ms", Median(nowTimes), "F3");
        Print("asof_vs_now", Median(asOfTimes) / Median(nowTimes), "F2");
    }

    /// <summary>A clock the benchmark moves: a minute per step.</summary>
    private sealed class SteppingClock(Instant start) : IClock
    {
        private Instant now = start;

        public Instant GetCurrentInstant() => now;

        internal void Step() => now += Duration.FromMinutes(1);
    }
}
