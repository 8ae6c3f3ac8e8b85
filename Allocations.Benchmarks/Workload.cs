using Allocations.Domain;
using Allocations.Rating;
using NodaTime;

namespace Allocations.Benchmarks;

/// <summary>The benchmark workload (docs/performance.md): 8 SKUs with 24 monthly rules each, 1,000 allocations (100
/// parents × 9 children), events of 1 hour to 3 days with Slurm-like keys (<c>cluster:jobid:submit</c>).</summary>
internal static class Workload
{
    internal const int SkuCount = 8;
    internal const int Months = 24;
    internal const int Parents = 100;
    internal const int ChildrenPerParent = 9;
    internal const int BatchSize = 10_000;

    internal static readonly Principal Admin = Principal.User("bench-admin");
    internal static readonly UnitCode Unit = new("core-hours");
    internal static readonly Instant First = Instant.FromUtc(2025, 1, 1, 0, 0);

    /// <summary>The end of the 24th month: events end before it.</summary>
    internal static readonly Instant Last = MonthStart(Months);

    internal static Instant MonthStart(int month) =>
        new LocalDate(2025, 1, 1).PlusMonths(month).AtStartOfDayInZone(DateTimeZone.Utc).ToInstant();

    internal static SkuCode Sku(int index) => new($"SKU_{index}");

    /// <summary>SKUs 0–5 are PerHour (node, core, GPU hours), 6–7 PerUnit (licences, jobs).</summary>
    internal static RateBasis Basis(int index) => index < 6 ? RateBasis.PerHour : RateBasis.PerUnit;

    /// <summary>A rate with nine decimals that changes every month.</summary>
    internal static Rate MonthlyRate(int sku, int month) =>
        Rate.FromNanos(1_000_000_000L + (sku * 137_000_000L) + (month * 12_345_679L % 900_000_000L));

    /// <summary>The monthly rules of one SKU over the first <paramref name="months"/> months.</summary>
    internal static IReadOnlyList<RateRule> Rules(int sku, int months = Months) =>
        Enumerable.Range(0, months).Select(m => new RateRule(sku * 100 + m + 1, MonthStart(m), MonthStart(m + 1), MonthlyRate(sku, m))).ToList();

    internal static RateSchedule Schedule(int sku) => RateSchedule.Build(Sku(sku).Value, Rules(sku));

    /// <summary>One rule, open-ended: the single-rule rating case.</summary>
    internal static RateSchedule SingleRule() =>
        RateSchedule.Build("ONE", [new RateRule(1, First, null, Rate.FromNanos(1_234_567_891))]);

    /// <summary>A raw event: what a Slurm importer would hand to the store.</summary>
    internal readonly record struct RawEvent(int Allocation, int Sku, long QuantityMicros, long StartNs, long EndNs, string Key, string User);

    /// <summary>Deterministic events: quantity 1–128 (cores, GPUs, licences), duration 1 h – 3 days, start anywhere in
    /// the 24 months (or the first <paramref name="months"/>); keys unique per <paramref name="seed"/> and index.</summary>
    internal static RawEvent[] Events(int count, int seed, int allocationCount = Parents * (ChildrenPerParent + 1), int months = Months, int? onlyMonth = null)
    {
        var random = new Random(seed);
        var firstNs = InstantCodec.ToNsUnchecked(onlyMonth is { } m ? MonthStart(m) : First);
        var lastNs = InstantCodec.ToNsUnchecked(MonthStart(onlyMonth is { } n ? n + 1 : months));
        const long hour = 3_600_000_000_000L;
        var events = new RawEvent[count];
        for (var i = 0; i < count; i++)
        {
            var duration = random.NextInt64(hour, 72 * hour + 1);
            var start = random.NextInt64(firstNs, lastNs - duration);
            start -= start % 1_000_000_000L; // whole seconds, like sacct
            var quantity = random.Next(1, 129) * 1_000_000L;
            var cluster = (i & 1) == 0 ? "alpha" : "beta";
            var key = $"{cluster}:{(seed * 10_000_000L) + i}:{start / 1_000_000_000L}";
            events[i] = new RawEvent(random.Next(allocationCount), random.Next(SkuCount), quantity, start, start + duration, key, $"u{random.Next(500):D3}");
        }
        return events;
    }

