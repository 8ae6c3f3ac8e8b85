using System.Globalization;
using Allocations.Domain;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reliability;

/// <summary>A worker process with many concurrent callers, whose writes share group commits, is killed with SIGKILL at
/// random moments: after each kill every acknowledged call is in the file, whole, no call that failed left anything,
/// and the figures and the journal verify.</summary>
public sealed class GroupCommitCrashTests : IDisposable
{
    private const long Unit = 1_000_000;

    /// <summary>The instant the worker's events start at (StressWorker/Worker.cs, EventStart).</summary>
    private static readonly Instant EventStart = Instant.FromUtc(2026, 11, 16, 0, 0);
    private readonly string directory = TestStore.NewDirectory();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>What a group-mode call was, written here again from the worker's documented rule
    /// (StressWorker/Worker.cs, GroupCall and GroupItem) so the expectations do not come from the code under test.</summary>
    private static (string Allocation, long Amount) Item(int caller, int call, int item) =>
        (item == 2 ? "P" : $"C{(caller + item) % 3}", (1 + ((call + item + caller) % 5)) * Unit);

    [Fact]
    public async Task KilledDuringGroupCommits_EveryAcknowledgedCallIsThereWhole_AndNoFailedCallLeftAnything()
    {
        var path = Path.Combine(directory, "group.db");
        var org = await StressWorker.CreateDatabaseAsync(path, 100_000_000 * Unit, [30_000_000 * Unit, 30_000_000 * Unit, 30_000_000 * Unit]);
        using (var store = await AllocationStore.OpenAsync(path))
        {
            var c0 = (await store.ListAllocationsAsync(StressWorker.Admin, org)).Single(a => a.Name == "C0");
            await store.RecordUsageAsync(StressWorker.Admin, new UsageRecord(
                c0.Id, StressWorker.Sku, Quantity.FromMicros(Unit), EventStart, EventStart + Duration.FromHours(1), UsageStatus.Confirmed, "anchor"));
        }
        SqliteConnection.ClearAllPools();

        var kills = ModelBasedTests.SequenceCount(12);
        var random = new Random(20261202);
        var acknowledged = new HashSet<string>(StringComparer.Ordinal);
        var sharedCommits = 0;
        var groupLines = new List<string>();
        var failedCalls = 0;
        for (var kill = 0; kill < kills; kill++)
        {
            using var worker = StressWorker.Start(path, org, "group", "--callers", "8", "--calls", "100000", "--seed", kill.ToString(CultureInfo.InvariantCulture));
            // Calls are flowing once the worker first reports its write groups (after 25 calls).
            Assert.True(worker.WaitForLine("groups", TimeSpan.FromMinutes(1)), $"the worker never got 25 calls done: {worker.Errors}");
            await Task.Delay(random.Next(0, 120)); // a moment somewhere in the stream of groups
            worker.KillHard();

            var lines = worker.Lines;
            Assert.DoesNotContain(lines, l => l.StartsWith("error", StringComparison.Ordinal) || l.StartsWith("busy", StringComparison.Ordinal));
            acknowledged.UnionWith(lines.Where(l => l.StartsWith("ack ", StringComparison.Ordinal)).Select(l => l["ack ".Length..]));
            failedCalls += lines.Count(l => l.StartsWith("failed ", StringComparison.Ordinal));
            foreach (var groups in lines.Where(l => l.StartsWith("groups ", StringComparison.Ordinal)))
            {
                groupLines.Add(groups);
                var f = groups.Split(' ');
                if (long.Parse(f[2], CultureInfo.InvariantCulture) > long.Parse(f[1], CultureInfo.InvariantCulture))
                {
                    sharedCommits++;
                    break;
                }
            }
            await AssertConsistentAsync(path, org, acknowledged, $"after kill {kill}");
        }
        Assert.True(sharedCommits > 0, $"no worker reported a commit shared by several calls: the kills never hit a group ({acknowledged.Count} calls acknowledged; {string.Join(", ", groupLines)})");
        Assert.True(failedCalls > 0, "no poisoned batch failed before a kill: the test never checked that a failed call leaves nothing");
    }

    /// <summary>Opens the store as a host would after a crash and checks every rule against what was acknowledged.</summary>
    private static async Task AssertConsistentAsync(string path, OrganizationId org, HashSet<string> acknowledged, string when)
    {
        using (var store = await AllocationStore.OpenAsync(path))
        {
            var report = await store.VerifyAsync(StressWorker.Admin, org);
            Assert.True(report.IsClean, $"{when}: " + string.Join("; ", report.Discrepancies));
            var journal = await store.VerifyJournalAsync(StressWorker.Admin, org);
            Assert.True(journal.IsIntact, $"{when}: journal broken at {journal.FirstBrokenSequence}: {journal.Problem}");
        }
        SqliteConnection.ClearAllPools();

        var present = new Dictionary<string, (string Allocation, long Amount)>(StringComparer.Ordinal);
        using (var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT e.external_key, a.name, e.amount FROM usage_events e JOIN allocations a ON a.id = e.allocation_id";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                present[reader.GetString(0)] = (reader.GetString(1), reader.GetInt64(2));
            }
        }
        SqliteConnection.ClearAllPools();

        Assert.DoesNotContain(present.Keys, k => k.StartsWith("poison-", StringComparison.Ordinal));
        foreach (var key in acknowledged)
        {
            if (key.StartsWith("hold-", StringComparison.Ordinal))
            {
                Assert.True(present.ContainsKey(key), $"{when}: hold {key} was acknowledged but is missing");
            }
            else
            {
                Assert.True(present.ContainsKey(key + "-0") && present.ContainsKey(key + "-1") && present.ContainsKey(key + "-2"), $"{when}: batch {key} was acknowledged but is not all there");
            }
        }

        var ownUsed = new Dictionary<string, long>(StringComparer.Ordinal) { ["C0"] = Unit }; // the anchor
        var ownEstimated = new Dictionary<string, long>(StringComparer.Ordinal);
        var batchItems = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (key, stored) in present)
        {
            if (key == "anchor")
            {
                continue;
            }
            var parts = key.Split('-');
            var caller = int.Parse(parts[2], CultureInfo.InvariantCulture);
            var call = int.Parse(parts[3], CultureInfo.InvariantCulture);
            var item = parts[0] == "hold" ? 0 : int.Parse(parts[4], CultureInfo.InvariantCulture);
            var (allocation, amount) = Item(caller, call, item);
            Assert.True((allocation, amount) == (stored.Allocation, stored.Amount), $"{when}: {key} is stored as {stored.Amount} on {stored.Allocation}, not {amount} on {allocation}");
            var figures = parts[0] == "hold" ? ownEstimated : ownUsed;
            figures[allocation] = figures.GetValueOrDefault(allocation) + amount;
            if (parts[0] == "batch")
            {
                var prefix = string.Join('-', parts[..4]);
                batchItems[prefix] = batchItems.GetValueOrDefault(prefix) + 1;
            }
        }
        foreach (var (batch, count) in batchItems)
        {
            Assert.True(count == 3, $"{when}: batch {batch} has {count} of its 3 events");
        }
        using (var store = await AllocationStore.OpenAsync(path))
        {
            foreach (var allocation in await store.ListAllocationsAsync(StressWorker.Admin, org))
            {
                Assert.Equal(ownUsed.GetValueOrDefault(allocation.Name), allocation.OwnUsed.Micros);
                Assert.Equal(ownEstimated.GetValueOrDefault(allocation.Name), allocation.OwnEstimated.Micros);
            }
        }
        SqliteConnection.ClearAllPools();
    }
}
