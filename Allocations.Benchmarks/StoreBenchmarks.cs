using Allocations.Domain;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace Allocations.Benchmarks;

/// <summary>The store's hot paths on real SQLite files with default durability, over the benchmark workload: keyed
/// batch ingest of 10,000 events, one record per call, one reservation per call (and 8 callers at once), re-recording
/// 10,000 Estimated events with a new end, the allocation table, a month's report, and the raw-SQLite baseline
/// inserting the same event rows with one prepared statement. Files grow across iterations, as
/// a real store does; each batch uses fresh keys.</summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 10)]
public class StoreBenchmarks
{
    private string directory = null!;
    private AllocationStore store = null!;
    private AllocationId[] allocations = null!;
    private SqliteConnection raw = null!;
    private long[] rawAllocationIds = null!;
    private int batchSeed = 100;
    private int single;
    private List<UsageRecord> running = null!;
    private AllocationId[] siblings = null!;

    /// <summary>Creates two stores with the workload's catalogue and 1,000 allocations.</summary>
    [GlobalSetup]
    public async Task SetupAsync()
    {
        directory = Workload.TempDirectory();
        store = await AllocationStore.OpenAsync(Path.Combine(directory, "bench.db"));
        (_, allocations) = await Workload.SetUpAsync(store);
        await store.RecordBatchAsync(Workload.Admin, Batch(99));
        running = Batch(98).Select(r => new UsageRecord(r.Allocation, r.Sku, r.Quantity, r.Start, r.End, UsageStatus.Estimated, r.ExternalKey, r.Attributes)).ToList();
        await store.RecordBatchAsync(Workload.Admin, running);
        siblings = allocations.Skip(Workload.Parents).Take(8).ToArray();

        var rawPath = Path.Combine(directory, "raw.db");
        using (var rawStore = await AllocationStore.OpenAsync(rawPath))
        {
            var (_, ids) = await Workload.SetUpAsync(rawStore);
            rawAllocationIds = ids.Select(a => a.Value).ToArray();
        }
        raw = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = rawPath, ForeignKeys = true, Pooling = false }.ToString());
        raw.Open();
        using var pragma = raw.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;";
        pragma.ExecuteNonQuery();
    }

    /// <summary>Deletes the files.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        store.Dispose();
        raw.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    private List<UsageRecord> Batch(int seed) =>
        Workload.Events(Workload.BatchSize, seed, allocations.Length).Select(e => Workload.ToRecord(e, allocations)).ToList();

    /// <summary>10,000 keyed events in one RecordBatchAsync call (one transaction).</summary>
    [Benchmark(OperationsPerInvoke = Workload.BatchSize)]
    public async Task<int> BatchIngest() => (await store.RecordBatchAsync(Workload.Admin, Batch(batchSeed++))).Recorded;

    /// <summary>The same 10,000 event rows inserted by one prepared statement in one transaction: no rating, no key
    /// look-ups, no segments, no totals.</summary>
    [Benchmark(OperationsPerInvoke = Workload.BatchSize)]
    public int RawSqliteInsert()
    {
        var events = Workload.Events(Workload.BatchSize, 50_000 + batchSeed++, rawAllocationIds.Length);
        using var transaction = raw.BeginTransaction();
        using var insert = raw.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText =
            "INSERT INTO usage_events (org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by) " +
            "VALUES (1, $alloc, $sku, $qty, $start, $end, 2, $key, $amount, NULL, $attrs, 0, 'bench-admin')";
        foreach (var name in new[] { "$alloc", "$sku", "$qty", "$start", "$end", "$key", "$amount", "$attrs" })
        {
            insert.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        insert.Prepare();
        var p = insert.Parameters;
        foreach (var e in events)
        {
            p[0].Value = rawAllocationIds[e.Allocation % rawAllocationIds.Length];
            p[1].Value = e.Sku + 1;
            p[2].Value = e.QuantityMicros;
            p[3].Value = e.StartNs;
            p[4].Value = e.EndNs;
            p[5].Value = e.Key;
            p[6].Value = e.QuantityMicros;
            p[7].Value = $"{{\"user\":\"{e.User}\"}}";
            insert.ExecuteNonQuery();
        }
        transaction.Commit();
        return events.Length;
    }

    /// <summary>One keyed event per RecordUsageAsync call.</summary>
    [Benchmark]
    public async Task<long> SingleRecord()
    {
        var e = Workload.Events(1, 900_000 + single++, allocations.Length)[0];
        return (await store.RecordUsageAsync(Workload.Admin, Workload.ToRecord(e, allocations))).Event.Id.Value;
    }

    /// <summary>One one-hour hold per ReserveAsync call.</summary>
    [Benchmark]
    public async Task<bool> Reserve()
    {
        var i = single++;
        var start = Workload.MonthStart(5);
        var result = await store.ReserveAsync(
            Workload.Admin,
            new UsageRecord(allocations[i % allocations.Length], Workload.Sku(i % 6), Quantity.FromMicros(1_000_000), start, start + Duration.FromHours(1), UsageStatus.Estimated));
        return result.Reserved;
    }

    /// <summary>One one-hour hold per call from each of 8 callers at once, on 8 children of one parent.</summary>
    [Benchmark(OperationsPerInvoke = 8 * 25)]
    public async Task<int> ReserveConcurrent8()
    {
        var round = single++;
        var start = Workload.MonthStart(6);
        var callers = siblings.Select((child, caller) => Task.Run(async () =>
        {
            var reserved = 0;
            for (var i = 0; i < 25; i++)
            {
                var at = start + Duration.FromMinutes((round * 25) + i);
                var result = await store.ReserveAsync(
                    Workload.Admin,
                    new UsageRecord(child, Workload.Sku(caller % 6), Quantity.FromMicros(1_000_000), at, at + Duration.FromHours(1), UsageStatus.Estimated));
                reserved += result.Reserved ? 1 : 0;
            }
            return reserved;
        }));
        return (await Task.WhenAll(callers)).Sum();
    }

    /// <summary>10,000 running jobs re-recorded under their keys with an end one minute earlier than the last time
    /// (a Slurm re-import): every one replaces its Estimated event.</summary>
    [Benchmark(OperationsPerInvoke = Workload.BatchSize)]
    public async Task<int> ReplaceBatch()
    {
        running = running.Select(r => new UsageRecord(r.Allocation, r.Sku, r.Quantity, r.Start, r.End - Duration.FromMinutes(1), r.Status, r.ExternalKey, r.Attributes)).ToList();
        return (await store.RecordBatchAsync(Workload.Admin, running)).Replaced;
    }

    /// <summary>The last month's usage report by allocation × day over every allocation.</summary>
    [Benchmark]
    public async Task<int> MonthReport() =>
        (await store.GetUsageReportAsync(
            Workload.Admin,
            new Reporting.UsageReportRequest(new OrganizationId(1), Workload.MonthStart(Workload.Months - 1), Workload.Last)
            {
                GroupBy = Reporting.ReportGroups.Allocation,
                Bucket = Reporting.CalendarBucket.Day,
            })).Rows.Count;

    /// <summary>The allocation table of the 1,000 allocations.</summary>
    [Benchmark]
    public async Task<int> AllocationTable() => (await store.ListAllocationsAsync(Workload.Admin, new OrganizationId(1))).Count;
}
