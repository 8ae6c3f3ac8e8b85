using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reliability;

/// <summary>Two OS processes with four threads each race reservations, shared keyed holds, shared keyed Confirmed
/// recordings, releases and confirmations against one parent with three children in one database file.</summary>
public sealed class ConcurrencyTests : IDisposable
{
    private const long Unit = 1_000_000;
    private readonly string directory = TestStore.NewDirectory();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public Task TwoProcessesRacing_NeverExceedTotalsThroughReservations_LoseNoUpdate_AndCountSharedKeysOnce() =>
        RaceAsync(Path.Combine(directory, "race.db"), processes: 2);

    /// <summary>The race of <paramref name="processes"/> worker processes of four threads each on one store (a file, or
    /// a PostgreSQL database), checked against everything the workers were told.</summary>
    internal static async Task RaceAsync(string path, int processes)
    {
        var org = await StressWorker.CreateDatabaseAsync(path, 300 * Unit, [150 * Unit, 150 * Unit, 150 * Unit]);
        var workers = Enumerable.Range(1, processes)
            .Select(seed => StressWorker.Start(path, org, "race", "--threads", "4", "--ops", "250", "--seed", seed.ToString(CultureInfo.InvariantCulture)))
            .ToList();
        try
        {
            await CheckRaceAsync(path, org, workers);
        }
        finally
        {
            foreach (var worker in workers)
            {
                worker.Dispose();
            }
        }
    }

    private static async Task CheckRaceAsync(string path, OrganizationId org, List<StressWorker> workers)
    {
        Assert.True(workers.All(w => w.WaitForLine("ready", TimeSpan.FromMinutes(1))), string.Concat(workers.Select(w => w.Errors)));
        foreach (var worker in workers)
        {
            worker.Go();
        }
        var exits = workers.Select(w => w.WaitForExit(TimeSpan.FromMinutes(3))).ToList();
        var lines = workers.SelectMany(w => w.Lines).ToList();
        Assert.True(exits.All(e => e == 0), $"workers exited {string.Join('/', exits)}:\n{string.Join('\n', lines.Where(l => l.StartsWith("busy", StringComparison.Ordinal) || l.StartsWith("error", StringComparison.Ordinal)))}\n{string.Concat(workers.Select(w => w.Errors))}");
        Assert.DoesNotContain(lines, l => l.StartsWith("busy", StringComparison.Ordinal) || l.StartsWith("error", StringComparison.Ordinal));

        // What the workers were told, per allocation.
        var ownEstimated = new Dictionary<string, long>();
        var ownUsed = new Dictionary<string, long>();
        var shared = new Dictionary<string, (string Allocation, long Id, long Amount)>();
        var recorded = new Dictionary<string, (string Allocation, long Id, long Amount)>();
        var recordedAt = new Dictionary<string, long>();
        var firstRecordings = 0;
        int holds = 0, releases = 0, refused = 0;
        void Add(Dictionary<string, long> figures, string allocation, long delta) => figures[allocation] = figures.GetValueOrDefault(allocation) + delta;
        foreach (var line in lines)
        {
            var f = line.Split(' ');
            switch (f[0])
            {
                case "hold": holds++; Add(ownEstimated, f[1], Long(f[3])); break;
                case "release": releases++; Add(ownEstimated, f[1], -Long(f[3])); break;
                case "confirm": Add(ownEstimated, f[1], -Long(f[3])); Add(ownUsed, f[1], Long(f[3])); break;
                case "refused": refused++; break;
                case "ready": break;
                case "shared":
                    var seen = (f[2], Long(f[3]), Long(f[4]));
                    if (shared.TryGetValue(f[1], out var first))
                    {
                        Assert.True(first == seen, $"shared key {f[1]} came back as {first} and as {seen}: counted twice");
                    }
                    else
                    {
                        shared[f[1]] = seen;
                        Add(ownEstimated, f[2], seen.Item3);
                    }
                    break;
                case "recorded":
                    var charge = (f[2], Long(f[3]), Long(f[4]));
                    if (f[5] == nameof(RecordDisposition.Recorded))
                    {
                        firstRecordings++;
                    }
                    else
                    {
                        Assert.Equal(nameof(RecordDisposition.Unchanged), f[5]);
                    }
                    if (recorded.TryGetValue(f[1], out var earlier))
                    {
                        Assert.True(earlier == charge, $"recorded key {f[1]} came back as {earlier} and as {charge}: counted twice");
                    }
                    else
                    {
                        recorded[f[1]] = charge;
                        Add(ownUsed, f[2], charge.Item3);
                        Add(recordedAt, f[2], charge.Item3);
                    }
                    break;
                default: throw new Xunit.Sdk.XunitException($"unexpected worker output: {line}");
            }
        }
        Assert.True(holds > 0 && refused > 0, $"the race should both place holds ({holds}) and hit a cap ({refused} refused)");
        Assert.NotEmpty(shared);
        Assert.NotEmpty(recorded);
        Assert.Equal(recorded.Count, firstRecordings); // each key was new exactly once, in one of the processes

        using var store = await StressWorker.OpenAsync(path);
        var allocations = await store.ListAllocationsAsync(StressWorker.Admin, org);
        // Confirmed recordings are facts and may overrun; what reservations hold on top of them never does.
        long RecordedUnder(Allocation a) => a.ParentId is null ? recordedAt.Values.Sum() : recordedAt.GetValueOrDefault(a.Name);
        foreach (var allocation in allocations)
        {
            var reserved = allocation.Used.Micros + allocation.Estimated.Micros - RecordedUnder(allocation);
            Assert.True(reserved <= allocation.Total.Micros, $"{allocation.Name}: Used {allocation.Used} + Estimated {allocation.Estimated} less recordings {RecordedUnder(allocation)} exceed Total {allocation.Total}");
            Assert.Equal(ownEstimated.GetValueOrDefault(allocation.Name), allocation.OwnEstimated.Micros);
            Assert.Equal(ownUsed.GetValueOrDefault(allocation.Name), allocation.OwnUsed.Micros);
        }
        var parent = allocations.Single(x => x.Name == "P");
        Assert.Equal(allocations.Sum(x => x.OwnUsed.Micros), parent.Used.Micros);
        Assert.Equal(allocations.Sum(x => x.OwnEstimated.Micros), parent.Estimated.Micros);
        Assert.True((await store.VerifyAsync(StressWorker.Admin, org)).IsClean);
        Assert.True((await store.VerifyJournalAsync(StressWorker.Admin, org)).IsIntact);

        var server = StressWorker.IsServer(path) ? path : null;
        long Count(string sql) => Convert.ToInt64(TestStore.RawOn(server, path, sql, scalar: true), CultureInfo.InvariantCulture);
        Assert.Equal((long)(holds - releases + shared.Count + recorded.Count), Count("SELECT COUNT(*) FROM usage_events"));
        Assert.Equal(0L, Count("SELECT COUNT(*) FROM (SELECT external_key FROM usage_events WHERE external_key IS NOT NULL GROUP BY external_key HAVING COUNT(*) > 1) d"));
        Assert.Equal((long)shared.Count, Count("SELECT COUNT(*) FROM usage_events WHERE external_key LIKE 'shared-%'"));
        Assert.Equal((long)recorded.Count, Count("SELECT COUNT(*) FROM usage_events WHERE external_key LIKE 'recorded-%' AND status = 2"));
    }

