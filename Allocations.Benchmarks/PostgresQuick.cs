using System.Diagnostics;
using Allocations.Domain;
using Allocations.Rating;
using Npgsql;
using NpgsqlTypes;
using NodaTime;

namespace Allocations.Benchmarks;

/// <summary>The store figures on PostgreSQL, when <c>ALLOC_BENCH_PG</c> holds a connection string to a server (its
/// login must be allowed to create databases): keyed batch ingest against a binary <c>COPY</c> of the same rows into a
/// table built like the events table (same columns, constraints and indexes), reservations from 16 callers through 4
/// stores (4 connection pools, as 4 processes would have), and the table of 10,000 allocations. Each figure runs in a
/// database of its own, created here and dropped at the end.</summary>
internal static class PostgresQuick
{
    private static void Print(string name, string value) => QuickMode.Print(name, value);

    private static void Print(string name, double value, string format = "F0") => QuickMode.Print(name, value, format);

    private static double Median(List<double> values) => QuickMode.Median(values);

    internal static async Task RunAsync(string server, int ingestEvents, string? only)
    {
        var builder = new NpgsqlConnectionStringBuilder(server);
        Print("pg_server", $"{builder.Host}:{builder.Port}");
        await using (var admin = new NpgsqlConnection(server))
        {
            await admin.OpenAsync();
            await using var version = new NpgsqlCommand("SHOW server_version", admin);
            Print("pg_server_version", (string)(await version.ExecuteScalarAsync())!);
            await using var settings = new NpgsqlCommand("SELECT current_setting('fsync') || '/' || current_setting('synchronous_commit')", admin);
            Print("pg_fsync_synchronous_commit", (string)(await settings.ExecuteScalarAsync())!);
        }
        if (only is null or "ingest")
        {
            await WithDatabaseAsync(server, database => IngestVsCopyAsync(database, ingestEvents));
        }
        if (only is null or "reserve")
        {
            await WithDatabaseAsync(server, ReserveConcurrentAsync);
        }
        if (only is null or "table")
        {
            await WithDatabaseAsync(server, TableAsync);
        }
    }

