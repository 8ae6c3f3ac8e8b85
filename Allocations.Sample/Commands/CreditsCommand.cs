using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Sample.Cli;
using NodaTime;

namespace Allocations.Sample.Commands;

/// <summary><c>credits</c>: the second product on the same engine. A <c>credits</c> unit; each resource preset a
/// PerHour SKU with a credits-per-hour rate; storage a PerHour SKU per GB; credits provisioned and purchased as
/// journalled total changes; a month of jobs and storage; then the bill per user, project, cluster and organization.
/// <code>demo credits [--db FILE] [--zone TZ]</code>
/// Uses its own database file (demo-credits.db in the per-user data folder). Every event has an external key and
/// the set-up runs once, so running it again prints the same bill.</summary>
internal static class CreditsCommand
{
    private static readonly UnitCode Credits = new("credits");
    private static readonly SkuCode Storage = new("STORAGE_GB");
    private static readonly Instant PricesFrom = Instant.FromUtc(2026, 1, 1, 0, 0);

    /// <summary>Resource presets: code, description, credits per hour.</summary>
    private static readonly (string Code, string Description, decimal CreditsPerHour)[] Presets =
    [
        ("CPU_SMALL", "2 vCPU, 8 GB RAM", 1m),
        ("CPU_LARGE", "16 vCPU, 64 GB RAM", 6m),
        ("GPU_T4", "1x T4, 8 vCPU", 12m),
        ("GPU_A100X8", "8x A100, 96 vCPU", 220m),
    ];

    private const decimal StorageCreditsPerGbHour = 0.0002m;
    private const decimal UsdPerCredit = 0.10m;

    private static readonly (string Project, decimal Budget, string[] Users)[] Projects =
    [
        ("vision", 12_000m, ["alice", "bob"]),
        ("nlp", 8_000m, ["carol", "dave", "alice"]),
        ("genomics", 3_000m, ["erin"]),
    ];

    internal static async Task<int> RunAsync(string? db, string? zoneId)
    {
        var path = db ?? DemoFiles.DefaultPath("demo-credits.db");
        var zone = Values.Zone(zoneId);
        using var store = await AllocationStore.OpenAsync(path);
        var system = Principal.System;
        var org = (await store.ListOrganizationsAsync(system)).FirstOrDefault(o => o.Name == "Neuro Labs")?.Id ?? default;
        if (org == default)
        {
            Console.WriteLine($"Setting up the credits organization in {path}");
            org = await SetUpAsync(store);
        }
        else
        {
            Console.WriteLine($"Using the credits organization in {path} (set up on an earlier run)");
        }
        var pool = (await store.GetAllocationTableAsync(system, org)).FirstOrDefault(r => r.Depth == 0 && r.Unit == Credits)
            ?? throw new NotFoundException("allocation", "the organization's credits pool");
        var month = new LocalDate(2026, 10, 1);
        // Usage is laid out in UTC whatever --zone says, so a rerun with another zone finds the same events.
        var recorded = await RecordMonthAsync(store, org, month, DateTimeZone.Utc);
        Console.WriteLine($"Recorded {recorded.Recorded} new usage events ({recorded.Unchanged} already there).");
        Console.WriteLine();

        Console.WriteLine("Resource presets (credits per hour):");
        var presets = new TextTable("SKU", "Preset", "Credits/hour").Right("Credits/hour");
        foreach (var (code, description, rate) in Presets)
        {
            presets.Add("PRESET_" + code, description, rate.ToString("0.####", CultureInfo.InvariantCulture));
        }
        presets.Add(Storage.Value, "storage, per GB", StorageCreditsPerGbHour.ToString("0.####", CultureInfo.InvariantCulture));
        presets.Write(Console.Out);
        Console.WriteLine($"1 credit = {UsdPerCredit.ToString(CultureInfo.InvariantCulture)} USD");
        Console.WriteLine();

        Console.WriteLine("Credit top-ups:");
        var history = new TextTable("When", "By", "Old total", "New total", "Reason").Right("Old total", "New total");
        foreach (var change in await store.GetTotalHistoryAsync(system, pool.Id))
        {
            history.Add(change.At.ToString("uuuu-MM-dd", CultureInfo.InvariantCulture), change.Actor, change.OldTotal.ToString(2), change.NewTotal.ToString(2), change.Reason);
        }
        history.Write(Console.Out);
        Console.WriteLine();

        Console.WriteLine("Balances:");
        await ReadCommands.PrintTableAsync(store, org, system, new AllocationTableQuery(), Console.Out);
        var precision = new Precision((await store.ListUnitsAsync(system, org)).ToDictionary(u => u.Code, u => u.DisplayPrecision));
        Console.WriteLine();

        var from = zone.AtStartOfDay(month).ToInstant();
        var to = zone.AtStartOfDay(month.PlusMonths(1)).ToInstant();
        foreach (var (title, key) in new[] { ("Bill per user", "user"), ("Bill per project", "project"), ("Bill per cluster", "cluster") })
        {
            var report = await store.GetUsageReportAsync(system, new UsageReportRequest(org, from, to) { AttributeKeys = [key], Zone = zone });
            Console.WriteLine($"{title}, {month:MMMM uuuu}:");
            ReadCommands.Print(report, Console.Out, precision, key == "user" ? "(project storage)" : "(none)");
            Console.WriteLine();
        }
        var byPreset = await store.GetUsageReportAsync(system, new UsageReportRequest(org, from, to) { GroupBy = ReportGroups.Sku, AttributeKeys = ["project"], Zone = zone });
        Console.WriteLine($"Bill per project and preset, {month:MMMM uuuu}:");
        ReadCommands.Print(byPreset, Console.Out, precision);
        Console.WriteLine();
        var weekly = await store.GetUsageReportAsync(system, new UsageReportRequest(org, from, to) { Bucket = CalendarBucket.Week, Zone = zone });
        Console.WriteLine($"Organization, by week ({zone.Id}):");
        ReadCommands.Print(weekly, Console.Out, precision);
        return 0;
    }

