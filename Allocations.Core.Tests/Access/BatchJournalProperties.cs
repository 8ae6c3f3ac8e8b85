using Allocations.Domain;
using Allocations.Tests.Support;
using FsCheck.Xunit;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;
using static Allocations.Tests.Support.RawSqlite;

namespace Allocations.Tests.Access;

/// <summary>Properties of batch journal entries over random histories: whatever the library itself does afterwards
/// (replace, move, confirm, release, delete, more batches), the journal verifies; an edit of one field of one event
/// still recorded as its batch left it is reported at that batch's entry.</summary>
public class BatchJournalProperties
{
    private static readonly Principal Admin = TestStore.Admin;

    [Property(MaxTest = 10)]
    public bool RandomHistories_Verify_AndAnEditOfAnUntouchedBatchEventIsReportedAtItsEntry(int seed)
    {
        return Run().GetAwaiter().GetResult();

        async Task<bool> Run()
        {
            var random = new Random(seed);
            using var t = await TestStore.CreateAsync();
            var parent = await t.CreateAllocationAsync("P", 1_000_000m);
            Allocation[] allocations = [parent, await t.CreateAllocationAsync("C", 1_000_000m, parent), await t.CreateAllocationAsync("O", 1_000_000m)];
            var touched = new HashSet<long>();
            var batches = new List<(long First, long Last)>();
            var keyCount = 0;
            for (var round = 0; round < 4; round++)
            {
                var records = new List<UsageRecord>();
                for (var i = random.Next(2, 12); i > 0; i--)
                {
                    var start = TestStore.November1 + Duration.FromHours(random.Next(0, 500));
                    records.Add(new UsageRecord(
                        allocations[random.Next(allocations.Length)].Id, random.Next(3) == 0 ? TestStore.Gpu : TestStore.Cpu, Quantity.FromDecimal(random.Next(1, 9)),
                        start, start + Duration.FromHours(random.Next(0, 60)), random.Next(2) == 0 ? UsageStatus.Estimated : UsageStatus.Confirmed,
                        random.Next(4) == 0 ? null : "k" + keyCount++,
                        random.Next(2) == 0 ? null : new Dictionary<string, string> { ["user"] = "u" + random.Next(5) }));
                }
                var result = await t.Store.RecordBatchAsync(Admin, records);
                var ids = result.EventIds.Select(e => e.Value).Where(v => v > 0).ToList();
                batches.Add((ids.Min(), ids.Max()));

                // The library's own later changes to some of them.
                foreach (var id in ids.OrderBy(_ => random.Next()).Take(random.Next(0, 4)))
                {
                    var e = await t.Store.GetEventAsync(Admin, new UsageEventId(id));
                    touched.Add(id);
                    switch (random.Next(4))
                    {
                        case 0 when e.Status == UsageStatus.Estimated && e.ExternalKey is not null:
                            await t.Store.RecordUsageAsync(Admin, new UsageRecord(allocations[random.Next(allocations.Length)].Id, e.Sku, Quantity.FromDecimal(random.Next(1, 9)), e.Interval.Start, e.Interval.End, UsageStatus.Estimated, e.ExternalKey));
                            break;
                        case 1 when e.Status == UsageStatus.Estimated:
                            await t.Store.ConfirmAsync(Admin, e.Id, Quantity.FromDecimal(random.Next(1, 9)));
                            break;
                        case 2 when e.Status == UsageStatus.Estimated:
                            await t.Store.ReleaseAsync(Admin, e.Id);
                            break;
                        default:
                            await t.Store.DeleteEventAsync(Admin, e.Id);
                            break;
                    }
                }
            }
            var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
            Assert.True(verification.IsIntact, verification.Problem);
            Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);

            var candidates = batches.SelectMany(b => Enumerable.Range(0, (int)(b.Last - b.First + 1)).Select(i => b.First + i))
                .Where(id => !touched.Contains(id) && Scalar(t.Path, $"SELECT COUNT(*) FROM usage_events WHERE id = {id}") == 1).ToList();
            if (candidates.Count == 0)
            {
                return true;
            }
            var victim = candidates[random.Next(candidates.Count)];
            string[] edits = ["quantity = quantity + 1", "start_ns = start_ns - 1", "external_key = 'edited'", "attributes = '{\"user\":\"x\"}'", "source = 'slurm'", "usd = 1"];
            Execute(t.Path, $"UPDATE usage_events SET {edits[random.Next(edits.Length)]} WHERE id = {victim}");
            SqliteConnection.ClearAllPools();
            var batchOf = batches.First(b => victim >= b.First && victim <= b.Last);
            var entries = await t.Store.GetOrganizationJournalAsync(Admin, t.Organization, 0, 10_000);
            var entry = entries.Single(e => e.Action == "usage.batch" && e.Target.StartsWith($"event:{batchOf.First}..", StringComparison.Ordinal));
            var broken = await t.Store.VerifyJournalAsync(Admin, t.Organization);
            Assert.Equal(entry.Sequence, broken.FirstBrokenSequence);
            return true;
        }
    }
}