    /// <summary>Creates the catalogue and the allocations in <paramref name="store"/>; returns the organization and the
    /// allocation ids, parents first. The rate rules cover the first <paramref name="months"/> months.</summary>
    internal static async Task<(OrganizationId Org, AllocationId[] Allocations)> SetUpAsync(AllocationStore store, int parents = Parents, int months = Months)
    {
        var org = await store.CreateOrganizationAsync(Principal.System, "Bench", Admin.Id);
        await store.CreateUnitAsync(Admin, org.Id, Unit, 2);
        for (var s = 0; s < SkuCount; s++)
        {
            await store.CreateSkuAsync(Admin, org.Id, Sku(s), Unit, Basis(s));
            foreach (var rule in Rules(s, months))
            {
                await store.AddRateRuleAsync(Admin, org.Id, Sku(s), rule.EffectiveFrom, rule.EffectiveTo, rule.Rate);
            }
        }
        var ids = new List<AllocationId>();
        var children = new List<AllocationId>();
        for (var p = 0; p < parents; p++)
        {
            var parent = await store.CreateAllocationAsync(Admin, org.Id, new NewAllocation($"project-{p:D4}", Unit, Amount.FromDecimal(1_000_000_000m)));
            ids.Add(parent.Id);
            for (var c = 0; c < ChildrenPerParent; c++)
            {
                var child = await store.CreateAllocationAsync(Admin, org.Id, new NewAllocation($"project-{p:D4}-user-{c}", Unit, Amount.FromDecimal(100_000_000m), parent.Id));
                children.Add(child.Id);
            }
        }
        ids.AddRange(children);
        return (org.Id, ids.ToArray());
    }

    internal static UsageRecord ToRecord(in RawEvent e, AllocationId[] allocations) =>
        new(
            allocations[e.Allocation % allocations.Length],
            Sku(e.Sku),
            Quantity.FromMicros(e.QuantityMicros),
            InstantCodec.FromNs(e.StartNs),
            InstantCodec.FromNs(e.EndNs),
            UsageStatus.Confirmed,
            e.Key,
            new Dictionary<string, string> { ["user"] = e.User });

    /// <summary>The version of the benchmark's cached files: bumped whenever what they hold changes (allocations,
    /// events, seeds), so a file built for another version is never reused.</summary>
    internal const int FileVersion = 1;

    /// <summary>A workload file built once and kept under the system temp directory, keyed by
    /// <see cref="FileVersion"/>, the schema version and <paramref name="name"/>: <paramref name="build"/> fills a
    /// fresh file, which is checkpointed and then moved into place, so a build cut short is never taken for a whole one.
    /// Returns the path and whether the file was already there.</summary>
    internal static async Task<(string Path, bool Cached)> CachedFileAsync(string name, Func<string, Task> build)
    {
        var directory = Path.Combine(Path.GetTempPath(), "alloc-bench-cache");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{name}-w{FileVersion}-s{Storage.Migrations.Latest}-{SchemaDigest()}.db");
        if (File.Exists(path))
        {
            return (path, true);
        }
        var building = Path.Combine(directory, $"{name}.building-{Guid.NewGuid():N}.db");
        await build(building);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={building};Pooling=False"))
        {
            connection.Open();
            using var checkpoint = connection.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            checkpoint.ExecuteNonQuery();
        }
        foreach (var suffix in new[] { "-wal", "-shm" })
        {
            File.Delete(building + suffix);
        }
        File.Move(building, path, overwrite: true);
        return (path, false);
    }