    private static async Task WithDatabaseAsync(string server, Func<string, Task> body)
    {
        var name = "alloc_bench_" + Guid.NewGuid().ToString("N")[..16];
        await ExecAsync(server, $"CREATE DATABASE {name}"); // a generated name, never input
        try
        {
            await body(new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            if (Environment.GetEnvironmentVariable("ALLOC_BENCH_PG_KEEP") == "1")
            {
                Print("pg_kept_database", name);
            }
            else
            {
                await ExecAsync(server, $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            }
        }
    }

    private static async Task ExecAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Keyed batches of 10,000 through RecordBatchAsync against the same events, rated once beforehand, copied
    /// in binary into <c>raw_events</c> (<c>LIKE usage_events INCLUDING ALL</c>), one transaction per batch for both.
    /// Medians of the batch rates.</summary>
    private static async Task IngestVsCopyAsync(string database, int count)
    {
        using var store = await AllocationStore.OpenPostgresAsync(database);
        var (org, allocations) = await Workload.SetUpAsync(store);
        var events = Workload.Events(count, seed: 11);
        var schedules = Enumerable.Range(0, Workload.SkuCount).Select(Workload.Schedule).ToArray();
        var amounts = events.Select(e => Rater.Rate(schedules[e.Sku], Workload.Basis(e.Sku), e.QuantityMicros, e.StartNs, e.EndNs, (List<SegmentNs>?)null)).ToArray();
        var skuIds = new long[Workload.SkuCount];
        await using var raw = new NpgsqlConnection(database);
        await raw.OpenAsync();
        await using (var create = new NpgsqlCommand("CREATE TABLE raw_events (LIKE usage_events INCLUDING ALL)", raw))
        {
            await create.ExecuteNonQueryAsync();
        }
        await using (var skus = new NpgsqlCommand("SELECT id FROM skus ORDER BY code_key", raw))
        await using (var reader = await skus.ExecuteReaderAsync())
        {
            for (var i = 0; await reader.ReadAsync(); i++)
            {
                skuIds[i] = reader.GetInt64(0);
            }
        }
        var recordedNs = InstantCodec.ToNsUnchecked(Instant.FromUtc(2027, 1, 1, 0, 0));
        var ingestRates = new List<double>();
        var copyRates = new List<double>();
        for (var offset = 0; offset < count; offset += Workload.BatchSize)
        {
            var end = Math.Min(count, offset + Workload.BatchSize);
            var batch = new List<UsageRecord>(end - offset);
            for (var i = offset; i < end; i++)
            {
                batch.Add(Workload.ToRecord(events[i], allocations));
            }
            var sw = Stopwatch.StartNew();
            var result = await store.RecordBatchAsync(Workload.Admin, batch);
            sw.Stop();
            if (result.Recorded != batch.Count)
            {
                throw new InvalidOperationException($"expected {batch.Count} new events, got {result.Recorded}");
            }
            ingestRates.Add(batch.Count / sw.Elapsed.TotalSeconds);

            sw.Restart();
            await using (var transaction = await raw.BeginTransactionAsync())
            {
                await using (var copy = await raw.BeginBinaryImportAsync(
                    "COPY raw_events (org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by, source) FROM STDIN (FORMAT BINARY)"))
                {
                    for (var i = offset; i < end; i++)
                    {
                        var e = events[i];
                        await copy.StartRowAsync();
                        await copy.WriteAsync(org.Value, NpgsqlDbType.Bigint);
                        await copy.WriteAsync(allocations[e.Allocation % allocations.Length].Value, NpgsqlDbType.Bigint);
                        await copy.WriteAsync(skuIds[e.Sku], NpgsqlDbType.Bigint);
                        await copy.WriteAsync(e.QuantityMicros, NpgsqlDbType.Bigint);
                        await copy.WriteAsync(e.StartNs, NpgsqlDbType.Bigint);
                        await copy.WriteAsync(e.EndNs, NpgsqlDbType.Bigint);
                        await copy.WriteAsync(2, NpgsqlDbType.Integer);
                        await copy.WriteAsync(e.Key, NpgsqlDbType.Text);
                        await copy.WriteAsync(amounts[i], NpgsqlDbType.Bigint);
                        await copy.WriteNullAsync();
                        await copy.WriteAsync($"{{\"user\":\"{e.User}\"}}", NpgsqlDbType.Text);
                        await copy.WriteAsync(recordedNs, NpgsqlDbType.Bigint);
                        await copy.WriteAsync(Workload.Admin.Id, NpgsqlDbType.Text);
                        await copy.WriteAsync("user:" + Workload.Admin.Id, NpgsqlDbType.Text);
                    }
                    await copy.CompleteAsync();
                }
                await transaction.CommitAsync();
            }
            sw.Stop();
            copyRates.Add((end - offset) / sw.Elapsed.TotalSeconds);
        }
        var ingest = Median(ingestRates);
        var copyRate = Median(copyRates);
        Print("pg_ingest_batches", ingestRates.Count);
        Print("pg_ingest_events_per_s", ingest);
        Print("pg_raw_copy_rows_per_s", copyRate);
        Print("pg_ingest_vs_raw", ingest / copyRate, "F3");
    }

    /// <summary>Holds per second from 16 callers at once, 4 on each of 4 stores (each its own connection pool, as 4
    /// processes would have), each caller on its own child allocation (children of 4 parents): the median over rounds
    /// of 100 calls per caller after a warm-up round.</summary>
    private static async Task ReserveConcurrentAsync(string database)
    {
        AllocationId[] allocations;
        using (var setup = await AllocationStore.OpenPostgresAsync(database))
        {
            (_, allocations) = await Workload.SetUpAsync(setup, parents: 4);
        }
        var children = allocations.Skip(4).Take(16).ToArray();
        var stores = new List<AllocationStore>();
        for (var i = 0; i < 4; i++)
        {
            stores.Add(await AllocationStore.OpenPostgresAsync(database));
        }
        try
        {
            const int callsPerCaller = 100;
            var start = Workload.MonthStart(3);
            var rates = new List<double>();
            for (var round = 0; round < 6; round++)
            {
                var sw = Stopwatch.StartNew();
                await Task.WhenAll(children.Select((child, caller) => Task.Run(async () =>
                {
                    var store = stores[caller % stores.Count];
                    for (var i = 0; i < callsPerCaller; i++)
                    {
                        var at = start + Duration.FromMinutes((round * callsPerCaller) + i);
                        var result = await store.ReserveAsync(Workload.Admin, new UsageRecord(child, Workload.Sku(caller % 6), Quantity.FromMicros(1_000_000), at, at + Duration.FromHours(1), UsageStatus.Estimated));
                        if (!result.Reserved)
                        {
                            throw new InvalidOperationException($"a hold on {child} did not fit");
                        }
                    }
                })));
                sw.Stop();
                if (round > 0)
                {
                    rates.Add(children.Length * callsPerCaller / sw.Elapsed.TotalSeconds);
                }
            }
            Print("pg_reserve_callers", children.Length);
            Print("pg_reserve_concurrent_per_s", Median(rates));
        }
        finally
        {
            stores.ForEach(s => s.Dispose());
        }
    }

    /// <summary>The allocation table of 10,000 allocations (1,000 parents with 9 children each), the median of 20 reads
    /// after 40 warm-up reads (past the JIT's tier-up, so the figure is the steady state, as BenchmarkDotNet measures),
    /// against the baseline of the same run: the allocation rows alone, read by Npgsql in one REPEATABLE READ
    /// transaction.</summary>
    private static async Task TableAsync(string database)
    {
        using var store = await AllocationStore.OpenPostgresAsync(database);
        var fill = Stopwatch.StartNew();
        var (org, _) = await Workload.SetUpAsync(store, parents: 1000, months: 2);
        Print("pg_table_fill_s", fill.Elapsed.TotalSeconds, "F1");
        const int warmUp = 40;
        var times = new List<double>();
        var rows = 0;
        for (var i = 0; i < warmUp + 20; i++)
        {
            var sw = Stopwatch.StartNew();
            var table = await store.GetAllocationTableAsync(Workload.Admin, org);
            sw.Stop();
            rows = table.Count;
            if (i >= warmUp)
            {
                times.Add(sw.Elapsed.TotalMilliseconds);
            }
        }
        await using var source = NpgsqlDataSource.Create(database);
        var raw = new List<double>();
        for (var i = 0; i < warmUp + 20; i++)
        {
            var sw = Stopwatch.StartNew();
            await using (var connection = await source.OpenConnectionAsync())
            await using (var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead))
            {
                await using var command = new NpgsqlCommand(
                    "SELECT id, name, unit_id, parent_id, total, own_used, own_estimated, used, estimated, created_ns FROM allocations WHERE org_id = $1 ORDER BY id",
                    connection,
                    transaction);
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = org.Value });
                long sum = 0;
                await using (var reader = await command.ExecuteReaderAsync())
                {
                    while (await reader.ReadAsync())
                    {
                        sum ^= reader.GetInt64(0) ^ reader.GetString(1).Length ^ reader.GetInt64(2) ^ (reader.IsDBNull(3) ? 0 : reader.GetInt64(3)) ^
                               reader.GetInt64(4) ^ reader.GetInt64(5) ^ reader.GetInt64(6) ^ reader.GetInt64(7) ^ reader.GetInt64(8) ^ reader.GetInt64(9);
                    }
                }
                GC.KeepAlive(sum);
                await transaction.CommitAsync();
            }
            sw.Stop();
            if (i >= warmUp)
            {
                raw.Add(sw.Elapsed.TotalMilliseconds);
            }
        }
        var median = Median(times);
        var rawMedian = Median(raw);
        Print("pg_table_rows", rows);
        Print("pg_table_ms_10k_allocations", median, "F2");
        Print("pg_raw_allocation_rows_ms", rawMedian, "F2");
        Print("pg_table_vs_raw", median / rawMedian, "F2");
    }
}
