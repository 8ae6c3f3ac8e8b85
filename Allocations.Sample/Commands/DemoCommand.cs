using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;
using NodaTime;

namespace Allocations.Sample.Commands;

/// <summary>The walkthrough: an organization with a core-hours unit whose CPU rate changes mid-month, a parent with
/// two children, usage that spans the rate change, a reservation that is confirmed, and the allocation table.
/// Every write carries an external key, so running the demo again changes nothing and prints the same table.</summary>
internal static class DemoCommand
{
    private static readonly Principal Admin = Principal.User("ada");
    private static readonly UnitCode CoreHours = new("core-hours");
    private static readonly SkuCode Cpu = new("SLURM_CPU_HOUR");
    private static readonly SkuCode Gpu = new("A100_GPU_HOUR");
    private static readonly Instant November1 = Instant.FromUtc(2026, 11, 1, 0, 0);
    private static readonly Instant November15 = Instant.FromUtc(2026, 11, 15, 0, 0);

    internal static async Task<int> RunAsync(string? db)
    {
        var path = db ?? DemoFiles.DefaultPath("demo.db");
        Console.WriteLine($"database: {Path.GetFullPath(path)}");
        using var store = await AllocationStore.OpenAsync(path);

        var org = await GetOrCreateOrganizationAsync(store);
        await SetUpCatalogueAsync(store, org);
        var physics = await GetOrCreateAsync(store, org, new NewAllocation("Physics", CoreHours, Amount.FromDecimal(10_000m)));
        var theory = await GetOrCreateAsync(store, org, new NewAllocation("Physics/Theory", CoreHours, Amount.FromDecimal(4_000m), physics.Id));
        var lab = await GetOrCreateAsync(store, org, new NewAllocation("Physics/Lab", CoreHours, Amount.FromDecimal(3_000m), physics.Id));

        // A 64-core job that runs across the rate change on Nov 15 (1.00 → 1.25 core-hours per core-hour).
        var spanning = await store.RecordUsageAsync(Admin, new UsageRecord(
            theory.Id, Cpu, Quantity.FromDecimal(64m),
            November15 - Duration.FromHours(6), November15 + Duration.FromHours(4),
            UsageStatus.Confirmed, "demo:lab:1001:2026-11-14T18:00Z",
            new Dictionary<string, string> { ["user"] = "alice", ["project"] = "qcd", ["cluster"] = "lab", ["job"] = "1001" }));
        await store.RecordUsageAsync(Admin, new UsageRecord(
            lab.Id, Gpu, Quantity.FromDecimal(2m),
            Instant.FromUtc(2026, 11, 3, 8, 0), Instant.FromUtc(2026, 11, 3, 20, 0),
            UsageStatus.Confirmed, "demo:lab:1002:2026-11-03T08:00Z",
            new Dictionary<string, string> { ["user"] = "bob", ["project"] = "optics" }));

        // Reserve a hold for a job about to start, then confirm it with its final end (once: a later run finds it).
        var reserveStart = Instant.FromUtc(2026, 11, 20, 0, 0);
        const string holdKey = "demo:lab:1003:2026-11-20T00:00Z";
        ReserveResult? hold = null;
        if (await store.FindEventByKeyAsync(Admin, org, holdKey) is { } earlier)
        {
            Console.WriteLine($"the hold {earlier.Id} was reserved and {earlier.Status} on an earlier run");
        }
        else
        {
            hold = await store.ReserveAsync(Admin, new UsageRecord(
                lab.Id, Cpu, Quantity.FromDecimal(128m), reserveStart, reserveStart + Duration.FromHours(8),
                UsageStatus.Estimated, holdKey));
            Console.WriteLine(hold.Reserved
                ? $"reserved {hold.Fit.Amount.ToString(2)} core-hours as {hold.Event!.Id} ({hold.Event.Status})"
                : $"reservation refused: blocked by {hold.Fit.BlockedBy}, short by {hold.Fit.Shortfall.ToString(2)}");
        }
        var tooBig = await store.CheckFitAsync(Admin, new UsageRecord(
            lab.Id, Cpu, Quantity.FromDecimal(512m), reserveStart, reserveStart + Duration.FromHours(48), UsageStatus.Estimated));
        Console.WriteLine($"would a 512-core, 48-hour job fit in Physics/Lab? {(tooBig.Fits ? "yes" : $"no: short by {tooBig.Shortfall.ToString(2)} at {Name(await store.ListAllocationsAsync(Admin, org), tooBig.BlockedBy)}")}");
        if (hold?.Event is { } held)
        {
            var confirmed = (await store.ConfirmAsync(Admin, held.Id, finalEnd: reserveStart + Duration.FromHours(6))).Event;
            Console.WriteLine($"confirmed {confirmed.Id}: ran 6 of 8 hours, charged {confirmed.Amount.ToString(2)} core-hours");
        }

        Console.WriteLine();
        PrintTable(await store.ListAllocationsAsync(Admin, org));

        Console.WriteLine();
        Console.WriteLine($"The spanning job ({spanning.Disposition} this run), 64 cores from {spanning.Event.Interval.Start} to {spanning.Event.Interval.End}:");
        foreach (var segment in spanning.Event.Segments)
        {
            Console.WriteLine($"  {segment.Interval.Start} .. {segment.Interval.End}  {segment.Interval.Duration.TotalHours,4:0.##} h × 64 cores × rate {segment.Rate} = {segment.Amount.ToString(2)} core-hours");
        }
        Console.WriteLine($"  total {spanning.Event.Amount.ToString(2)} core-hours, {spanning.Event.UsdAmount?.ToString(2) ?? "-"} USD");

        var verification = await store.VerifyAsync(Admin, org);
        Console.WriteLine();
        Console.WriteLine(verification.IsClean
            ? $"verified: {verification.AllocationsChecked} allocations, {verification.EventsChecked} events, figures match"
            : $"VERIFY FAILED: {string.Join("; ", verification.Discrepancies)}");
        Console.WriteLine();
        Console.WriteLine("Read it with the admin tool, for example:");
        Console.WriteLine($"  allocations report --db \"{Path.GetFullPath(path)}\" --org \"Demo Lab\"");
        Console.WriteLine($"  allocations report --db \"{Path.GetFullPath(path)}\" --org \"Demo Lab\" --from 2026-11-01 --to 2026-12-01 --by allocation,user");
        Console.WriteLine($"  allocations export --db \"{Path.GetFullPath(path)}\" --org \"Demo Lab\" --allocation Physics/Theory");
        return verification.IsClean ? 0 : 1;
    }

