using System.Diagnostics;
using System.Globalization;
using Allocations.Domain;
using Allocations.Rating;
using Allocations.Reporting;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace Allocations.Benchmarks;

/// <summary><c>quick</c>: every headline figure in a few minutes on a 2-core machine, one <c>name=value</c>
/// per line. Medians of repeated runs; ratios are between figures measured in this same run. <c>quick --full</c> runs
/// the 10-million-event streamed ingest and the 10-million-event table and month report instead of the scaled-down
/// ones. <c>--only=rating|ingest|reserve|replace|table|report|breakdown</c> runs one part. With <c>ALLOC_BENCH_PG</c>
/// set to a PostgreSQL connection string, the store figures are measured on that server too (<c>pg_…</c>, see
/// <see cref="PostgresQuick"/>); <c>--only=pg|pg-ingest|pg-reserve|pg-table</c> runs them alone.</summary>
internal static partial class QuickMode
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    internal static async Task<int> RunAsync(string[] args)
    {
        var full = args.Contains("--full") || Environment.GetEnvironmentVariable("ALLOC_BENCH_FULL") == "1";
        var streamEvents = full ? 10_000_000 : Env("ALLOC_BENCH_STREAM_EVENTS", 1_000_000);
        var ingestEvents = Env("ALLOC_BENCH_INGEST_EVENTS", 200_000);
        var tableEvents = Env("ALLOC_BENCH_TABLE_EVENTS", 200_000);
        var replaceEvents = Env("ALLOC_BENCH_REPLACE_EVENTS", 50_000);
        var asOfEvents = Env("ALLOC_BENCH_ASOF_EVENTS", 1_000_000);
        var total = Stopwatch.StartNew();
        Print("mode", full ? "full" : "quick");
        Print("machine", $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}");
        Print("durability", "default (DurableWrites=true: WAL, synchronous=FULL)");
        Print("load_average_at_start", File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a");

        var only = args.FirstOrDefault(a => a.StartsWith("--only=", StringComparison.Ordinal))?["--only=".Length..];
        if (Environment.GetEnvironmentVariable("ALLOC_BENCH_PG") is { Length: > 0 } server && only is null or "pg" or "pg-ingest" or "pg-reserve" or "pg-table")
        {
            // The PostgreSQL figures first, on the server the variable names; --only=pg runs them alone.
            await PostgresQuick.RunAsync(server, Env("ALLOC_BENCH_PG_INGEST_EVENTS", ingestEvents), only?.StartsWith("pg-", StringComparison.Ordinal) == true ? only[3..] : null);
            if (only is not null)
            {
                return 0;
            }
        }
        if (only is null || only == "rating")
        {
            Rating();
        }
        if (only == "rating")
        {
            return 0;
        }
        var directory = Workload.TempDirectory();
        try
        {
            if (only == "ingest")
            {
                var (ingestOnly, rawOnly, ingestOnlyPath) = await IngestVsRawAsync(directory, ingestEvents);
                Print("ingest_events_per_s", ingestOnly);
                Print("raw_sqlite_rows_per_s", rawOnly);
                Print("ingest_vs_raw", ingestOnly / rawOnly, "F3");
                Print("bytes_per_event_on_disk", BytesPerEvent(ingestOnlyPath, ingestEvents), "F1");
                Print("raw_sqlite_bytes_per_row_on_disk", BytesPerEvent(Path.Combine(directory, "raw.db"), ingestEvents), "F1");
                return 0;
            }
            if (only == "reserve")
            {
                var (_, _, path) = await IngestVsRawAsync(directory, 20_000);
                await SingleAndReserveAsync(path);
                return 0;
            }
            if (only is "table" or "report")
            {
                await TableAsync(directory, tableEvents, full);
                return 0;
            }
            if (only == "replace")
            {
                await ReplaceAsync(directory, replaceEvents);
                return 0;
            }
            if (only == "asof")
            {
                await AsOfAsync(directory, asOfEvents);
                return 0;
            }
            if (only == "breakdown")
            {
                await BreakdownAsync(directory, ingestEvents);
                return 0;
            }
            var (ingest, raw, ingestPath) = await IngestVsRawAsync(directory, ingestEvents);
            Print("ingest_events_per_s", ingest);
            Print("raw_sqlite_rows_per_s", raw);
            Print("ingest_vs_raw", ingest / raw, "F3");
            Print("bytes_per_event_on_disk", BytesPerEvent(ingestPath, ingestEvents), "F1");
            Print("raw_sqlite_bytes_per_row_on_disk", BytesPerEvent(Path.Combine(directory, "raw.db"), ingestEvents), "F1");
            await SingleAndReserveAsync(ingestPath);
            await ReplaceAsync(directory, replaceEvents);
            await StreamAsync(directory, streamEvents, full);
            await TableAsync(directory, tableEvents, full);
            await AsOfAsync(directory, asOfEvents);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // Left for the temp cleaner.
            }
        }
        Print("load_average_at_end", File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a");
        Print("quick_total_s", total.Elapsed.TotalSeconds, "F1");
        return 0;
    }

    private static int Env(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, Inv, out var v) && v > 0 ? v : fallback;

    internal static void Print(string name, string value) => Console.WriteLine($"{name}={value}");

    internal static void Print(string name, double value, string format = "F0") => Console.WriteLine($"{name}={value.ToString(format, Inv)}");

    internal static double Median(List<double> values)
    {
        values.Sort();
        var n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[(n / 2) - 1] + values[n / 2]) / 2;
    }

    private static void Rating()
    {
        var b = new RatingBenchmarks();
        b.Setup();
        var buffer = new SegmentBuffer();
        var single = Workload.SingleRule();
        var schedules = Enumerable.Range(0, Workload.SkuCount).Select(Workload.Schedule).ToArray();
        var naive = schedules.Select(s => new NaiveDecimalRater(s)).ToArray();
        var events = Workload.Events(RatingBenchmarks.EventsPerInvoke, seed: 1);
        var crossing = RatingBenchmarks.CrossingEvents(RatingBenchmarks.EventsPerInvoke);

        Print("rating_single_events_per_s", Throughput(() => RatingBenchmarks.RateSingle(single, events, buffer), events.Length, 1000));
        Print("rating_mixed_events_per_s", Throughput(() => RatingBenchmarks.RateMixed(schedules, events, buffer), events.Length, 500));
        Print("rating_crossing_events_per_s", Throughput(() => RatingBenchmarks.RateMixed(schedules, crossing, buffer), crossing.Length, 300));
        var baseline = Throughput(() => RatingBenchmarks.RateNaive(naive, events), events.Length, 10);
        Print("baseline_decimal_events_per_s", baseline);

        // Bytes: everything this thread allocated while rating 409,600 events of the 24-rule mix, after warm-up.
        RatingBenchmarks.RateMixed(schedules, events, buffer);
        var before = GC.GetAllocatedBytesForCurrentThread();
        long sink = 0;
        for (var i = 0; i < 100; i++)
        {
            sink += RatingBenchmarks.RateMixed(schedules, events, buffer);
        }
        var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Print("rating_bytes_per_event", (double)bytes / (100.0 * events.Length), "F3");
        Print("rating_mixed_vs_baseline", Throughput(() => RatingBenchmarks.RateMixed(schedules, events, buffer), events.Length, 500) / baseline, "F1");
        GC.KeepAlive(sink);
    }

    /// <summary>Median events per second over 7 timed runs of <paramref name="repeat"/> calls, after 2 warm-up runs.</summary>
    private static double Throughput(Func<long> work, int eventsPerCall, int repeat)
    {
        var rates = new List<double>();
        long sink = 0;
        for (var run = 0; run < 9; run++)
        {
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < repeat; i++)
            {
                sink += work();
            }
            sw.Stop();
            if (run >= 2)
            {
                rates.Add(eventsPerCall * (double)repeat / sw.Elapsed.TotalSeconds);
            }
        }
        GC.KeepAlive(sink);
        return Median(rates);
    }

    private static async Task<AllocationStore> NewStoreAsync(string path, bool durable = true, int pageCacheMb = 0) =>
        await AllocationStore.OpenAsync(path, pageCacheMb > 0
            ? new AllocationStoreOptions { DurableWrites = durable, PageCacheMegabytes = pageCacheMb }
            : new AllocationStoreOptions { DurableWrites = durable });

    /// <summary>Keyed batch ingest: batches of 10,000 through RecordBatchAsync; the median batch rate.</summary>
    private static async Task<(double EventsPerSecond, string Path)> IngestAsync(string directory, int count, bool keys = true, bool attributes = true, bool durable = true, string name = "ingest", int pageCacheMb = 0)
    {
        var path = Path.Combine(directory, name + ".db");
        using var store = await NewStoreAsync(path, durable, pageCacheMb);
        var (_, allocations) = await Workload.SetUpAsync(store);
        var events = Workload.Events(count, seed: 11);
        var rates = new List<double>();
        for (var offset = 0; offset < count; offset += Workload.BatchSize)
        {
            var batch = new List<UsageRecord>(Workload.BatchSize);
            for (var i = offset; i < Math.Min(count, offset + Workload.BatchSize); i++)
            {
                var record = Workload.ToRecord(events[i], allocations);
                batch.Add(new UsageRecord(record.Allocation, record.Sku, record.Quantity, record.Start, record.End, record.Status,
                    keys ? record.ExternalKey : null, attributes ? record.Attributes : null));
            }
            var sw = Stopwatch.StartNew();
            var result = await store.RecordBatchAsync(Workload.Admin, batch);
            sw.Stop();
            if (result.Recorded != batch.Count)
            {
                throw new InvalidOperationException($"expected {batch.Count} new events, got {result.Recorded}");
            }
            rates.Add(batch.Count / sw.Elapsed.TotalSeconds);
        }
        return (Median(rates), path);
    }

    /// <summary>The raw-SQLite limit: the same event rows (same columns, keys and attributes text, rated amounts computed
    /// beforehand) inserted into the same schema by one prepared statement, 10,000 rows per transaction — no rating,
    /// no key look-ups, no segments, no totals. With <c>segments</c>, one segment row per event as well.</summary>
    private sealed class RawInserter : IDisposable
    {
        private readonly SqliteConnection connection;
        private readonly Workload.RawEvent[] events;
        private readonly long[] amounts;
        private readonly string[] attributes;
        private readonly long orgId;
        private readonly long[] allocationIds;
        private readonly long[] skuIds = new long[Workload.SkuCount];
        private readonly bool segments;

        private RawInserter(SqliteConnection connection, Workload.RawEvent[] events, long orgId, long[] allocationIds, bool segments)
        {
            this.connection = connection;
            this.events = events;
            this.orgId = orgId;
            this.allocationIds = allocationIds;
            this.segments = segments;
            var schedules = Enumerable.Range(0, Workload.SkuCount).Select(Workload.Schedule).ToArray();
            amounts = events.Select(e => Rater.Rate(schedules[e.Sku], Workload.Basis(e.Sku), e.QuantityMicros, e.StartNs, e.EndNs, (List<SegmentNs>?)null)).ToArray();
            attributes = events.Select(e => $"{{\"user\":\"{e.User}\"}}").ToArray();
            using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;";
            pragma.ExecuteNonQuery();
            pragma.CommandText = "SELECT id FROM skus ORDER BY code_key";
            using var reader = pragma.ExecuteReader();
            for (var i = 0; reader.Read(); i++)
            {
                skuIds[i] = reader.GetInt64(0);
            }
        }

        internal static async Task<RawInserter> CreateAsync(string path, Workload.RawEvent[] events, bool segments = false)
        {
            long orgId;
            long[] allocationIds;
            using (var store = await NewStoreAsync(path))
            {
                var (org, allocations) = await Workload.SetUpAsync(store);
                orgId = org.Value;
                allocationIds = allocations.Select(a => a.Value).ToArray();
            }
            SqliteConnection.ClearAllPools();
            var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, ForeignKeys = true, Pooling = false }.ToString());
            connection.Open();
            return new RawInserter(connection, events, orgId, allocationIds, segments);
        }

        /// <summary>Inserts events [offset, end) in one transaction; returns rows per second.</summary>
        internal double InsertBatch(int offset, int end)
        {
            var recordedNs = InstantCodec.ToNsUnchecked(Instant.FromUtc(2027, 1, 1, 0, 0));
            var sw = Stopwatch.StartNew();
            using var transaction = connection.BeginTransaction();
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText =
                "INSERT INTO usage_events (org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by) " +
                "VALUES ($org, $alloc, $sku, $qty, $start, $end, 2, $key, $amount, NULL, $attrs, $recNs, $recBy)" + (segments ? " RETURNING id" : "");
            foreach (var name in new[] { "$org", "$alloc", "$sku", "$qty", "$start", "$end", "$key", "$amount", "$attrs", "$recNs", "$recBy" })
            {
                insert.Parameters.Add(new SqliteParameter { ParameterName = name });
            }
            insert.Prepare();
            using var segment = connection.CreateCommand();
            segment.Transaction = transaction;
            segment.CommandText = "INSERT INTO event_segments (event_id, seq, start_ns, end_ns, rule_id, rate, amount) VALUES ($e, 0, $s, $t, 1, 1, $a)";
            foreach (var name in new[] { "$e", "$s", "$t", "$a" })
            {
                segment.Parameters.Add(new SqliteParameter { ParameterName = name });
            }
            segment.Prepare();
            var p = insert.Parameters;
            for (var i = offset; i < end; i++)
            {
                ref readonly var e = ref events[i];
                p[0].Value = orgId;
                p[1].Value = allocationIds[e.Allocation % allocationIds.Length];
                p[2].Value = skuIds[e.Sku];
                p[3].Value = e.QuantityMicros;
                p[4].Value = e.StartNs;
                p[5].Value = e.EndNs;
                p[6].Value = e.Key;
                p[7].Value = amounts[i];
                p[8].Value = attributes[i];
                p[9].Value = recordedNs;
                p[10].Value = Workload.Admin.Id;
                if (!segments)
                {
                    insert.ExecuteNonQuery();
                    continue;
                }
                segment.Parameters[0].Value = (long)insert.ExecuteScalar()!;
                segment.Parameters[1].Value = e.StartNs;
                segment.Parameters[2].Value = e.EndNs;
                segment.Parameters[3].Value = amounts[i];
                segment.ExecuteNonQuery();
            }
            transaction.Commit();
            return (end - offset) / sw.Elapsed.TotalSeconds;
        }

        public void Dispose() => connection.Dispose();
    }

    private static async Task<double> RawSqliteAsync(string directory, int count, bool segments = false, string file = "raw")
    {
        using var raw = await RawInserter.CreateAsync(Path.Combine(directory, file + ".db"), Workload.Events(count, seed: 11), segments);
        var rates = new List<double>();
        for (var offset = 0; offset < count; offset += Workload.BatchSize)
        {
            rates.Add(raw.InsertBatch(offset, Math.Min(count, offset + Workload.BatchSize)));
        }
        return Median(rates);
    }

    /// <summary>Keyed batch ingest and the raw baseline over the same events, batch for batch in alternation, so that
    /// both see the same load on a busy machine: medians of per-batch rates.</summary>
    private static async Task<(double Ingest, double Raw, string Path)> IngestVsRawAsync(string directory, int count)
    {
        var path = Path.Combine(directory, "ingest.db");
        using var store = await NewStoreAsync(path);
        var (_, allocations) = await Workload.SetUpAsync(store);
        var events = Workload.Events(count, seed: 11);
        using var raw = await RawInserter.CreateAsync(Path.Combine(directory, "raw.db"), events);
        var ingestRates = new List<double>();
        var rawRates = new List<double>();
        var ingestCpu = new List<double>();
        var rawCpu = new List<double>();
        for (var offset = 0; offset < count; offset += Workload.BatchSize)
        {
            var end = Math.Min(count, offset + Workload.BatchSize);
            var batch = new List<UsageRecord>(end - offset);
            for (var i = offset; i < end; i++)
            {
                batch.Add(Workload.ToRecord(events[i], allocations));
            }
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            var result = await store.RecordBatchAsync(Workload.Admin, batch);
            sw.Stop();
            ingestCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / batch.Count);
            if (result.Recorded != batch.Count)
            {
                throw new InvalidOperationException($"expected {batch.Count} new events, got {result.Recorded}");
            }
            ingestRates.Add(batch.Count / sw.Elapsed.TotalSeconds);
            cpu = Process.GetCurrentProcess().TotalProcessorTime;
            rawRates.Add(raw.InsertBatch(offset, end));
            rawCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / batch.Count);
        }
        // CPU time per event (all threads of the process): steadier than rates on a loaded machine, and blind to the
        // time spent waiting for the disk.
        Print("ingest_cpu_us_per_event", Median(ingestCpu), "F1");
        Print("raw_sqlite_cpu_us_per_row", Median(rawCpu), "F1");
        Print("ingest_batches", ingestRates.Count);
        return (Median(ingestRates), Median(rawRates), path);
    }

    /// <summary>Where ingest time goes, measured by taking one thing away at a time (same events, fresh files).</summary>
    private static async Task BreakdownAsync(string directory, int count)
    {
        Print("breakdown_ingest_full", (await IngestAsync(directory, count, name: "b1")).EventsPerSecond);
        Print("breakdown_ingest_no_keys", (await IngestAsync(directory, count, keys: false, name: "b2")).EventsPerSecond);
        Print("breakdown_ingest_no_attributes", (await IngestAsync(directory, count, attributes: false, name: "b3")).EventsPerSecond);
        Print("breakdown_ingest_durable_false", (await IngestAsync(directory, count, durable: false, name: "b4")).EventsPerSecond);
        Print("breakdown_ingest_page_cache_2mb", (await IngestAsync(directory, count, name: "b7", pageCacheMb: 2)).EventsPerSecond);
        Print("breakdown_raw_events", await RawSqliteAsync(directory, count, file: "b5"));
        Print("breakdown_raw_events_and_one_segment", await RawSqliteAsync(directory, count, segments: true, file: "b6"));
    }

    /// <summary>One event per call (RecordUsageAsync) and one hold per call (ReserveAsync), single thread, default
    /// durability: each call is its own committed, fsynced transaction.</summary>
    private static async Task SingleAndReserveAsync(string path)
    {
        using var store = await NewStoreAsync(path);
        var allocations = (await store.ListAllocationsAsync(Workload.Admin, new OrganizationId(1))).Select(a => a.Id).ToArray();
        var events = Workload.Events(4000, seed: 99, allocations.Length);
        var start = Workload.MonthStart(3);
        Print("record_single_per_s", await CallsPerSecondAsync(2000, i => store.RecordUsageAsync(Workload.Admin, Workload.ToRecord(events[i], allocations))));
        var reserveSingle = await CallsPerSecondAsync(2000, i => store.ReserveAsync(
            Workload.Admin,
            new UsageRecord(allocations[i % allocations.Length], Workload.Sku(i % 6), Quantity.FromMicros(4_000_000), start, start + Duration.FromHours(1), UsageStatus.Estimated)));
        Print("reserve_per_s", reserveSingle);
        // 8 callers at once on distinct children of one parent, measured right after the single caller.
        var children = await ChildrenOfOneParentAsync(store, 8);
        var (reserveConcurrent, groups, inFlight) = ConcurrentReserves(store, children, start);
        Print("reserve_concurrent_per_s", reserveConcurrent);
        Print("reserve_concurrent_vs_single", reserveConcurrent / reserveSingle, "F2");
        Print("reserve_concurrent_callers_in_flight", inFlight);
        PrintGroups("reserve", groups);
        // The physical bound of closed-loop callers that each wait for a durable commit: a caller has at most one call
        // per commit in flight, so 8 callers complete at most 8 calls per commit, whatever else is free.
        var commitUs = DurableCommitMicros(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "commit-floor.db"));
        // With the work of every call run in turn on the one write connection, a group of n calls takes at least one
        // commit plus n calls' work, so n callers complete at most n / (commit + n × work) calls per second.
        var workUs = groups.Calls == 0 ? 0 : groups.WorkTime.TotalMicroseconds / groups.Calls;
        var boundWithWork = children.Length * 1e6 / (commitUs + (children.Length * workUs));
        Print("commit_fsync_us", commitUs, "F1");
        Print("reserve_bound_per_s", children.Length * 1e6 / commitUs);
        Print("reserve_bound_with_work_per_s", boundWithWork);
        Print("reserve_concurrent_vs_bound_with_work", reserveConcurrent / boundWithWork, "F2");
        // The floor under any single-call write: a transaction through the same engine that rewrites one row with
        // its own value (BEGIN IMMEDIATE, one UPDATE, COMMIT with the same durability: one WAL append and fsync).
        var first = (await store.ListAllocationsAsync(Workload.Admin, new OrganizationId(1)))[0];
        Print("one_row_write_tx_per_s", await CallsPerSecondAsync(2000, _ => store.Engine.WriteAsync(s => { s.SetTotal(first.Id.Value, first.Total.Micros); return 0; }, CancellationToken.None)));
        // What one more statement costs inside a call: the same transaction plus 8 single-row reads (each compiled
        // afresh, as every statement of a single call is: Microsoft.Data.Sqlite keeps no statement cache).
        Print("one_row_write_tx_plus_8_reads_per_s", await CallsPerSecondAsync(2000, _ => store.Engine.WriteAsync(
            s =>
            {
                for (var i = 0; i < 8; i++)
                {
                    s.GetAllocation(first.Id.Value);
                }
                s.SetTotal(first.Id.Value, first.Total.Micros);
                return 0;
            },
            CancellationToken.None)));
        if (Environment.GetEnvironmentVariable("ALLOC_BENCH_RESERVE_PARTS") == "1")
        {
            var hold = new UsageRecord(allocations[7], Workload.Sku(1), Quantity.FromMicros(1_000_000), start, start + Duration.FromHours(1), UsageStatus.Estimated);
            Print("reserve_part_plan_per_s", await CallsPerSecondAsync(2000, _ => store.Engine.WriteAsync(
                s => new Recording.UsageWriter(s, Workload.Admin, 0) { Catalogue = store.Catalogue }.Plan(hold, Access.Operation.Reserve, UsageStatus.Estimated), CancellationToken.None)));
            Print("reserve_part_plan_fit_per_s", await CallsPerSecondAsync(2000, _ => store.Engine.WriteAsync(
                s =>
                {
                    var w = new Recording.UsageWriter(s, Workload.Admin, 0) { Catalogue = store.Catalogue };
                    return w.Fit(w.Plan(hold, Access.Operation.Reserve, UsageStatus.Estimated));
                },
                CancellationToken.None)));
            Print("reserve_part_plan_fit_apply_flush_per_s", await CallsPerSecondAsync(2000, _ => store.Engine.WriteAsync(
                s =>
                {
                    var w = new Recording.UsageWriter(s, Workload.Admin, 0) { Catalogue = store.Catalogue };
                    var plan = w.Plan(hold, Access.Operation.Reserve, UsageStatus.Estimated);
                    w.Fit(plan);
                    w.Apply(plan);
                    w.Flush();
                    return 0;
                },
                CancellationToken.None)));
        }
        store.Dispose();

        using var fast = await NewStoreAsync(path, durable: false);
        Print("one_row_write_tx_per_s_durable_false", await CallsPerSecondAsync(2000, _ => fast.Engine.WriteAsync(s => { s.SetTotal(first.Id.Value, first.Total.Micros); return 0; }, CancellationToken.None)));
        Print("reserve_per_s_durable_false", await CallsPerSecondAsync(2000, i => fast.ReserveAsync(
            Workload.Admin,
            new UsageRecord(allocations[i % allocations.Length], Workload.Sku(i % 6), Quantity.FromMicros(4_000_000), start, start + Duration.FromHours(2), UsageStatus.Estimated))));
        // The same 8 callers without the flush to disk: what the calls' own work allows.
        var (fastConcurrent, fastGroups, _) = ConcurrentReserves(fast, children, start + Duration.FromDays(1));
        Print("reserve_concurrent_per_s_durable_false", fastConcurrent);
        PrintGroups("reserve_durable_false", fastGroups);
    }

    /// <summary>The median time of one durable commit on this disk, in µs: a SQLite file in write-ahead-log mode with
    /// the store's default durability (<c>synchronous=FULL</c>), each transaction changing one row (a row rewritten
    /// with its own value would write nothing: SQLite skips an unchanged row, and a commit with no page to write has
    /// nothing to flush), committed 300 times after 20 to warm up. Nothing of the library runs: it is the floor of any durable
    /// commit through SQLite here.</summary>
    private static double DurableCommitMicros(string file)
    {
        File.Delete(file);
        File.Delete(file + "-wal");
        File.Delete(file + "-shm");
        using var connection = new SqliteConnection($"Data Source={file};Pooling=False");
        connection.Open();
        using (var setup = connection.CreateCommand())
        {
            setup.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t VALUES (1, 1);";
            setup.ExecuteNonQuery();
        }
        using var update = connection.CreateCommand();
        update.CommandText = "UPDATE t SET v = v + 1 WHERE id = 1";
        var times = new List<double>();
        for (var i = 0; i < 320; i++)
        {
            var started = Stopwatch.GetTimestamp();
            using (var transaction = connection.BeginTransaction())
            {
                update.Transaction = transaction;
                update.ExecuteNonQuery();
                transaction.Commit();
            }
            if (i >= 20)
            {
                times.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            }
        }
        connection.Close();
        File.Delete(file);
        File.Delete(file + "-wal");
        File.Delete(file + "-shm");
        return Median(times);
    }

    /// <summary>How the write groups of a concurrent run went: mean calls per commit, time per commit (for a durable
    /// store mostly the flush to disk) and work per call (planning, rating, the statements, in its savepoint).</summary>
    private static void PrintGroups(string prefix, Storage.WriteGroupStatistics groups)
    {
        Print(prefix + "_calls_per_commit", groups.CallsPerCommit, "F2");
        Print(prefix + "_largest_group", groups.LargestGroup);
        Print(prefix + "_commit_us", groups.Commits == 0 ? 0 : groups.CommitTime.TotalMicroseconds / groups.Commits, "F1");
        Print(prefix + "_work_us_per_call", groups.Calls == 0 ? 0 : groups.WorkTime.TotalMicroseconds / groups.Calls, "F1");
    }

    private static Storage.WriteGroupStatistics Groups(AllocationStore store) => ((Storage.SqliteStorageEngine)store.Engine).GroupStatistics;

    /// <summary>Median calls per second over windows of 200 calls, at most <paramref name="calls"/> calls or 8 seconds.</summary>
    private static async Task<double> CallsPerSecondAsync<T>(int calls, Func<int, Task<T>> call)
    {
        for (var i = 0; i < 50; i++)
        {
            await call(calls + i);
        }
        var rates = new List<double>();
        var budget = Stopwatch.StartNew();
        for (var window = 0; window * 200 < calls && budget.Elapsed < TimeSpan.FromSeconds(8); window++)
        {
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < 200; i++)
            {
                await call((window * 200) + i);
            }
            rates.Add(200 / sw.Elapsed.TotalSeconds);
        }
        return Median(rates);
    }

    /// <summary>The first <paramref name="count"/> children of the first parent that has that many.</summary>
    private static async Task<AllocationId[]> ChildrenOfOneParentAsync(AllocationStore store, int count)
    {
        var all = await store.ListAllocationsAsync(Workload.Admin, new OrganizationId(1));
        return all
            .Where(a => a.ParentId is not null)
            .GroupBy(a => a.ParentId!.Value)
            .First(g => g.Count() >= count)
            .Take(count)
            .Select(a => a.Id)
            .ToArray();
    }

    /// <summary>Holds per second with one caller per allocation, all callers at once (each on its own thread, started
    /// together, each with its next call in flight as soon as the last returned), on distinct children of one parent:
    /// every hold also moves the shared parent's figures. The median over rounds of 50 calls per caller, after one
    /// warm-up round, at most 7 rounds or 10 seconds; with the write groups of the measured rounds and the most calls
    /// seen in flight at once.</summary>
    private static (double PerSecond, Storage.WriteGroupStatistics Groups, int InFlight) ConcurrentReserves(AllocationStore store, AllocationId[] children, Instant start)
    {
        const int callsPerCaller = 50;
        var rates = new List<double>();
        var budget = Stopwatch.StartNew();
        var before = default(Storage.WriteGroupStatistics);
        var inFlight = 0;
        var mostInFlight = 0;
        for (var round = 0; round < 8 && (round < 2 || budget.Elapsed < TimeSpan.FromSeconds(10)); round++)
        {
            if (round == 1)
            {
                before = Groups(store);
            }
            using var ready = new Barrier(children.Length + 1);
            var threads = children.Select((child, caller) => new Thread(() =>
            {
                ready.SignalAndWait();
                for (var i = 0; i < callsPerCaller; i++)
                {
                    var at = start + Duration.FromMinutes((round * callsPerCaller) + i);
                    var now = Interlocked.Increment(ref inFlight);
                    for (var seen = Volatile.Read(ref mostInFlight); now > seen; seen = Volatile.Read(ref mostInFlight))
                    {
                        Interlocked.CompareExchange(ref mostInFlight, now, seen);
                    }
                    var result = store.ReserveAsync(
                        Workload.Admin,
                        new UsageRecord(child, Workload.Sku(caller % 6), Quantity.FromMicros(1_000_000), at, at + Duration.FromHours(1), UsageStatus.Estimated))
                        .GetAwaiter().GetResult();
                    Interlocked.Decrement(ref inFlight);
                    if (!result.Reserved)
                    {
                        throw new InvalidOperationException($"a hold on {child} did not fit");
                    }
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            ready.SignalAndWait();
            var sw = Stopwatch.StartNew();
            threads.ForEach(t => t.Join());
            sw.Stop();
            if (round > 0)
            {
                rates.Add(children.Length * callsPerCaller / sw.Elapsed.TotalSeconds);
            }
        }
        var after = Groups(store);
        var groups = new Storage.WriteGroupStatistics(
            after.Commits - before.Commits,
            after.Calls - before.Calls,
            after.LargestGroup,
            after.CommitTime - before.CommitTime,
            after.WorkTime - before.WorkTime);
        return (Median(rates), groups, mostInFlight);
    }

    /// <summary>File size after a truncating checkpoint (the write-ahead log folded in), per event.</summary>
    private static double BytesPerEvent(string path, int events)
    {
        SqliteConnection.ClearAllPools();
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            connection.Open();
            using var checkpoint = connection.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            checkpoint.ExecuteNonQuery();
        }
        return new FileInfo(path).Length / (double)events;
    }

    /// <summary>Re-recording running jobs, as a Slurm re-import does: batches of 10,000 new keyed Estimated events, each
    /// followed by the same keys again with a new end (half an hour earlier), which replaces them (re-rated, figures
    /// moved). New and replace batches alternate, so both see the same load; medians of per-batch rates.</summary>
    private static async Task ReplaceAsync(string directory, int count)
    {
        var path = Path.Combine(directory, "replace.db");
        using var store = await NewStoreAsync(path);
        var (_, allocations) = await Workload.SetUpAsync(store);
        var events = Workload.Events(count, seed: 21, allocations.Length);
        var halfHour = Duration.FromMinutes(30);
        var newRates = new List<double>();
        var replaceRates = new List<double>();
        var newCpu = new List<double>();
        var replaceCpu = new List<double>();
        for (var offset = 0; offset < count; offset += Workload.BatchSize)
        {
            var end = Math.Min(count, offset + Workload.BatchSize);
            var fresh = new List<UsageRecord>(end - offset);
            for (var i = offset; i < end; i++)
            {
                var record = Workload.ToRecord(events[i], allocations);
                fresh.Add(new UsageRecord(record.Allocation, record.Sku, record.Quantity, record.Start, record.End, UsageStatus.Estimated, record.ExternalKey, record.Attributes));
            }
            var again = fresh.Select(r => new UsageRecord(r.Allocation, r.Sku, r.Quantity, r.Start, r.End - halfHour, r.Status, r.ExternalKey, r.Attributes)).ToList();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            var recorded = await store.RecordBatchAsync(Workload.Admin, fresh);
            sw.Stop();
            newCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / fresh.Count);
            if (recorded.Recorded != fresh.Count)
            {
                throw new InvalidOperationException($"expected {fresh.Count} new events, got {recorded.Recorded}");
            }
            newRates.Add(fresh.Count / sw.Elapsed.TotalSeconds);
            cpu = Process.GetCurrentProcess().TotalProcessorTime;
            sw.Restart();
            var replaced = await store.RecordBatchAsync(Workload.Admin, again);
            sw.Stop();
            replaceCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / again.Count);
            if (replaced.Replaced != again.Count)
            {
                throw new InvalidOperationException($"expected {again.Count} replaced events, got {replaced.Replaced}");
            }
            replaceRates.Add(again.Count / sw.Elapsed.TotalSeconds);
        }
        var newRate = Median(newRates);
        var replaceRate = Median(replaceRates);
        Print("replace_batches", replaceRates.Count);
        Print("new_estimated_events_per_s", newRate);
        Print("replace_events_per_s", replaceRate);
        Print("replace_vs_new", replaceRate / newRate, "F3");
        // CPU time moves less with the machine's load than the rates: a replace's cost against a new event's, of the same run.
        Print("new_estimated_cpu_us_per_event", Median(newCpu), "F1");
        Print("replace_cpu_us_per_event", Median(replaceCpu), "F1");
    }

    /// <summary>The streamed ingest: records generated lazily, committed in chunks of 10,000, working set sampled at
    /// every progress report and every 100 ms.</summary>
    private static async Task StreamAsync(string directory, int count, bool full)
    {
        var path = Path.Combine(directory, "stream.db");
        using var store = await NewStoreAsync(path);
        var (_, allocations) = await Workload.SetUpAsync(store);
        GC.Collect();
        long peak = Environment.WorkingSet;
        var baseline = peak;
        using var timer = new Timer(_ => InterlockedMax(ref peak, Environment.WorkingSet), null, 0, 100);
        var progress = new SyncProgress(_ => InterlockedMax(ref peak, Environment.WorkingSet));
        var sw = Stopwatch.StartNew();
        var summary = await store.RecordStreamAsync(Workload.Admin, Generate(count, allocations), progress);
        sw.Stop();
        InterlockedMax(ref peak, Environment.WorkingSet);
        Print("stream_events", summary.Items);
        Print("stream_scaled_down", full || count >= 10_000_000 ? "false" : "true (10,000,000 with quick --full)");
        Print("stream_events_per_s", summary.Items / sw.Elapsed.TotalSeconds);
        Print("ingest_peak_working_set_mb", Interlocked.Read(ref peak) / 1048576.0, "F1");
        Print("stream_start_working_set_mb", baseline / 1048576.0, "F1");
    }

    private static IEnumerable<UsageRecord> Generate(int count, AllocationId[] allocations, int months = Workload.Months)
    {
        const int block = 10_000;
        for (var offset = 0; offset < count; offset += block)
        {
            var events = Workload.Events(Math.Min(block, count - offset), seed: 1000 + (offset / block), allocations.Length, months);
            foreach (var e in events)
            {
                yield return Workload.ToRecord(e, allocations);
            }
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }

    private sealed class SyncProgress(Action<IngestSummary> report) : IProgress<IngestSummary>
    {
        public void Report(IngestSummary value) => report(value);
    }

    /// <summary>The allocation table of 10,000 allocations (1,000 parents × 9 children) over the given number of events
    /// spread over three years, read through GetAllocationTableAsync (and ListAllocationsAsync, its rows without the
    /// table's ordering): the median of 21 reads after 3 warm-ups. Then the month's usage report over the same file, or
    /// with <c>--full</c> over 10 million events of 100 allocations (see <see cref="ReportAsync"/>).</summary>
    private static async Task TableAsync(string directory, int eventCount, bool full)
    {
        var fill = Stopwatch.StartNew();
        async Task Build(string file)
        {
            using var setup = await NewStoreAsync(file, durable: false);
            var (_, allocations) = await Workload.SetUpAsync(setup, parents: 1000, months: ReportMonths);
            await setup.RecordStreamAsync(Workload.Admin, Generate(eventCount, allocations, ReportMonths));
        }
        string path;
        if (Environment.GetEnvironmentVariable("ALLOC_BENCH_CACHE") == "1")
        {
            bool cached;
            (path, cached) = await Workload.CachedFileAsync($"table-{eventCount}", Build);
            Print("table_file_cached", cached ? "true" : "false");
        }
        else
        {
            path = Path.Combine(directory, "table.db");
            await Build(path);
        }
        Print("table_fill_s", fill.Elapsed.TotalSeconds, "F1");
        using var store = await NewStoreAsync(path);
        var org = new OrganizationId(1);
        var rows = 0;
        var listTimes = new List<double>();
        var tableTimes = new List<double>();
        var afterWriteTimes = new List<double>();
        var first = (await store.ListAllocationsAsync(Workload.Admin, org))[0];
        for (var i = 0; i < 48; i++)
        {
            // The list and the table alternate, so that both see the same load; then each table follows a write (a
            // total rewritten with its own value), which leaves no connection's snapshot valid: the rows are read from
            // the table again.
            var afterWrite = i >= 24;
            if (afterWrite)
            {
                await store.Engine.WriteAsync(s => { s.SetTotal(first.Id.Value, first.Total.Micros); return 0; }, CancellationToken.None);
            }
            var sw = Stopwatch.StartNew();
            var list = afterWrite ? null : await store.ListAllocationsAsync(Workload.Admin, org);
            sw.Stop();
            var listMs = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            var table = await store.GetAllocationTableAsync(Workload.Admin, org);
            sw.Stop();
            var tableMs = sw.Elapsed.TotalMilliseconds;
            if (i % 24 >= 3)
            {
                (afterWrite ? afterWriteTimes : tableTimes).Add(tableMs);
                if (!afterWrite)
                {
                    listTimes.Add(listMs);
                }
            }
            rows = table.Count;
            if (list is not null && list.Count != rows)
            {
                throw new InvalidOperationException($"the table has {rows} lines but the list {list.Count} allocations");
            }
        }
        if (Environment.GetEnvironmentVariable("ALLOC_BENCH_TABLE_PARTS") == "1")
        {
            TableParts(store);
        }
        Print("table_allocations", rows);
        Print("table_events", eventCount);
        Print("table_scaled_down", eventCount >= 10_000_000 ? "false" : "true (the read does not scan events; quick --full reports over 10,000,000)");
        Print("list_allocations_ms_10k", Median(listTimes), "F2");
        Print("table_ms_10k_allocations", Median(tableTimes), "F2");
        Print("table_ms_10k_allocations_after_a_write", Median(afterWriteTimes), "F2");
        if (!full)
        {
            await ReportAsync(store, eventCount, scaledDown: true);
            return;
        }
        store.Dispose();
        await FullReportAsync();
    }

    /// <summary>Stopwatch breakdown of the table read, each the median of 21 after 3 warm-ups, all in one loop so that
    /// every part sees the same load: an empty read transaction; the row query stepped without reading a value; each
    /// value read through SqliteDataReader by ordinal, unchecked; the rows as the library reads them from the table
    /// (every value's type checked, mapped); the rows as a listing gets them (the connection's snapshot, when nothing
    /// changed); the listing (access levels, domain records, parents first); the table (its ordering).</summary>
    private static void TableParts(AllocationStore store)
    {
        var names = new[] { "empty_transaction", "step", "step_read", "rows_from_table", "rows", "list", "table" };
        var times = names.Select(_ => new List<double>()).ToArray();
        var sql = Storage.SqliteSession.AllocationListSql;
        for (var i = 0; i < 24; i++)
        {
            var sw = Stopwatch.StartNew();
            var parts = new double[names.Length];
            store.Engine.ReadAsync(_ => 0, CancellationToken.None).GetAwaiter().GetResult();
            parts[0] = sw.Elapsed.TotalMilliseconds;
            foreach (var read in new[] { false, true })
            {
                sw.Restart();
                store.Engine.ReadAsync(
                    session =>
                    {
                        var s = (Storage.SqliteSession)session;
                        using var command = s.Connection.CreateCommand();
                        command.Transaction = s.Transaction;
                        command.CommandText = sql;
                        command.Parameters.AddWithValue("$orgId", 1L);
                        using var reader = command.ExecuteReader();
                        long sink = 0;
                        while (reader.Read())
                        {
                            if (read)
                            {
                                for (var c = 0; c < reader.FieldCount; c++)
                                {
                                    sink ^= reader.IsDBNull(c) ? 0 : c is 1 or 3 ? reader.GetString(c).Length : reader.GetInt64(c);
                                }
                            }
                        }
                        return sink;
                    },
                    CancellationToken.None).GetAwaiter().GetResult();
                parts[read ? 2 : 1] = sw.Elapsed.TotalMilliseconds;
            }
            sw.Restart();
            store.Engine.ReadAsync(session => ((Storage.SqliteSession)session).ReadAllocationRows(1).Count, CancellationToken.None).GetAwaiter().GetResult();
            parts[3] = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            store.Engine.ReadAsync(session => session.ListAllocations(1).Count, CancellationToken.None).GetAwaiter().GetResult();
            parts[4] = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            store.ListAllocationsAsync(Workload.Admin, new OrganizationId(1)).GetAwaiter().GetResult();
            parts[5] = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            store.GetAllocationTableAsync(Workload.Admin, new OrganizationId(1)).GetAwaiter().GetResult();
            parts[6] = sw.Elapsed.TotalMilliseconds;
            if (i >= 3)
            {
                for (var p = 0; p < names.Length; p++)
                {
                    times[p].Add(parts[p]);
                }
            }
        }
        for (var p = 0; p < names.Length; p++)
        {
            Print("table_part_" + names[p] + "_ms", Median(times[p]), "F2");
        }
    }

    /// <summary>The month report over 10 million events of 100 allocations (10 parents × 9 children) spread over three
    /// years: the file is built once (<see cref="Workload.BulkFillAsync"/>: the events rated by the library, written
    /// straight into its tables) and kept under the system temp directory, keyed by the workload and schema
    /// versions.</summary>
    private static async Task FullReportAsync()
    {
        var count = Env("ALLOC_BENCH_FULL_REPORT_EVENTS", 10_000_000);
        var timeOrdered = Environment.GetEnvironmentVariable("ALLOC_BENCH_TIME_ORDERED") == "1";
        var fill = Stopwatch.StartNew();
        var (path, cached) = await Workload.CachedFileAsync($"report-{count}{(timeOrdered ? "-time-ordered" : "")}", async file =>
        {
            using var setup = await NewStoreAsync(file, durable: false);
            var (org, allocations) = await Workload.SetUpAsync(setup, parents: 10, months: ReportMonths);
            await Workload.BulkFillAsync(setup, file, org, allocations, count, ReportMonths, timeOrdered);
        });
        Print("report_file", path);
        Print("report_file_cached", cached ? "true" : "false");
        Print("report_file_time_ordered", timeOrdered ? "true (written month by month)" : "false (every block of 10,000 events spans the three years)");
        Print("report_fill_s", fill.Elapsed.TotalSeconds, "F1");
        using var store = await NewStoreAsync(path);
        if (Environment.GetEnvironmentVariable("ALLOC_BENCH_VERIFY_FILL") == "1")
        {
            var verification = await store.VerifyAsync(Workload.Admin, new OrganizationId(1));
            Print("report_fill_discrepancies", verification.Discrepancies.Count);
            Print("report_fill_damage", verification.Damage.Count);
        }
        await ReportAsync(store, count, scaledDown: false);
    }

    /// <summary>Stopwatch breakdown of the month report, medians of 5 after one warm-up, in one loop: the allocations
    /// read; the same plus the segment rows of the month streamed and counted (every value read and checked); the whole
    /// report (access, splitting into days, lines, ordering).</summary>
    private static void ReportParts(AllocationStore store, Instant from, Instant to)
    {
        var names = new[] { "allocations", "allocations_and_rows", "report" };
        var times = names.Select(_ => new List<double>()).ToArray();
        var fromNs = InstantCodec.ToNsUnchecked(from);
        var toNs = InstantCodec.ToNsUnchecked(to);
        long rows = 0;
        for (var i = 0; i < 6; i++)
        {
            var sw = Stopwatch.StartNew();
            store.Engine.ReadAsync(session => session.ListAllocations(1).Count, CancellationToken.None).GetAwaiter().GetResult();
            var a = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            rows = store.Engine.ReadAsync(
                session =>
                {
                    var ids = session.ListAllocations(1).Select(r => r.Id).ToList();
                    long n = 0;
                    foreach (var row in ((Storage.IReportQueries)session).StreamReportSegments(ids, new Storage.EventFilter(fromNs, toNs, null, null, []) { ReadAttributes = false }))
                    {
                        n++;
                    }
                    return n;
                },
                CancellationToken.None).GetAwaiter().GetResult();
            var b = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            store.GetUsageReportAsync(Workload.Admin, new UsageReportRequest(new OrganizationId(1), from, to) { GroupBy = ReportGroups.Allocation, Bucket = CalendarBucket.Day }).GetAwaiter().GetResult();
            var c = sw.Elapsed.TotalMilliseconds;
            if (i > 0)
            {
                times[0].Add(a);
                times[1].Add(b);
                times[2].Add(c);
            }
        }
        Print("report_part_segment_rows", rows);
        for (var p = 0; p < names.Length; p++)
        {
            Print("report_part_" + names[p] + "_ms", Median(times[p]), "F1");
        }
    }

    /// <summary>Three years of events: the month report is over the last month, the middle one, and all time.</summary>
    private const int ReportMonths = 36;

    /// <summary>A month's usage report by allocation × day (all allocations, UTC days): the median of 5 reports after one
    /// warm-up, for the last month of the three years (the usual "last month" report) and for the middle month (half
    /// the history ends after it). The report of every event by allocation (no buckets), once, is the baseline that
    /// grows with the history.</summary>
    private static async Task ReportAsync(AllocationStore store, int eventCount, bool scaledDown)
    {
        var org = new OrganizationId(1);
        async Task<(double Ms, int Rows, int Events)> Once(Instant? from, Instant? to)
        {
            var sw = Stopwatch.StartNew();
            var report = await store.GetUsageReportAsync(Workload.Admin, new UsageReportRequest(org, from, to) { GroupBy = ReportGroups.Allocation, Bucket = CalendarBucket.Day });
            sw.Stop();
            return (sw.Elapsed.TotalMilliseconds, report.Rows.Count, report.Rows.Sum(r => r.Events));
        }
        async Task<(double Ms, int Rows, int Events)> MedianOf(int month)
        {
            var (from, to) = (Workload.MonthStart(month), Workload.MonthStart(month + 1));
            var last = await Once(from, to);
            var times = new List<double>();
            for (var i = 0; i < 5; i++)
            {
                last = await Once(from, to);
                times.Add(last.Ms);
            }
            return (Median(times), last.Rows, last.Events);
        }
        var month = await MedianOf(ReportMonths - 1);
        if (Environment.GetEnvironmentVariable("ALLOC_BENCH_REPORT_PARTS") == "1")
        {
            ReportParts(store, Workload.MonthStart(ReportMonths - 1), Workload.MonthStart(ReportMonths));
        }
        Print("report_events_total", eventCount);
        Print("report_scaled_down", scaledDown ? "true (10,000,000 events with quick --full)" : "false");
        Print("report_month_rows", month.Rows);
        Print("report_month_event_lines", month.Events);
        Print("report_month_ms", month.Ms, "F1");
        var middle = await MedianOf(ReportMonths / 2);
        Print("report_middle_month_rows", middle.Rows);
        Print("report_middle_month_ms", middle.Ms, "F1");
        var allSw = Stopwatch.StartNew();
        await store.GetUsageReportAsync(Workload.Admin, new UsageReportRequest(org) { GroupBy = ReportGroups.Allocation });
        var allTime = allSw.Elapsed.TotalMilliseconds;
        Print("report_all_time_ms", allTime, "F1");
        Print("report_month_vs_all_time", month.Ms / allTime, "F3");
    }
}