    /// <summary>Fills a store that <see cref="SetUpAsync"/> set up with <paramref name="count"/> Confirmed keyed events
    /// (the same events <c>RecordStreamAsync</c> would get from the quick mode's generator), written straight into the
    /// schema's event and segment tables: each event rated by the library's rater against the store's own rules, so
    /// its amount and segments are those the library would store; the allocations' figures and the organization's usage
    /// sums set from the same amounts. The indexes of the events are dropped for the fill and rebuilt from their own
    /// definitions afterwards. No journal entries are written: the file serves reads (the table, reports), not
    /// journal verification.</summary>
    /// <remarks>With <paramref name="timeOrdered"/>, the events are written month by month (each month's in random
    /// order), as an importer records jobs as they end, so a month's rows lie together in the file; otherwise every
    /// block of 10,000 spans the whole history.</remarks>
    internal static async Task BulkFillAsync(AllocationStore store, string path, OrganizationId org, AllocationId[] allocations, int count, int months, bool timeOrdered = false)
    {
        var schedules = new RateSchedule[SkuCount];
        for (var s = 0; s < SkuCount; s++)
        {
            var rules = await store.GetRateRulesAsync(Admin, org, Sku(s));
            schedules[s] = RateSchedule.Build(Sku(s).Value, rules);
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        Execute(connection, "PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;");
        var skuIds = new long[SkuCount];
        for (var s = 0; s < SkuCount; s++)
        {
            skuIds[s] = (long)Scalar(connection, "SELECT id FROM skus WHERE org_id = $org AND code = $code", ("$org", org.Value), ("$code", Sku(s).Value))!;
        }
        var indexes = new List<(string Name, string Sql)>();
        using (var list = connection.CreateCommand())
        {
            list.CommandText = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_events' AND sql IS NOT NULL";
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                indexes.Add((reader.GetString(0), reader.GetString(1)));
            }
        }
        foreach (var (name, _) in indexes)
        {
            Execute(connection, $"DROP INDEX \"{name}\"");
        }
        var firstId = (long)Scalar(connection, "SELECT COALESCE(MAX(id), 0) + 1 FROM usage_events")!;
        var recordedNs = InstantCodec.ToNsUnchecked(Instant.FromUtc(2027, 1, 1, 0, 0));
        var own = new long[allocations.Length];
        var buffer = new SegmentBuffer();
        var id = firstId;
        const int block = 10_000;
        for (var offset = 0; offset < count; offset += block)
        {
            var events = Events(Math.Min(block, count - offset), seed: 1000 + (offset / block), allocations.Length, months, timeOrdered ? (int)((long)offset * months / count) : null);
            using var transaction = connection.BeginTransaction();
            using var insert = Prepared(connection, transaction,
                "INSERT INTO usage_events (id, org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by, source, seg_rule_id, seg_rate) " +
                "VALUES ($id, $org, $alloc, $sku, $qty, $start, $end, 2, $key, $amount, NULL, $attrs, $recNs, $recBy, $src, $segRule, $segRate)",
                "$id", "$org", "$alloc", "$sku", "$qty", "$start", "$end", "$key", "$amount", "$attrs", "$recNs", "$recBy", "$src", "$segRule", "$segRate");
            using var segment = Prepared(connection, transaction,
                "INSERT INTO event_segments (event_id, seq, start_ns, end_ns, rule_id, rate, amount) VALUES ($e, $seq, $s, $t, $rule, $rate, $a)",
                "$e", "$seq", "$s", "$t", "$rule", "$rate", "$a");
            var p = insert.Parameters;
            var q = segment.Parameters;
            foreach (var e in events)
            {
                var schedule = schedules[e.Sku];
                var amount = Rater.Rate(schedule, Basis(e.Sku), e.QuantityMicros, e.StartNs, e.EndNs, buffer);
                var index = e.Allocation % allocations.Length;
                own[index] = checked(own[index] + amount);
                p[0].Value = id;
                p[1].Value = org.Value;
                p[2].Value = allocations[index].Value;
                p[3].Value = skuIds[e.Sku];
                p[4].Value = e.QuantityMicros;
                p[5].Value = e.StartNs;
                p[6].Value = e.EndNs;
                p[7].Value = e.Key;
                p[8].Value = amount;
                p[9].Value = $"{{\"user\":\"{e.User}\"}}";
                p[10].Value = recordedNs;
                p[11].Value = Admin.Id;
                p[12].Value = "user:" + Admin.Id;
                // A single segment spanning the event with its whole amount is stored in the event row, as the library
                // stores it; any other event's segments are rows of event_segments.
                var segments = buffer.Span;
                var inline = segments.Length == 1 && segments[0].StartNs == e.StartNs && segments[0].EndNs == e.EndNs && segments[0].Amount == amount;
                p[13].Value = inline ? schedule.RuleId(segments[0].RuleIndex) : DBNull.Value;
                p[14].Value = inline ? schedule.RateNanos(segments[0].RuleIndex) : DBNull.Value;
                insert.ExecuteNonQuery();
                var seq = 0;
                foreach (var g in inline ? [] : segments)
                {
                    q[0].Value = id;
                    q[1].Value = seq++;
                    q[2].Value = g.StartNs;
                    q[3].Value = g.EndNs;
                    q[4].Value = schedule.RuleId(g.RuleIndex);
                    q[5].Value = schedule.RateNanos(g.RuleIndex);
                    q[6].Value = g.Amount;
                    segment.ExecuteNonQuery();
                }
                id++;
            }
            transaction.Commit();
        }
        foreach (var (_, sql) in indexes)
        {
            Execute(connection, sql);
        }
        using (var transaction = connection.BeginTransaction())
        {
            using var figures = Prepared(connection, transaction, "UPDATE allocations SET own_used = own_used + $own, used = used + $own WHERE id = $id", "$own", "$id");
            using var parent = Prepared(connection, transaction, "UPDATE allocations SET used = used + $own WHERE id = (SELECT parent_id FROM allocations WHERE id = $id)", "$own", "$id");
            for (var i = 0; i < allocations.Length; i++)
            {
                foreach (var command in new[] { figures, parent })
                {
                    command.Parameters[0].Value = own[i];
                    command.Parameters[1].Value = allocations[i].Value;
                    command.ExecuteNonQuery();
                }
            }
            transaction.Commit();
        }
        await store.Engine.WriteAsync(session => { session.RecountOrgUsageSums(org.Value); return 0; }, CancellationToken.None);
        Execute(connection, "ANALYZE");
    }

    private static void Execute(Microsoft.Data.Sqlite.SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(Microsoft.Data.Sqlite.SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return command.ExecuteScalar();
    }

    private static Microsoft.Data.Sqlite.SqliteCommand Prepared(Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction transaction, string sql, params string[] names)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in names)
        {
            command.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter { ParameterName = name });
        }
        command.Prepare();
        return command;
    }

    /// <summary>A digest of the library's migration scripts: a file built under other scripts is never reused, even at
    /// the same schema version.</summary>
    private static string SchemaDigest()
    {
        var assembly = typeof(AllocationStore).Assembly;
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.Contains(".Migrations.", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name + "\n" + reader.ReadToEnd()));
        }
        return Convert.ToHexString(hash.GetHashAndReset())[..8].ToLowerInvariant();
    }

    internal static string TempDirectory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "alloc-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return directory;
    }
}
