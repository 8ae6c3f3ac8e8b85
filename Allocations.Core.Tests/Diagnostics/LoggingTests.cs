using Allocations.Diagnostics;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using NodaTime;
using Xunit;
using static Allocations.Tests.Import.Slurm.SlurmFixture;

namespace Allocations.Tests.Diagnostics;

public class LoggingTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Start = TestStore.November1 + Duration.FromHours(1);

    private static AllocationStoreOptions Options(TestStore t, CapturingLoggerFactory logs, Duration? busyTimeout = null) =>
        new() { Clock = t.Clock, LoggerFactory = logs, BusyTimeout = busyTimeout ?? Duration.FromSeconds(30) };

    /// <summary>Takes the database's write lock from outside the store, as another process would.</summary>
    private static SqliteConnection HoldWriteLock(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var begin = connection.CreateCommand();
        begin.CommandText = "BEGIN IMMEDIATE";
        begin.ExecuteNonQuery();
        return connection;
    }

    [Fact]
    public async Task Open_LogsEachMigrationOnceAtInformation_WithItsVersion()
    {
        var directory = TestStore.NewDirectory();
        var path = Path.Combine(directory, "a.db");
        var logs = new CapturingLoggerFactory();
        await using (await AllocationStore.OpenAsync(path, new AllocationStoreOptions { LoggerFactory = logs }))
        {
        }
        var migrations = logs.Entries.Where(e => e.EventId.Id == 100).ToList();
        var scripts = typeof(AllocationStore).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("Allocations.Storage.Migrations.", StringComparison.Ordinal))
            .Select(n => int.Parse(n.AsSpan("Allocations.Storage.Migrations.".Length, 4), provider: System.Globalization.CultureInfo.InvariantCulture))
            .Order()
            .ToList();
        Assert.Equal(Migrations.Latest, scripts[^1]);
        Assert.Equal(scripts, migrations.Select(e => (int)e.State["Version"]!));
        Assert.All(migrations, e =>
        {
            Assert.Equal((AllocationsTelemetry.StorageLogCategory, LogLevel.Information, "SchemaMigrated"), (e.Category, e.Level, e.EventId.Name));
            Assert.Equal("Applied schema migration {Version} to {Location} in {ElapsedMs} ms", e.State["{OriginalFormat}"]);
            Assert.Equal(Path.GetFullPath(path), e.State["Location"]);
        });

        var again = new CapturingLoggerFactory();
        await using (await AllocationStore.OpenAsync(path, new AllocationStoreOptions { LoggerFactory = again }))
        {
        }
        Assert.DoesNotContain(again.Entries, e => e.EventId.Id == 100);
    }

    [Fact]
    public async Task RefusedReservation_IsLoggedAtDebug_WithTheBlockingAllocation()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 10m);
        var logs = new CapturingLoggerFactory();
        await using var store = await AllocationStore.OpenAsync(t.Path, Options(t, logs));

        await store.ReserveAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1)));
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == 200);
        var refused = await store.ReserveAsync(Admin, TestStore.Cpu1(a, 100m, Start, Start + Duration.FromHours(2)));

        Assert.False(refused.Reserved);
        var entry = Assert.Single(logs.Entries, e => e.EventId.Id == 200);
        Assert.Equal((AllocationsTelemetry.UsageLogCategory, LogLevel.Debug), (entry.Category, entry.Level));
        Assert.Equal(a.Id.ToString(), entry.State["BlockedBy"]);
        Assert.Equal(refused.Fit.Shortfall.ToString(), entry.State["Shortfall"]);
    }

    [Fact]
    public async Task WriteThatOutwaitsTheBusyTimeout_IsLoggedAtWarning_AndFails()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 10m);
        var logs = new CapturingLoggerFactory();
        await using var store = await AllocationStore.OpenAsync(t.Path, Options(t, logs, Duration.FromMilliseconds(200)));
        using (HoldWriteLock(t.Path))
        {
            await Assert.ThrowsAsync<StoreUnavailableException>(() => store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1))));
        }
        var entry = Assert.Single(logs.Entries, e => e.EventId.Id == 112);
        Assert.Equal((AllocationsTelemetry.StorageLogCategory, LogLevel.Warning), (entry.Category, entry.Level));
        Assert.Equal(200, entry.State["BusyTimeoutMs"]);
        Assert.True((long)entry.State["ElapsedMs"]! >= 150, entry.Message);
    }

    [Fact]
    public async Task WriteThatWaitsForAnotherWriter_IsLoggedAtDebug_WithHowLong()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 10m);
        var logs = new CapturingLoggerFactory();
        await using var store = await AllocationStore.OpenAsync(t.Path, Options(t, logs));
        var holder = HoldWriteLock(t.Path);
        var calling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var write = Task.Run(async () =>
        {
            calling.SetResult();
            return await store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1)));
        });
        await calling.Task;
        // The write cannot finish while the lock is held; the second is margin for it to reach BEGIN (microseconds of work).
        Assert.NotSame(write, await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(1))));
        holder.Dispose();
        var result = await write;

        Assert.Equal(RecordDisposition.Recorded, result.Disposition);
        var entry = Assert.Single(logs.Entries, e => e.EventId.Id == 111);
        Assert.Equal((AllocationsTelemetry.StorageLogCategory, LogLevel.Debug), (entry.Category, entry.Level));
        Assert.True((long)entry.State["ElapsedMs"]! >= 500, entry.Message);
    }

    [Fact]
    public async Task SlurmSync_LogsEachSkipAtDebug_AndASummaryAtInformation()
    {
        var (t, _, _) = await CreateAsync();
        using var __ = t;
        var logs = new CapturingLoggerFactory();
        await using var store = await AllocationStore.OpenAsync(t.Path, Options(t, logs));
        var text = Text(
            Line("1", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, account: "biology"),
            Line("2", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600));

        var report = await store.SyncSlurmAsync(Admin, t.Organization, Mapping(), new StringReader(text));

        var skip = Assert.Single(logs.Entries, e => e.EventId.Id == 300);
        Assert.Equal((AllocationsTelemetry.SlurmLogCategory, LogLevel.Debug), (skip.Category, skip.Level));
        Assert.Equal(("lab", "1", 2, nameof(SlurmSkipReason.UnmappedAccount)), ((string?)skip.State["Cluster"], (string?)skip.State["JobId"], (int?)skip.State["LineNumber"], (string?)skip.State["Reason"]));
        Assert.Contains("biology", (string?)skip.State["Detail"]);
        var summary = Assert.Single(logs.Entries, e => e.EventId.Id == 302);
        Assert.Equal(LogLevel.Information, summary.Level);
        Assert.Equal((report.Recorded, report.Skipped.Count), ((int)summary.State["Recorded"]!, (int)summary.State["Skipped"]!));
        Assert.Equal(1, report.Recorded);
    }
}
