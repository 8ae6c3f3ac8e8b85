using System.Diagnostics;
using System.Globalization;
using Allocations.Domain;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Allocations.Tests.Reliability;

/// <summary>A worker process recording keyed batches is killed with SIGKILL at random moments; after each kill the file
/// opens, every batch is all or nothing, every acknowledged batch is there, figures verify, and resubmitting the same
/// batches (each worker goes through all batches in its own order) never counts an item twice.</summary>
public sealed class CrashSafetyTests : IDisposable
{
    private const int Batches = 1000;
    internal const int Size = 25;
    private readonly string directory = TestStore.NewDirectory();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>The content of item <paramref name="item"/> of batch <paramref name="batch"/>, written here again from the
    /// worker's documented rule (StressWorker/Worker.cs, CrashItem) so the expected figures do not come from the code under test.</summary>
    private static (string Allocation, long Amount) Item(int batch, int item) =>
        ((batch + item) % 4 == 3 ? "P" : $"C{(batch + item) % 4}", ((1 + ((batch * 31) + (item * 7)) % 50) * 1_000_000L) + item);

    [Fact]
    public async Task KilledAtRandomMoments_EveryBatchIsAllOrNothing_AndResubmittingCountsOnce()
    {
        var path = Path.Combine(directory, "crash.db");
        var org = await StressWorker.CreateDatabaseAsync(path, 0, [0, 0, 0]);
        var kills = ModelBasedTests.SequenceCount(50);
        var random = new Random(20261124);
        var acknowledged = new HashSet<int>();
        var killedMidWrite = 0;
        for (var kill = 0; kill < kills; kill++)
        {
            using var worker = StressWorker.Start(path, org, "crash", "--batches", Batches.ToString(CultureInfo.InvariantCulture), "--size", Size.ToString(CultureInfo.InvariantCulture), "--seed", kill.ToString(CultureInfo.InvariantCulture));
            var moment = random.Next(10);
            if (moment == 0)
            {
                await Task.Delay(random.Next(0, 250)); // somewhere in start-up or while opening the store
            }
            else
            {
                // Mostly once batches are flowing (the first one is slow while the worker warms up).
                var ready = moment < 3 ? "open" : "committed";
                Assert.True(worker.WaitForLine(ready, TimeSpan.FromMinutes(1)), $"the worker never printed '{ready}': {worker.Errors}");
                await Task.Delay(random.Next(0, 60));
            }
            worker.KillHard();
            var committed = Committed(worker.Lines);
            acknowledged.UnionWith(committed);
            if (committed.Count > 0)
            {
                killedMidWrite++;
            }
            Assert.DoesNotContain(worker.Lines, l => l.StartsWith("error", StringComparison.Ordinal) || l.StartsWith("busy", StringComparison.Ordinal));
            await AssertConsistentAsync(path, org, acknowledged, $"after kill {kill}");
        }
        Assert.True(killedMidWrite >= kills / 2, $"only {killedMidWrite} of {kills} kills came after a batch was acknowledged");

        using var final = StressWorker.Start(path, org, "crash", "--batches", Batches.ToString(CultureInfo.InvariantCulture), "--size", Size.ToString(CultureInfo.InvariantCulture), "--seed", "424242");
        Assert.Equal(0, final.WaitForExit(TimeSpan.FromMinutes(2)));
        Assert.Equal(Batches, Committed(final.Lines).Count);
        var present = await AssertConsistentAsync(path, org, Enumerable.Range(0, Batches).ToHashSet(), "after the final run");
        Assert.Equal(Batches, present);
    }

