using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using Allocations.Tests.Tool;
using Npgsql;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reliability;

/// <summary>One PostgreSQL database shared as a centre shares it: several processes (hosts, as far as the server can
/// tell) racing reservations, two clusters' importers and a portal writing at once, and the server crashing under a
/// writer and coming back.</summary>
public sealed class MultiHostTests : IDisposable
{
    private const long Unit = 1_000_000;
    private readonly List<string> databases = [];

    public void Dispose()
    {
        NpgsqlConnection.ClearAllPools();
        foreach (var database in databases)
        {
            PostgresServer.DropDatabaseAsync(database).GetAwaiter().GetResult();
        }
    }

    private async Task<string> EmptyDatabaseAsync()
    {
        var database = await PostgresServer.CreateDatabaseAsync(migrated: false);
        databases.Add(database);
        return database;
    }

    [PostgresFact]
    public async Task FourProcessesOfFourThreads_RacingOnOneServer_NeverExceedTotals_LoseNoUpdate_AndCountSharedKeysOnce() =>
        await ConcurrencyTests.RaceAsync(await EmptyDatabaseAsync(), processes: 4);

    [PostgresFact]
    public async Task TwoClustersImportersAndAPortal_WritingAtOnce_EachCountsItsOwn_AndTheLedgerVerifies()
    {
        var database = await EmptyDatabaseAsync();
        OrganizationId org;
        using (var store = await AllocationStore.OpenPostgresAsync(database))
        {
            org = (await store.CreateOrganizationAsync(Principal.System, "Physics", StressWorker.Admin.Id)).Id;
            var admin = StressWorker.Admin;
            var unit = new UnitCode("core-hours");
            await store.CreateUnitAsync(admin, org, unit, 2);
            await store.CreateSkuAsync(admin, org, new SkuCode("CPU_HOUR"), unit, RateBasis.PerHour);
            await store.CreateSkuAsync(admin, org, new SkuCode("GPU_HOUR"), unit, RateBasis.PerHour);
            await store.CreateSkuAsync(admin, org, StressWorker.Sku, unit, RateBasis.PerUnit);
            foreach (var sku in new[] { "CPU_HOUR", "GPU_HOUR", StressWorker.Sku.Value })
            {
                await store.AddRateRuleAsync(admin, org, new SkuCode(sku), TestStore.November1, null, Rate.FromDecimal(sku == "GPU_HOUR" ? 16m : 1m));
            }
            await store.CreateAllocationAsync(admin, org, new NewAllocation("Physics", unit, Amount.FromDecimal(10_000m)));
            await store.CreateAllocationAsync(admin, org, new NewAllocation("Chemistry", unit, Amount.FromDecimal(5_000m)));
            // The portal's allocations (the worker's names): a parent P with children C0..C2.
            var parent = await store.CreateAllocationAsync(admin, org, new NewAllocation("P", unit, Amount.FromDecimal(300m)));
            for (var i = 0; i < 3; i++)
            {
                await store.CreateAllocationAsync(admin, org, new NewAllocation($"C{i}", unit, Amount.FromDecimal(150m), parent.Id));
            }
        }

        using var tool = new ToolProcess();
        var capture = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "slurm", "sacct-requested.txt"));
        foreach (var cluster in new[] { "lab", "lab2" })
        {
            File.WriteAllText(tool.PathOf($"{cluster}.json"), $$"""
                { "cluster": "{{cluster}}", "timeZone": "UTC", "accounts": { "physics": "Physics", "chem": "Chemistry" },
                  "partitions": { "cpu": "CPU_HOUR", "gpu": "GPU_HOUR" }, "skus": { "GPU_HOUR": "gres/gpu" }, "defaults": { "quantity": "cpu" } }
                """);
            File.WriteAllText(tool.PathOf($"{cluster}.txt"), capture.Replace("|lab|", $"|{cluster}|", StringComparison.Ordinal));
        }
        tool.Environment["ALLOCATIONS_DB"] = database;
        tool.Environment["ALLOCATIONS_ORG"] = "Physics";

        using var portal = StressWorker.Start(database, org, "race", "--threads", "4", "--ops", "150", "--seed", "7");
        Assert.True(portal.WaitForLine("ready", TimeSpan.FromMinutes(1)), portal.Errors);
        portal.Go();
        var imports = new[] { "lab", "lab2" }.Select(c => tool.RunAsync("slurm", "sync", "--config", $"{c}.json", "--sacct-file", $"{c}.txt")).ToArray();
        var results = await Task.WhenAll(imports);
        var portalExit = portal.WaitForExit(TimeSpan.FromMinutes(3));
        Assert.True(portalExit == 0, $"the portal exited {portalExit}: {string.Join('\n', portal.Lines.Where(l => l.StartsWith("error", StringComparison.Ordinal) || l.StartsWith("busy", StringComparison.Ordinal)).Take(10))}\n{portal.Errors}");

        foreach (var r in results)
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("jobs 13, recorded 13,", r.Stdout);
        }
        Assert.DoesNotContain(portal.Lines, l => l.StartsWith("busy", StringComparison.Ordinal) || l.StartsWith("error", StringComparison.Ordinal));
        Assert.Contains(portal.Lines, l => l.StartsWith("hold ", StringComparison.Ordinal));
        // A second run of each importer finds its cluster's jobs recorded: nothing counted twice.
        foreach (var cluster in new[] { "lab", "lab2" })
        {
            var again = await tool.RunAsync("slurm", "sync", "--config", $"{cluster}.json", "--sacct-file", $"{cluster}.txt");
            Assert.True(again.ExitCode == 0, again.ToString());
            Assert.Contains("recorded 0,", again.Stdout);
        }

        using var check = await AllocationStore.OpenPostgresAsync(database);
        var verification = await check.VerifyAsync(StressWorker.Admin, org);
        Assert.True(verification.IsClean, string.Join("; ", verification.Discrepancies));
        Assert.True((await check.VerifyJournalAsync(StressWorker.Admin, org)).IsIntact);
        long Count(string sql) => Convert.ToInt64(TestStore.RawOn(database, "", sql, scalar: true), CultureInfo.InvariantCulture);
        Assert.Equal(2L, Count("SELECT COUNT(*) FROM slurm_sync_state WHERE watermark_ns IS NOT NULL AND lock_owner IS NULL"));
        // Each cluster's jobs under keys of their own, the same number from each.
        Assert.Equal(Count("SELECT COUNT(*) FROM usage_events WHERE source = 'slurm' AND external_key LIKE 'slurm:lab:%'"), Count("SELECT COUNT(*) FROM usage_events WHERE source = 'slurm' AND external_key LIKE 'slurm:lab2:%'"));
        Assert.True(Count("SELECT COUNT(*) FROM usage_events WHERE source = 'slurm' AND external_key LIKE 'slurm:lab:%'") > 0);
    }

    [PostgresFact]
    public async Task TheServerKilledUnderABatchWriter_KeepsEveryAcknowledgedBatch_NoneHalf_AndTheLibraryReconnects()
    {
        const int Batches = 400;
        var (server, directory) = PostgresServer.StartPrivate();
        try
        {
            var database = new NpgsqlConnectionStringBuilder(server) { Database = "crash" }.ConnectionString;
            TestStore.RawOn(server, "", "CREATE DATABASE crash", scalar: false);
            var org = await StressWorker.CreateDatabaseAsync(database, 0, [0, 0, 0]);
            // A store of this process, open across the crash, as a portal's would be.
            using var portal = await AllocationStore.OpenPostgresAsync(database);
            Assert.Equal(4, (await portal.ListAllocationsAsync(StressWorker.Admin, org)).Count);

            var acknowledged = new HashSet<int>();
            using (var worker = StressWorker.Start(database, org, "crash", "--batches", Batches.ToString(CultureInfo.InvariantCulture), "--size", CrashSafetyTests.Size.ToString(CultureInfo.InvariantCulture), "--seed", "5", "--durable"))
            {
                Assert.True(worker.WaitForLine("committed", TimeSpan.FromMinutes(1)), worker.Errors);
                Assert.True(worker.WaitForLine("committed", TimeSpan.FromMinutes(1)), worker.Errors);
                PostgresServer.KillPrivate(directory);
                Assert.Equal(3, worker.WaitForExit(TimeSpan.FromMinutes(1)));
                acknowledged.UnionWith(CrashSafetyTests.Committed(worker.Lines));
                // The writer was told the server went away, in the library's own terms.
                Assert.Contains(worker.Lines, l => l.StartsWith("busy ", StringComparison.Ordinal));
                Assert.DoesNotContain(worker.Lines, l => l.StartsWith("error", StringComparison.Ordinal));
            }
            Assert.True(acknowledged.Count >= 2);

            // While the server is down: a clear error naming the server, never an Npgsql type.
            var down = await Assert.ThrowsAsync<StoreUnavailableException>(() => portal.ListAllocationsAsync(StressWorker.Admin, org));
            Assert.Contains("127.0.0.1", down.Message, StringComparison.Ordinal);

            PostgresServer.RestartPrivate(directory);

            // The store opened before the crash works again without being reopened: it reads and writes.
            Assert.Equal(4, (await portal.ListAllocationsAsync(StressWorker.Admin, org)).Count);
            await portal.CreateGroupAsync(StressWorker.Admin, org, "after-the-crash");
            await CrashSafetyTests.AssertConsistentAsync(database, org, acknowledged, "after the crash");

            // Resubmitting every batch counts each item once.
            using (var final = StressWorker.Start(database, org, "crash", "--batches", Batches.ToString(CultureInfo.InvariantCulture), "--size", CrashSafetyTests.Size.ToString(CultureInfo.InvariantCulture), "--seed", "6"))
            {
                Assert.Equal(0, final.WaitForExit(TimeSpan.FromMinutes(3)));
            }
            Assert.Equal(Batches, await CrashSafetyTests.AssertConsistentAsync(database, org, Enumerable.Range(0, Batches).ToHashSet(), "after resubmitting"));
            Assert.True((await portal.VerifyJournalAsync(StressWorker.Admin, org)).IsIntact);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            PostgresServer.StopPrivate(directory);
        }
    }
}
