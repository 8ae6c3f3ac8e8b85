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
    internal static RawEvent[] Events(int count, int seed, int allocationCount = Parents * (ChildrenPerParent + 1), int months = Months)
    {
        var random = new Random(seed);
        var firstNs = InstantCodec.ToNsUnchecked(First);
        var lastNs = InstantCodec.ToNsUnchecked(MonthStart(months));
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
        var path = Path.Combine(directory, $"{name}-w{FileVersion}-s{Storage.Migrations.Latest}.db");
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

    internal static string TempDirectory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "alloc-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return directory;
    }
}
