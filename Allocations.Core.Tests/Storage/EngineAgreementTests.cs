using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>One workload replayed into a SQLite file and a PostgreSQL database: every outcome, figure, total, event
/// amount and segment, report line and journal verdict must be the same. Event ids are left out (a server engine takes
/// them from a sequence in blocks, so they may skip values), everything else is compared as it is.</summary>
public sealed class EngineAgreementTests
{
    private static readonly Principal Admin = TestStore.Admin;

    [PostgresFact]
    public async Task SeededWorkloads_GiveTheSameFiguresAndEventAmountsOnBothEngines()
    {
        for (var seed = 1; seed <= 4; seed++)
        {
            Assert.True(await ReplayAsync(seed));
        }
    }

    [PostgresFact]
    public async Task AFixedLongWorkload_GivesTheSameFiguresAndEventAmountsOnBothEngines() =>
        Assert.True(await ReplayAsync(20261202, operations: 300));

    private static async Task<bool> ReplayAsync(int seed, int operations = 100)
    {
        using var sqlite = await TestStore.CreateAsync(Engine.Sqlite);
        using var postgres = await TestStore.CreateAsync(Engine.Postgres);
        var outcomes = new List<string>[] { [], [] };
        var stores = new[] { sqlite, postgres };
        for (var e = 0; e < 2; e++)
        {
            var t = stores[e];
            var a = await t.CreateAllocationAsync("A", 400m);
            var b = await t.CreateAllocationAsync("B", 150m, a);
            var c = await t.CreateAllocationAsync("C", 250m);
            await t.Store.AddUsdPriceAsync(Admin, t.Organization, TestStore.CoreHours, TestStore.November1, null, Rate.FromDecimal(0.03m));
            var workload = new Workload(t, [a.Id, b.Id, c.Id], new Random(seed));
            for (var i = 0; i < operations; i++)
            {
                outcomes[e].Add(await workload.StepAsync());
            }
        }
        Assert.Equal(outcomes[0], outcomes[1]);
        Assert.Equal(await SnapshotAsync(sqlite), await SnapshotAsync(postgres));
        return true;
    }

    /// <summary>Everything a caller can read back, as text, without event ids.</summary>
    private static async Task<List<string>> SnapshotAsync(TestStore t)
    {
        var s = t.Store;
        var lines = new List<string>();
        foreach (var allocation in await s.ListAllocationsAsync(Admin, t.Organization))
        {
            lines.Add($"{allocation.Name} total {allocation.Total} used {allocation.Used} estimated {allocation.Estimated} own {allocation.OwnUsed}/{allocation.OwnEstimated}");
            foreach (var change in await s.GetTotalHistoryAsync(Admin, allocation.Id))
            {
                lines.Add($"  total {change.OldTotal} -> {change.NewTotal} by {change.Actor}: {change.Reason}");
            }
            var page = await s.ListEventsAsync(Admin, allocation.Id, new EventQuery(pageSize: 1000));
            foreach (var e in page.Events)
            {
                lines.Add($"  {e.ExternalKey} {e.Sku} {e.Quantity} {e.Interval} {e.Status} {e.Amount} usd {e.UsdAmount} [{string.Join(", ", e.Segments.Select(g => $"{g.Interval} {g.Rate} {g.Amount}"))}]");
            }
        }
        foreach (var group in new[] { ReportGroups.Allocation | ReportGroups.Sku, ReportGroups.Status })
        {
            var report = await s.GetUsageReportAsync(Admin, new UsageReportRequest(t.Organization, TestStore.November1, TestStore.November1 + Duration.FromDays(30)) { GroupBy = group, Bucket = CalendarBucket.Week });
            lines.AddRange(report.Rows.Select(r => $"report {r.AllocationName} {r.Sku} {r.Status} {r.Period} {r.Amount} {r.Usd} {r.Events}"));
            lines.AddRange(report.Totals.Select(r => $"total {r}"));
        }
        lines.AddRange((await s.GetAllocationTableAsync(Admin, t.Organization)).Select(r => $"table {r}"));
        var verify = await s.VerifyAsync(Admin, t.Organization);
        lines.Add($"verify {verify.IsClean} {string.Join("; ", verify.Discrepancies)}");
        var journal = await s.VerifyJournalAsync(Admin, t.Organization);
        lines.Add($"journal {journal.IsIntact} {journal.EntriesChecked} {journal.Problem}");
        return lines;
    }