    [Fact]
    public async Task ManyOpenersOfANewFileAtOnce_AllSucceed_AndMigrateItOnce()
    {
        for (var round = 0; round < 5; round++)
        {
            var path = Path.Combine(directory, $"fresh-{round}.db");
            using var start = new Barrier(8);
            var stores = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
            {
                start.SignalAndWait();
                var store = await AllocationStore.OpenAsync(path);
                await store.CreateOrganizationAsync(Principal.System, $"Org {i}", "boss");
                return store;
            })));
            foreach (var store in stores)
            {
                store.Dispose();
            }
            SqliteConnection.ClearAllPools();
            using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
            connection.Open();
            Assert.Equal(8L, Query(connection, "SELECT COUNT(*) FROM organizations"));
            Assert.Equal((long)Allocations.Storage.Migrations.Latest, Query(connection, "PRAGMA user_version"));
        }
    }

    [Fact]
    public async Task WriterBlockedPastTheBusyTimeout_GetsStoreUnavailable_AndTheStoreIsUnchanged()
    {
        var path = Path.Combine(directory, "busy.db");
        var org = await StressWorker.CreateDatabaseAsync(path, 100 * Unit, [10 * Unit]);
        var before = DatabaseHash.Of(path);
        using var store = await AllocationStore.OpenAsync(path, new AllocationStoreOptions { BusyTimeout = Duration.FromMilliseconds(200) });
        var child = (await store.ListAllocationsAsync(StressWorker.Admin, org)).Single(x => x.Name == "C0");
        var record = new UsageRecord(child.Id, StressWorker.Sku, Quantity.FromDecimal(1m), TestStore.November15, TestStore.November15 + Duration.FromHours(1), UsageStatus.Estimated);

        using (var locker = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            locker.Open();
            using var hold = locker.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: the write lock, held
            var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.ReserveAsync(StressWorker.Admin, record));
            Assert.Contains("locked", ex.Reason, StringComparison.Ordinal);
            Assert.IsType<SqliteException>(ex.InnerException);

            // Another process gets the same clear error, not an unhandled SqliteException.
            using var worker = StressWorker.Start(path, org, "race", "--threads", "1", "--ops", "1", "--busy-ms", "200");
            if (worker.WaitForLine("ready", TimeSpan.FromMinutes(1)))
            {
                worker.Go(); // it got past opening the store (which also needs the write lock); its first write will wait
            }
            Assert.Equal(3, worker.WaitForExit(TimeSpan.FromMinutes(1)));
            Assert.Contains(worker.Lines, l => l.StartsWith("busy ", StringComparison.Ordinal) && l.Contains("locked", StringComparison.Ordinal));
            Assert.DoesNotContain(worker.Lines, l => l.StartsWith("error", StringComparison.Ordinal));

            // Readers are not blocked by a writer (WAL).
            Assert.Equal(2, (await store.ListAllocationsAsync(StressWorker.Admin, org)).Count);
        }
        Assert.Equal(before, DatabaseHash.Of(path));
        Assert.True((await store.ReserveAsync(StressWorker.Admin, record)).Reserved);
    }

    private static long Long(string s) => long.Parse(s, CultureInfo.InvariantCulture);

    private static long Query(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}