    private static async Task<OrganizationId> GetOrCreateOrganizationAsync(AllocationStore store)
    {
        var existing = (await store.ListOrganizationsAsync(Principal.System)).FirstOrDefault(o => o.Name == "Demo Lab");
        return existing?.Id ?? (await store.CreateOrganizationAsync(Principal.System, "Demo Lab", Admin.Id)).Id;
    }

    private static async Task SetUpCatalogueAsync(AllocationStore store, OrganizationId org)
    {
        if ((await store.ListUnitsAsync(Admin, org)).Any(u => u.Code == CoreHours))
        {
            return;
        }
        await store.CreateUnitAsync(Admin, org, CoreHours, displayPrecision: 2);
        await store.AddUsdPriceAsync(Admin, org, CoreHours, November1, null, Rate.FromDecimal(0.02m));
        await store.CreateSkuAsync(Admin, org, Cpu, CoreHours, RateBasis.PerHour);
        await store.AddRateRuleAsync(Admin, org, Cpu, November1, null, Rate.FromDecimal(1m));
        await store.ChangeRateAsync(Admin, org, Cpu, November15, Rate.FromDecimal(1.25m));
        await store.CreateSkuAsync(Admin, org, Gpu, CoreHours, RateBasis.PerHour);
        await store.AddRateRuleAsync(Admin, org, Gpu, November1, null, Rate.FromDecimal(32m));
    }

    private static async Task<Allocation> GetOrCreateAsync(AllocationStore store, OrganizationId org, NewAllocation allocation)
    {
        var existing = (await store.ListAllocationsAsync(Admin, org)).FirstOrDefault(a => a.Name == allocation.Name);
        return existing ?? await store.CreateAllocationAsync(Admin, org, allocation);
    }

    private static string Name(IReadOnlyList<Allocation> all, AllocationId? id) =>
        all.FirstOrDefault(a => a.Id == id)?.Name ?? "-";

    internal static void PrintTable(IReadOnlyList<Allocation> allocations)
    {
        Console.WriteLine($"{"Name",-18} {"Unit",-11} {"Total",12} {"Used",12} {"Estimated",12} {"Remaining",12} {"% Used",8}");
        foreach (var a in allocations)
        {
            var name = a.ParentId is null ? a.Name : "  " + a.Name;
            var percent = a.PercentUsed is { } p ? Math.Round(p, 1).ToString("0.0", CultureInfo.InvariantCulture) : "-";
            Console.WriteLine($"{name,-18} {a.Unit,-11} {a.Total.ToString(2),12} {a.Used.ToString(2),12} {a.Estimated.ToString(2),12} {a.Remaining.ToString(2),12} {percent,8}");
        }
    }
}