    /// <summary>A random but seeded mix of every recording call, transfers and total changes; each step returns its
    /// outcome as text (without ids).</summary>
    private sealed class Workload(TestStore t, AllocationId[] allocations, Random random)
    {
        private readonly List<UsageEventId> holds = [];
        private readonly List<UsageEventId> events = [];
        private int keys;

        private AllocationId Any() => allocations[random.Next(allocations.Length)];

        private UsageRecord Record(UsageStatus status, string? key = null)
        {
            var sku = random.Next(3) switch { 0 => TestStore.Cpu, 1 => TestStore.Gpu, _ => TestStore.License };
            var start = TestStore.November1 + Duration.FromMinutes(random.Next(0, 28 * 24 * 60));
            var end = start + Duration.FromMinutes(random.Next(0, 3 * 24 * 60));
            var quantity = Quantity.FromMicros(random.Next(1, 40) * 250_000L + random.Next(0, 1000));
            return new UsageRecord(Any(), sku, quantity, start, end, status, key ?? (random.Next(3) == 0 ? null : "k" + random.Next(0, keys + 2)));
        }

        internal async Task<string> StepAsync()
        {
            var s = t.Store;
            try
            {
                switch (random.Next(10))
                {
                    case 0 or 1:
                        var reserved = await s.ReserveAsync(Admin, Record(UsageStatus.Estimated, "h" + keys++));
                        if (reserved.Event is { } hold)
                        {
                            holds.Add(hold.Id);
                        }
                        return $"reserve {reserved.Reserved} {reserved.Event?.Amount}";
                    case 2 or 3:
                        var recorded = await s.RecordUsageAsync(Admin, Record(random.Next(2) == 0 ? UsageStatus.Confirmed : UsageStatus.Estimated));
                        events.Add(recorded.Event.Id);
                        keys++;
                        return $"record {recorded.Disposition} {recorded.Event.Amount}";
                    case 4:
                        // Now and then a batch large enough for a server engine's bulk path.
                        var size = random.Next(8) == 0 ? random.Next(300, 700) : random.Next(1, 30);
                        var batch = await s.RecordBatchAsync(Admin, Enumerable.Range(0, size).Select(_ => Record(UsageStatus.Confirmed)).ToList());
                        events.AddRange(batch.EventIds);
                        keys += 3;
                        return $"batch {batch.EventIds.Count}";
                    case 5 when holds.Count > 0:
                        var confirmed = await s.ConfirmAsync(Admin, Take(holds), random.Next(2) == 0 ? null : Quantity.FromMicros(random.Next(1, 20) * 100_000L));
                        return $"confirm {confirmed.Status} {confirmed.Event.Amount}";
                    case 6 when holds.Count > 0:
                        return $"release {(await s.ReleaseAsync(Admin, Take(holds))).Amount}";
                    case 7 when events.Count > 0:
                        await s.DeleteEventAsync(Admin, Take(events));
                        return "delete";
                    case 8:
                        var transfer = await s.TransferAsync(Admin, allocations[0], allocations[2], Amount.FromMicros(random.Next(1, 50) * 1_000_000L), "rebalance", force: random.Next(4) == 0);
                        return $"transfer {transfer.Amount} {transfer.Forced}";
                    default:
                        var allocation = await s.ChangeTotalAsync(Admin, Any(), Amount.FromMicros(random.Next(50, 500) * 1_000_000L), "review");
                        return $"total {allocation.Total}";
                }
            }
            catch (AllocationsException ex)
            {
                // The same refusal on both engines: its type and message (no engine text is in either), event ids aside.
                return $"{ex.GetType().Name}: {System.Text.RegularExpressions.Regex.Replace(ex.Message, @"event:\d+", "event:#")}";
            }
        }

        private UsageEventId Take(List<UsageEventId> list)
        {
            var index = random.Next(list.Count);
            var id = list[index];
            list.RemoveAt(index);
            return id;
        }
    }
}
