using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using NodaTime;

namespace Allocations.Sample.Commands;

/// <summary>Shows access control: a user who can Use an allocation but not Admin it, a user who sees nothing, and the
/// journal that records every change.</summary>
/// <remarks>Usage: <c>demo access [--db FILE]</c>. Uses its own file (demo-access.db in the per-user data folder),
/// started afresh on every run so the output is the same each time; a file given with --db is kept and added to.</remarks>
internal static class AccessCommand
{
    internal static async Task<int> RunAsync(string? db)
    {
        var path = db ?? DemoFiles.DefaultPath("demo-access.db");
        if (db is null)
        {
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }
        }
        Console.WriteLine($"database: {Path.GetFullPath(path)}");
        using var store = await AllocationStore.OpenAsync(path);
        return await ShowAsync(store);
    }

    private static async Task<int> ShowAsync(AllocationStore store)
    {

        // The system actor bootstraps: it creates the organization and names its first admin.
        var org = await store.CreateOrganizationAsync(Principal.System, $"Access demo {Guid.NewGuid():N}"[..20], "alice");
        var alice = Principal.User("alice");
        var bob = Principal.User("bob");
        var eve = Principal.User("eve");
        var cpu = new SkuCode("CPU_HOUR");
        var coreHours = new UnitCode("core-hours");
        await store.CreateUnitAsync(alice, org.Id, coreHours, 2);
        await store.CreateSkuAsync(alice, org.Id, cpu, coreHours, RateBasis.PerHour);
        await store.AddRateRuleAsync(alice, org.Id, cpu, Instant.FromUtc(2026, 1, 1, 0, 0), null, Rate.FromDecimal(1m));
        var physics = await store.CreateAllocationAsync(alice, org.Id, new NewAllocation("Physics", coreHours, Amount.FromDecimal(1000m)));
        var lab = await store.CreateAllocationAsync(alice, org.Id, new NewAllocation("Physics-lab", coreHours, Amount.FromDecimal(200m), physics.Id));

        // Bob's group may Use Physics, and through it Physics-lab; eve is in the organization but holds no grant.
        await store.CreateGroupAsync(alice, org.Id, "physicists");
        await store.AddGroupMemberAsync(alice, org.Id, "physicists", bob.Id);
        await store.CreateGroupAsync(alice, org.Id, "everyone");
        await store.AddGroupMemberAsync(alice, org.Id, "everyone", eve.Id);
        await store.GrantAsync(alice, physics.Id, Grantee.Group("physicists"), AccessLevel.Use);
        Console.WriteLine("alice (org admin) granted Use on Physics to group physicists (bob); eve is in group everyone only.");

        Console.WriteLine();
        Console.WriteLine("bob (Use, inherited on the child):");
        var start = Instant.FromUtc(2026, 11, 20, 8, 0);
        var recorded = await store.RecordUsageAsync(bob, new UsageRecord(lab.Id, cpu, Quantity.FromDecimal(16m), start, start + Duration.FromHours(2)));
        Console.WriteLine($"  recorded {recorded.Event.Amount} core-hours on Physics-lab");
        foreach (var a in await store.ListAllocationsAsync(bob, org.Id))
        {
            Console.WriteLine($"  sees {a.Name,-12} used {a.Used,8} of {a.Total}");
        }
        try
        {
            await store.ChangeTotalAsync(bob, lab.Id, Amount.FromDecimal(5000m), "more, please");
        }
        catch (AccessDeniedException ex)
        {
            Console.WriteLine($"  change total refused: {ex.Message}");
        }

        Console.WriteLine();
        Console.WriteLine("eve (no grant):");
        Console.WriteLine($"  sees {(await store.ListAllocationsAsync(eve, org.Id)).Count} allocations");
        try
        {
            await store.GetAllocationAsync(eve, physics.Id);
        }
        catch (NotFoundException ex)
        {
            Console.WriteLine($"  get Physics: {ex.Message}");
        }
        try
        {
            await store.GetAllocationAsync(eve, new AllocationId(long.MaxValue));
        }
        catch (NotFoundException ex)
        {
            Console.WriteLine($"  get a missing id: {ex.Message}  (the same answer: no existence oracle)");
        }

        Console.WriteLine();
        Console.WriteLine("journal (alice, org admin):");
        foreach (var entry in await store.GetOrganizationJournalAsync(alice, org.Id))
        {
            Console.WriteLine($"  #{entry.Sequence,-4} {entry.At:yyyy-MM-dd HH:mm:ss} {entry.Actor,-6} {entry.Action,-22} {entry.Target}");
        }
        var verification = await store.VerifyJournalAsync(alice, org.Id);
        Console.WriteLine(verification.IsIntact
            ? $"  chain intact: {verification.EntriesChecked} entries, head {verification.HeadHash![..16]}…"
            : $"  chain broken at #{verification.FirstBrokenSequence}: {verification.Problem}");
        return 0;
    }
}