    private static async Task<OrganizationId> SetUpAsync(AllocationStore store)
    {
        var system = Principal.System;
        var org = (await store.CreateOrganizationAsync(system, "Neuro Labs", "ops")).Id;
        var ops = Principal.User("ops");
        await store.CreateUnitAsync(ops, org, Credits, 2);
        await store.AddUsdPriceAsync(ops, org, Credits, PricesFrom, null, Rate.FromDecimal(UsdPerCredit));
        foreach (var (code, _, rate) in Presets)
        {
            var sku = new SkuCode("PRESET_" + code);
            await store.CreateSkuAsync(ops, org, sku, Credits, RateBasis.PerHour);
            await store.AddRateRuleAsync(ops, org, sku, PricesFrom, null, Rate.FromDecimal(rate));
        }
        await store.CreateSkuAsync(ops, org, Storage, Credits, RateBasis.PerHour);
        await store.AddRateRuleAsync(ops, org, Storage, PricesFrom, null, Rate.FromDecimal(StorageCreditsPerGbHour));

        var pool = await store.CreateAllocationAsync(ops, org, new NewAllocation("Neuro Labs credits", Credits, Amount.Zero));
        await store.ChangeTotalAsync(ops, pool.Id, Amount.FromDecimal(20_000m), "provisioned by the cluster administrator");
        await store.ChangeTotalAsync(ops, pool.Id, Amount.FromDecimal(25_000m), "purchase: 5,000 credits by credit card in the console");
        foreach (var (project, budget, _) in Projects)
        {
            await store.CreateAllocationAsync(ops, org, new NewAllocation("project " + project, Credits, Amount.FromDecimal(budget), pool.Id));
        }
        return org;
    }

    /// <summary>Records a month of jobs (one event per job, the preset's SKU, attributes user/project/cluster/job) and
    /// of storage (one event per project and day, the level in GB); fixed pseudo-random data, external keys throughout.</summary>
    private static async Task<BatchResult> RecordMonthAsync(AllocationStore store, OrganizationId org, LocalDate month, DateTimeZone zone)
    {
        var table = await store.GetAllocationTableAsync(Principal.System, org);
        var random = new Random(20261001);
        var records = new List<UsageRecord>();
        var monthStart = zone.AtStartOfDay(month).ToInstant();
        var days = CalendarSystem.Iso.GetDaysInMonth(month.Year, month.Month);
        var job = 0;
        foreach (var (project, _, users) in Projects)
        {
            var allocation = table.Single(r => r.Name == "project " + project).Id;
            for (var i = 0; i < 60; i++)
            {
                job++;
                var preset = Presets[random.Next(project == "genomics" ? 2 : Presets.Length - (random.Next(8) == 0 ? 0 : 1))];
                var start = monthStart + Duration.FromMinutes(random.Next(0, (days - 1) * 24 * 60));
                var hours = preset.Code == "GPU_A100X8" ? random.Next(1, 6) : random.Next(1, 30);
                records.Add(new UsageRecord(
                    allocation,
                    new SkuCode("PRESET_" + preset.Code),
                    Quantity.FromDecimal(1m),
                    start,
                    start + Duration.FromHours(hours) + Duration.FromMinutes(random.Next(0, 60)),
                    UsageStatus.Confirmed,
                    $"job:{month:yyyy-MM}:{job}",
                    new Dictionary<string, string>
                    {
                        ["user"] = users[random.Next(users.Length)],
                        ["project"] = project,
                        ["cluster"] = preset.Code.StartsWith("GPU", StringComparison.Ordinal) ? "gpu-east" : "cpu-west",
                        ["job"] = job.ToString(CultureInfo.InvariantCulture),
                    }));
            }
            var gb = 200m * (1 + random.Next(10));
            for (var day = 0; day < days; day++)
            {
                var date = month.PlusDays(day);
                gb += random.Next(0, 40);
                records.Add(new UsageRecord(
                    allocation,
                    Storage,
                    Quantity.FromDecimal(gb),
                    zone.AtStartOfDay(date).ToInstant(),
                    zone.AtStartOfDay(date.PlusDays(1)).ToInstant(),
                    UsageStatus.Confirmed,
                    $"storage:{project}:{date:yyyy-MM-dd}",
                    new Dictionary<string, string> { ["project"] = project, ["cluster"] = "storage" }));
            }
        }
        return await store.RecordBatchAsync(Principal.System, records);
    }
}
