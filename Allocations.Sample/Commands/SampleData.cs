using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;
using NodaTime;

namespace Allocations.Sample.Commands;

/// <summary>A small HPC organization with a month of usage, for the report and export commands on a fresh database.</summary>
internal static class SampleData
{
    internal static readonly UnitCode CoreHours = new("core-hours");
    internal static readonly SkuCode Cpu = new("CPU_CORE_HOUR");
    internal static readonly SkuCode Gpu = new("GPU_HOUR");

    internal static async Task<bool> ExistsAsync(AllocationStore store, OrganizationId org)
    {
        try
        {
            await store.ListUnitsAsync(Principal.System, org);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    /// <summary>Seeds the organization; every event has an external key, so seeding twice adds nothing.</summary>
    internal static async Task<OrganizationId> SeedAsync(AllocationStore store)
    {
        var system = Principal.System;
        var org = (await store.CreateOrganizationAsync(system, "Sample University", "admin")).Id;
        var since = Instant.FromUtc(2026, 1, 1, 0, 0);
        await store.CreateUnitAsync(system, org, CoreHours, 2);
        await store.AddUsdPriceAsync(system, org, CoreHours, since, null, Rate.FromDecimal(0.05m));
        await store.CreateSkuAsync(system, org, Cpu, CoreHours, RateBasis.PerHour);
        await store.AddRateRuleAsync(system, org, Cpu, since, null, Rate.FromDecimal(1m));
        await store.CreateSkuAsync(system, org, Gpu, CoreHours, RateBasis.PerHour);
        await store.AddRateRuleAsync(system, org, Gpu, since, null, Rate.FromDecimal(16m));
        var physics = await store.CreateAllocationAsync(system, org, new NewAllocation("Physics", CoreHours, Amount.FromDecimal(150_000m)));
        var theory = await store.CreateAllocationAsync(system, org, new NewAllocation("Physics-Theory", CoreHours, Amount.FromDecimal(40_000m), physics.Id));
        var lab = await store.CreateAllocationAsync(system, org, new NewAllocation("Physics-Lab", CoreHours, Amount.FromDecimal(45_000m), physics.Id));
        var chemistry = await store.CreateAllocationAsync(system, org, new NewAllocation("Chemistry", CoreHours, Amount.FromDecimal(30_000m)));
        await store.CreateAllocationAsync(system, org, new NewAllocation("Biology", CoreHours, Amount.Zero));

        var random = new Random(2026);
        var allocations = new[] { physics, theory, lab, chemistry };
        var users = new[] { "ada", "bob", "chen", "dana" };
        var monthStart = Instant.FromUtc(2026, 10, 1, 0, 0);
        var records = new List<UsageRecord>();
        for (var job = 1; job <= 400; job++)
        {
            var start = monthStart + Duration.FromMinutes(random.Next(0, 31 * 24 * 60));
            var end = start + Duration.FromMinutes(random.Next(10, 24 * 60));
            var gpu = random.Next(5) == 0;
            var running = job > 390;
            records.Add(new UsageRecord(
                allocations[random.Next(allocations.Length)].Id,
                gpu ? Gpu : Cpu,
                Quantity.FromDecimal(gpu ? random.Next(1, 5) : random.Next(1, 33)),
                start,
                end,
                running ? UsageStatus.Estimated : UsageStatus.Confirmed,
                "sample-job-" + job.ToString(CultureInfo.InvariantCulture),
                new Dictionary<string, string>
                {
                    ["user"] = users[random.Next(users.Length)],
                    ["cluster"] = random.Next(3) == 0 ? "gpu-cluster" : "main-cluster",
                    ["job"] = job.ToString(CultureInfo.InvariantCulture),
                }));
        }
        await store.RecordBatchAsync(system, records);
        return org;
    }
}
