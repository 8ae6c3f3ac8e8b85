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

    /// <summary>CPU seconds this machine has spent busy (every process: the benchmark and, on a loopback server, the
    /// server's backends), from <c>/proc/stat</c>; null where there is none.</summary>
    private static double? MachineBusySeconds()
    {
        if (!File.Exists("/proc/stat"))
        {
            return null;
        }
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // cpu user nice system idle iowait irq softirq steal: busy = all but idle and iowait, in USER_HZ (100) ticks.
        var busy = long.Parse(fields[1]) + long.Parse(fields[2]) + long.Parse(fields[3]) + long.Parse(fields[6]) + long.Parse(fields[7]) + long.Parse(fields[8]);
        return busy / 100.0;
    }

    private static void PrintCpuPerCall(string name, double busySeconds, long calls)
    {
        if (calls > 0 && busySeconds > 0)
        {
            Print(name, busySeconds * 1e6 / calls, "F1");
        }
    }

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
    /// Medians of the batch rates, after two warm-up batches of each.</summary>
    private static async Task IngestVsCopyAsync(string database, int count)
    {
        using var store = await AllocationStore.OpenPostgresAsync(database);
        var (org, allocations) = await Workload.SetUpAsync(store);
        // Two warm-up batches first, not counted (past the JIT's tier-up, as BenchmarkDotNet warms up), for both.
        const int warmUpBatches = 2;
        var warmUp = warmUpBatches * Workload.BatchSize;
        count += warmUp;
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
        await using (var create = new NpgsqlCommand(
            "CREATE TABLE raw_events_fk (LIKE usage_events INCLUDING ALL, FOREIGN KEY (allocation_id) REFERENCES allocations(id), FOREIGN KEY (sku_id) REFERENCES skus(id))", raw))
        {
            await create.ExecuteNonQueryAsync();
        }
        var ingestRates = new List<double>();
        var copyRates = new List<double>();
        var copyFkRates = new List<double>();
        double ingestBusy = 0;
        long ingested = 0;
        for (var offset = 0; offset < count; offset += Workload.BatchSize)
        {
            var end = Math.Min(count, offset + Workload.BatchSize);
            var batch = new List<UsageRecord>(end - offset);
            for (var i = offset; i < end; i++)
            {
                batch.Add(Workload.ToRecord(events[i], allocations));
            }
            var busyBefore = MachineBusySeconds();
            var sw = Stopwatch.StartNew();
            var result = await store.RecordBatchAsync(Workload.Admin, batch);
            sw.Stop();
            var measured = offset >= warmUp;
            if (measured && busyBefore is { } before && MachineBusySeconds() is { } after)
            {
                ingestBusy += after - before;
                ingested += batch.Count;
            }
            if (result.Recorded != batch.Count)
            {
                throw new InvalidOperationException($"expected {batch.Count} new events, got {result.Recorded}");
            }
            var copy = (end - offset) / await CopyRawAsync(raw, "raw_events", org.Value, allocations, skuIds, events, amounts, recordedNs, offset, end);
            var copyFk = (end - offset) / await CopyRawAsync(raw, "raw_events_fk", org.Value, allocations, skuIds, events, amounts, recordedNs, offset, end);
            if (measured)
            {
                ingestRates.Add(batch.Count / sw.Elapsed.TotalSeconds);
                copyRates.Add(copy);
                copyFkRates.Add(copyFk);
            }
        }
        var ingest = Median(ingestRates);
        var copyRate = Median(copyRates);
        Print("pg_ingest_batches", ingestRates.Count);
        Print("pg_ingest_events_per_s", ingest);
        Print("pg_raw_copy_rows_per_s", copyRate);
        Print("pg_ingest_vs_raw", ingest / copyRate, "F3");
        Print("pg_raw_copy_with_foreign_keys_rows_per_s", Median(copyFkRates));
        PrintCpuPerCall("pg_ingest_machine_cpu_us_per_event", ingestBusy, ingested);
    }

    /// <summary>Copies events [offset, end) into a raw table in one transaction; returns the seconds it took.</summary>
    private static async Task<double> CopyRawAsync(NpgsqlConnection raw, string table, long org, AllocationId[] allocations, long[] skuIds, Workload.RawEvent[] events, long[] amounts, long recordedNs, int offset, int end)
    {
        var sw = Stopwatch.StartNew();
        await using (var transaction = await raw.BeginTransactionAsync())
        {
            await using (var copy = await raw.BeginBinaryImportAsync(
                $"COPY {table} (org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by, source) FROM STDIN (FORMAT BINARY)"))
            {
                for (var i = offset; i < end; i++)
                {
                    var e = events[i];
                    await copy.StartRowAsync();
                    await copy.WriteAsync(org, NpgsqlDbType.Bigint);
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
        return sw.Elapsed.TotalSeconds;
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
        // Ids come parents first, each followed by its 9 children: 4 children of each of the 4 parents.
        var stride = Workload.ChildrenPerParent + 1;
        var children = Enumerable.Range(0, 16).Select(i => allocations[((i % 4) * stride) + 1 + (i / 4)]).ToArray();
        var parentOf = Enumerable.Range(0, 16).Select(i => allocations[(i % 4) * stride]).ToArray();
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
            double busy = 0;
            long measured = 0;
            for (var round = 0; round < 6; round++)
            {
                var busyBefore = MachineBusySeconds();
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
                var busyAfter = MachineBusySeconds();
                if (round > 0)
                {
                    rates.Add(children.Length * callsPerCaller / sw.Elapsed.TotalSeconds);
                    if (busyBefore is { } before && busyAfter is { } after)
                    {
                        busy += after - before;
                        measured += children.Length * callsPerCaller;
                    }
                }
            }
            Print("pg_reserve_callers", children.Length);
            Print("pg_reserve_concurrent_per_s", Median(rates));
            PrintCpuPerCall("pg_reserve_machine_cpu_us_per_call", busy, measured);

            // One caller alone, on a child of another parent: the latency and CPU of a reservation without contention.
            var alone = allocations[^1];
            var single = new List<double>();
            double singleBusy = 0;
            long singleCalls = 0;
            for (var round = 0; round < 4; round++)
            {
                var busyBefore = MachineBusySeconds();
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < 200; i++)
                {
                    var at = start + Duration.FromDays(30) + Duration.FromMinutes((round * 200) + i);
                    var result = await stores[0].ReserveAsync(Workload.Admin, new UsageRecord(alone, Workload.Sku(i % 6), Quantity.FromMicros(1_000_000), at, at + Duration.FromHours(1), UsageStatus.Estimated));
                    if (!result.Reserved)
                    {
                        throw new InvalidOperationException($"a hold on {alone} did not fit");
                    }
                }
                sw.Stop();
                var busyAfter = MachineBusySeconds();
                if (round > 0)
                {
                    single.Add(200 / sw.Elapsed.TotalSeconds);
                    if (busyBefore is { } before && busyAfter is { } after)
                    {
                        singleBusy += after - before;
                        singleCalls += 200;
                    }
                }
            }
            Print("pg_reserve_one_caller_per_s", Median(single));
            PrintCpuPerCall("pg_reserve_one_caller_machine_cpu_us_per_call", singleBusy, singleCalls);
            await RawHoldsAsync(database, children, parentOf, callsPerCaller, Median(rates));
        }
        finally
        {
            stores.ForEach(s => s.Dispose());
        }
    }

    /// <summary>The baseline of the reservation figure, in the same run on the same server: the least a hold's
    /// transaction can be, in plain SQL from the same 16 callers in 4 connection pools. Each transaction adds the hold to
    /// the child's and the parent's figures (their rows locked by the updates, child first) and inserts the event row,
    /// in one round trip, then commits; no fit check, key, journal or history.</summary>
    private static async Task RawHoldsAsync(string database, AllocationId[] children, AllocationId[] parentOf, int callsPerCaller, double library)
    {
        await using (var setup = new NpgsqlConnection(database))
        {
            await setup.OpenAsync();
            await using var create = new NpgsqlCommand(
                "CREATE TABLE raw_figures AS SELECT id, estimated FROM allocations; ALTER TABLE raw_figures ADD PRIMARY KEY (id); " +
                "CREATE TABLE raw_holds (LIKE usage_events INCLUDING ALL)",
                setup);
            await create.ExecuteNonQueryAsync();
        }
        var sources = Enumerable.Range(0, 4).Select(_ => NpgsqlDataSource.Create(database)).ToList();
        try
        {
            var rates = new List<double>();
            for (var round = 0; round < 6; round++)
            {
                var sw = Stopwatch.StartNew();
                await Task.WhenAll(children.Select((child, caller) => Task.Run(async () =>
                {
                    var source = sources[caller % sources.Count];
                    for (var i = 0; i < callsPerCaller; i++)
                    {
                        await using var connection = await source.OpenConnectionAsync();
                        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted);
                        await using var batch = new NpgsqlBatch(connection, transaction)
                        {
                            BatchCommands =
                            {
                                new NpgsqlBatchCommand("UPDATE raw_figures SET estimated = estimated + $2 WHERE id = $1") { Parameters = { new NpgsqlParameter<long> { TypedValue = child.Value }, new NpgsqlParameter<long> { TypedValue = 1_000_000 } } },
                                new NpgsqlBatchCommand("UPDATE raw_figures SET estimated = estimated + $2 WHERE id = $1") { Parameters = { new NpgsqlParameter<long> { TypedValue = parentOf[caller].Value }, new NpgsqlParameter<long> { TypedValue = 1_000_000 } } },
                                new NpgsqlBatchCommand(
                                    "INSERT INTO raw_holds (org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, amount, recorded_ns, recorded_by, source) " +
                                    "VALUES (1, $1, 1, 1000000, $2, $2 + 3600000000000, 1, 1000000, $2, 'bench-admin', 'user:bench-admin')")
                                {
                                    Parameters = { new NpgsqlParameter<long> { TypedValue = child.Value }, new NpgsqlParameter<long> { TypedValue = ((round * callsPerCaller) + i) * 60_000_000_000L } },
                                },
                            },
                        };
                        await batch.ExecuteNonQueryAsync();
                        await transaction.CommitAsync();
                    }
                })));
                sw.Stop();
                if (round > 0)
                {
                    rates.Add(children.Length * callsPerCaller / sw.Elapsed.TotalSeconds);
                }
            }
            var raw = Median(rates);
            Print("pg_raw_hold_tx_per_s", raw);
            Print("pg_reserve_vs_raw", library / raw, "F3");
        }
        finally
        {
            foreach (var source in sources)
            {
                await source.DisposeAsync();
            }
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
