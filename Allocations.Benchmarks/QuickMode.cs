using System.Diagnostics;
using System.Globalization;
using Allocations.Domain;
using Allocations.Rating;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace Allocations.Benchmarks;

/// <summary><c>quick</c>: every headline figure in under three minutes on a 2-core machine, one <c>name=value</c>
/// per line. Medians of repeated runs; ratios are between figures measured in this same run. <c>quick --full</c> runs
/// the 10-million-event streamed ingest and the 10-million-event table instead of the scaled-down ones.</summary>
internal static class QuickMode
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    internal static async Task<int> RunAsync(string[] args)
    {
        var full = args.Contains("--full") || Environment.GetEnvironmentVariable("ALLOC_BENCH_FULL") == "1";
        var streamEvents = full ? 10_000_000 : Env("ALLOC_BENCH_STREAM_EVENTS", 1_000_000);
        var ingestEvents = Env("ALLOC_BENCH_INGEST_EVENTS", 200_000);
        var tableEvents = full ? 10_000_000 : Env("ALLOC_BENCH_TABLE_EVENTS", 200_000);
        var total = Stopwatch.StartNew();
        Print("mode", full ? "full" : "quick");
        Print("machine", $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}");
        Print("durability", "default (DurableWrites=true: WAL, synchronous=FULL)");
        Print("load_average_at_start", File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a");

        var only = args.FirstOrDefault(a => a.StartsWith("--only=", StringComparison.Ordinal))?["--only=".Length..];
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
                Print("ingest_events_per_s", (await IngestAsync(directory, ingestEvents)).EventsPerSecond);
                return 0;
            }
            if (only == "reserve")
            {
                var (_, _, path) = await IngestVsRawAsync(directory, 20_000);
                await SingleAndReserveAsync(path);
                return 0;
            }
            if (only == "table")
            {
                await TableAsync(directory, tableEvents, full);
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
            await SingleAndReserveAsync(ingestPath);
            await StreamAsync(directory, streamEvents, full);
            await TableAsync(directory, tableEvents, full);
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

    private static void Print(string name, string value) => Console.WriteLine($"{name}={value}");

    private static void Print(string name, double value, string format = "F0") => Console.WriteLine($"{name}={value.ToString(format, Inv)}");

    private static double Median(List<double> values)
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

    private static async Task<AllocationStore> NewStoreAsync(string path, bool durable = true) =>
        await AllocationStore.OpenAsync(path, new AllocationStoreOptions { DurableWrites = durable });

    /// <summary>Keyed batch ingest: batches of 10,000 through RecordBatchAsync; the median batch rate.</summary>
    private static async Task<(double EventsPerSecond, string Path)> IngestAsync(string directory, int count, bool keys = true, bool attributes = true, bool durable = true, string name = "ingest")
    {
        var path = Path.Combine(directory, name + ".db");
        using var store = await NewStoreAsync(path, durable);
        var (_, allocations) = await Workload.SetUpAsync(store);
        var events = Workload.Events(count, seed: 11);
        var rates = new List<double>();
        for (var offset = 0; offset < count; offset += Workload.BatchSize)
        {
            var batch = new List<UsageRecord>(Workload.BatchSize);
            for (var i = offset; i < Math.Min(count, offset + Workload.BatchSize); i++)
            {
                var record = Workload.ToRecord(events[i], allocations);
                batch.Add(record with { ExternalKey = keys ? record.ExternalKey : null, Attributes = attributes ? record.Attributes : null });
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
            rawRates.Add(raw.InsertBatch(offset, end));
        }
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
        Print("reserve_per_s", await CallsPerSecondAsync(2000, i => store.ReserveAsync(
            Workload.Admin,
            new UsageRecord(allocations[i % allocations.Length], Workload.Sku(i % 6), Quantity.FromMicros(4_000_000), start, start + Duration.FromHours(1), UsageStatus.Estimated))));
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
    }

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

    private static IEnumerable<UsageRecord> Generate(int count, AllocationId[] allocations)
    {
        const int block = 10_000;
        for (var offset = 0; offset < count; offset += block)
        {
            var events = Workload.Events(Math.Min(block, count - offset), seed: 1000 + (offset / block), allocations.Length);
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

    /// <summary>The allocation table of 10,000 allocations (1,000 parents × 9 children) over the given number of events,
    /// read through ListAllocationsAsync: the median of 21 reads after 3 warm-ups.</summary>
    private static async Task TableAsync(string directory, int eventCount, bool full)
    {
        var path = Path.Combine(directory, "table.db");
        AllocationId[] allocations;
        using (var setup = await NewStoreAsync(path, durable: false))
        {
            (_, allocations) = await Workload.SetUpAsync(setup, parents: 1000);
            await setup.RecordStreamAsync(Workload.Admin, Generate(eventCount, allocations));
        }
        using var store = await NewStoreAsync(path);
        var org = new OrganizationId(1);
        for (var i = 0; i < 3; i++)
        {
            await store.ListAllocationsAsync(Workload.Admin, org);
        }
        var times = new List<double>();
        var rows = 0;
        for (var i = 0; i < 21; i++)
        {
            var sw = Stopwatch.StartNew();
            var table = await store.ListAllocationsAsync(Workload.Admin, org);
            sw.Stop();
            rows = table.Count;
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        if (Environment.GetEnvironmentVariable("ALLOC_BENCH_TABLE_PARTS") == "1")
        {
            // Stopwatch breakdown: the bare transaction, the row query alone, then the whole call.
            var empty = new List<double>();
            var query = new List<double>();
            for (var i = 0; i < 21; i++)
            {
                var sw = Stopwatch.StartNew();
                await store.Engine.ReadAsync(_ => 0, CancellationToken.None);
                empty.Add(sw.Elapsed.TotalMilliseconds);
                sw.Restart();
                await store.Engine.ReadAsync(session => session.ListAllocations(1).Count, CancellationToken.None);
                query.Add(sw.Elapsed.TotalMilliseconds);
            }
            Print("table_part_empty_transaction_ms", Median(empty), "F2");
            Print("table_part_row_query_ms", Median(query), "F2");
        }
        Print("table_allocations", rows);
        Print("table_events", eventCount);
        Print("table_scaled_down", full || eventCount >= 10_000_000 ? "false" : "true (10,000,000 events with quick --full; the read does not scan events)");
        Print("table_ms_10k_allocations", Median(times), "F2");
    }
}