    /// <summary>Kills the very first open of a new file at random moments (while SQLite creates it, switches it to WAL,
    /// runs the migrations): whatever is left must open afterwards, never be refused as foreign or damaged.</summary>
    [Fact]
    public async Task KilledDuringTheFirstOpen_TheFileStillOpens()
    {
        var random = new Random(7);
        var kills = ModelBasedTests.SequenceCount(20);
        // The kill moments spread over how long a first open takes here and now (measured on one uninterrupted open),
        // so that on a fast or a loaded machine alike some kills land before the file exists and some after.
        var window = FirstOpenMilliseconds(Path.Combine(directory, "first-open-calibration.db"));
        var leftBehind = 0;
        var killedBeforeCreated = 0;
        for (var kill = 0; kill < kills; kill++)
        {
            var path = Path.Combine(directory, $"first-open-{kill}.db");
            using (var worker = StressWorker.Start(path, default, "create"))
            {
                // Time the kill from the moment the worker starts to open the store: process start-up alone can take
                // longer than any fixed delay on a loaded machine, which left no file behind in every round.
                Assert.True(worker.WaitForLine("opening", TimeSpan.FromSeconds(60)), "the worker never started to open the store: " + worker.Errors);
                await Task.Delay(random.Next(0, window));
                worker.KillHard();
                if (!worker.Lines.Contains("created"))
                {
                    killedBeforeCreated++;
                }
                Assert.DoesNotContain(worker.Lines, l => l.StartsWith("error", StringComparison.Ordinal));
            }
            if (File.Exists(path))
            {
                leftBehind++;
            }
            using (var store = await AllocationStore.OpenAsync(path))
            {
                var orgs = 0;
                try
                {
                    await store.CreateOrganizationAsync(Principal.System, "Created", "creator");
                }
                catch (Exceptions.ConflictException)
                {
                    orgs = 1; // the killed worker got that far
                }
                Assert.InRange(orgs, 0, 1);
                Assert.True((await store.VerifyAsync(Principal.User("creator"), new OrganizationId(1))).IsClean);
            }
            SqliteConnection.ClearAllPools();
            Assert.Equal((long)Allocations.Storage.Migrations.Latest, UserVersion(path));
        }
        Assert.True(leftBehind > 0, $"no kill left a file behind; the moments are all too early (window {window} ms, {killedBeforeCreated} of {kills} killed before 'created')");
        Assert.True(killedBeforeCreated > 0, $"every worker finished before its kill; the moments are all too late (window {window} ms)");
    }

    /// <summary>Runs one first open to completion and returns 1.5 times how long it took from the worker's "opening"
    /// line to its "created" line as this test sees them, in milliseconds, and at least 60 (on a quiet machine both
    /// lines can arrive together).</summary>
    private static int FirstOpenMilliseconds(string path)
    {
        using var worker = StressWorker.Start(path, default, "create");
        Assert.True(worker.WaitForLine("opening", TimeSpan.FromSeconds(60)), "the worker never started to open the store: " + worker.Errors);
        var clock = Stopwatch.StartNew();
        Assert.True(worker.WaitForLine("created", TimeSpan.FromSeconds(60)), "the calibration worker never created its store: " + worker.Errors);
        return Math.Max(60, (int)(clock.ElapsedMilliseconds * 3 / 2));
    }

    private static long UserVersion(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version";
        return (long)command.ExecuteScalar()!;
    }

    internal static HashSet<int> Committed(IEnumerable<string> lines) =>
        lines.Where(l => l.StartsWith("committed ", StringComparison.Ordinal))
            .Select(l => int.Parse(l["committed ".Length..], CultureInfo.InvariantCulture))
            .ToHashSet();

    /// <summary>Opens the store as a host would after a crash and checks it; returns how many batches are present.</summary>
    internal static async Task<int> AssertConsistentAsync(string path, OrganizationId org, HashSet<int> acknowledged, string when)
    {
        using (var store = await StressWorker.OpenAsync(path))
        {
            var report = await store.VerifyAsync(StressWorker.Admin, org);
            Assert.True(report.IsClean, $"{when}: " + string.Join("; ", report.Discrepancies));
        }
        SqliteConnection.ClearAllPools();

        var perBatch = new Dictionary<int, int>();
        var ownUsed = new Dictionary<string, long>();
        foreach (var key in StressWorker.ExternalKeys(path))
        {
            var parts = key.Split('-');
            var batch = int.Parse(parts[1], CultureInfo.InvariantCulture);
            perBatch[batch] = perBatch.GetValueOrDefault(batch) + 1;
            var (allocation, amount) = Item(batch, int.Parse(parts[2], CultureInfo.InvariantCulture));
            ownUsed[allocation] = ownUsed.GetValueOrDefault(allocation) + amount;
        }
        foreach (var (batch, count) in perBatch)
        {
            Assert.True(count == Size, $"{when}: batch {batch} has {count} of its {Size} items");
        }
        foreach (var batch in acknowledged)
        {
            Assert.True(perBatch.ContainsKey(batch), $"{when}: batch {batch} was acknowledged but is missing");
        }

        // No double counting: each allocation's Used is exactly the sum of the distinct items present.
        using (var store = await StressWorker.OpenAsync(path))
        {
            foreach (var allocation in await store.ListAllocationsAsync(StressWorker.Admin, org))
            {
                Assert.Equal(ownUsed.GetValueOrDefault(allocation.Name), allocation.OwnUsed.Micros);
            }
        }
        SqliteConnection.ClearAllPools();
        return perBatch.Count;
    }
}
