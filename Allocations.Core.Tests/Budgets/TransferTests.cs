using System.Text.Json;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Budgets;

public class TransferTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Nov15 = TestStore.November15;

    /// <summary>A user holding exactly the given levels on the given allocations, through a group of its own.</summary>
    private static async Task<Principal> UserWithAsync(TestStore t, string id, params (Allocation On, AccessLevel Level)[] grants)
    {
        await t.Store.CreateGroupAsync(Admin, t.Organization, "g-" + id);
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "g-" + id, id);
        foreach (var (on, level) in grants)
        {
            await t.Store.GrantAsync(Admin, on.Id, Grantee.Group("g-" + id), level);
        }
        return Principal.User(id);
    }

    [Theory, Engines]
    public async Task Transfer_MovesBudget_FromTheSourcesTotalToTheTargets(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var physics = await t.CreateAllocationAsync("Physics", 1000m);
        var chemistry = await t.CreateAllocationAsync("Chemistry", 100m);

        var result = await t.Store.TransferAsync(Admin, physics.Id, chemistry.Id, Amount.FromDecimal(250.5m), "shared instrument");

        Assert.Equal(Amount.FromDecimal(749.5m), result.Source.Total);
        Assert.Equal(Amount.FromDecimal(350.5m), result.Target.Total);
        Assert.Equal(Amount.FromDecimal(250.5m), result.Amount);
        Assert.False(result.Forced);
        Assert.Equal(physics.Id, result.Source.Id);
        Assert.Equal(chemistry.Id, result.Target.Id);
        Assert.Equal(Amount.FromDecimal(749.5m), (await t.Store.GetAllocationAsync(Admin, physics.Id)).Total);
        Assert.Equal(Amount.FromDecimal(350.5m), (await t.Store.GetAllocationAsync(Admin, chemistry.Id)).Total);
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }

    [Theory, Engines]
    public async Task Transfer_IsKeptInBothTotalHistories_WithTheReason(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var physics = await t.CreateAllocationAsync("Physics", 1000m);
        var chemistry = await t.CreateAllocationAsync("Chemistry", 100m);
        await t.Store.TransferAsync(Admin, physics.Id, chemistry.Id, Amount.FromDecimal(40m), "shared instrument");

        var outgoing = Assert.Single(await t.Store.GetTotalHistoryAsync(Admin, physics.Id));
        Assert.Equal((Amount.FromDecimal(1000m), Amount.FromDecimal(960m)), (outgoing.OldTotal, outgoing.NewTotal));
        Assert.Equal($"transfer to {chemistry.Id}: shared instrument", outgoing.Reason);
        Assert.Equal("user:admin", outgoing.Actor);
        Assert.Equal(t.Clock.GetCurrentInstant(), outgoing.At);
        var incoming = Assert.Single(await t.Store.GetTotalHistoryAsync(Admin, chemistry.Id));
        Assert.Equal((Amount.FromDecimal(100m), Amount.FromDecimal(140m)), (incoming.OldTotal, incoming.NewTotal));
        Assert.Equal($"transfer from {physics.Id}: shared instrument", incoming.Reason);
    }

    [Theory, Engines]
    public async Task Transfer_IsJournalledOnEachSide_NamingTheOtherOnlyByItsId(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var physics = await t.CreateAllocationAsync("Physics", 1000m);
        var chemistry = await t.CreateAllocationAsync("Chemistry", 123m);
        await t.Store.TransferAsync(Admin, physics.Id, chemistry.Id, Amount.FromDecimal(40m), "shared instrument");

        var outgoing = Assert.Single(await t.Store.GetAllocationJournalAsync(Admin, physics.Id), e => e.Action.StartsWith("allocation.transfer", StringComparison.Ordinal));
        Assert.Equal("allocation.transfer-out", outgoing.Action);
        Assert.Equal(physics.Id, outgoing.Allocation);
        using (var after = JsonDocument.Parse(outgoing.After!))
        {
            Assert.Equal("960", after.RootElement.GetProperty("total").GetString());
            Assert.Equal("40", after.RootElement.GetProperty("amount").GetString());
            Assert.Equal(chemistry.Id.ToString(), after.RootElement.GetProperty("to").GetString());
            Assert.Equal("shared instrument", after.RootElement.GetProperty("reason").GetString());
            Assert.False(after.RootElement.GetProperty("forced").GetBoolean());
        }
        Assert.Equal("{\"total\":\"1000\"}", outgoing.Before);
        Assert.DoesNotContain("123", outgoing.Before + outgoing.After, StringComparison.Ordinal); // the target's figures stay on its side

        var incoming = Assert.Single(await t.Store.GetAllocationJournalAsync(Admin, chemistry.Id), e => e.Action.StartsWith("allocation.transfer", StringComparison.Ordinal));
        Assert.Equal("allocation.transfer-in", incoming.Action);
        Assert.Equal(chemistry.Id, incoming.Allocation);
        Assert.Equal("{\"total\":\"123\"}", incoming.Before);
        using (var after = JsonDocument.Parse(incoming.After!))
        {
            Assert.Equal("163", after.RootElement.GetProperty("total").GetString());
            Assert.Equal(physics.Id.ToString(), after.RootElement.GetProperty("from").GetString());
        }
        Assert.DoesNotContain("1000", incoming.Before + incoming.After, StringComparison.Ordinal);
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
    }

    [Theory, Engines]
    public async Task Transfer_MayTakeTheSourceDownToWhatItUsedAndHolds_ButNotOneMicroFurther(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var alice = await t.CreateAllocationAsync("Physics/Alice", 10m, physics);
        var chemistry = await t.CreateAllocationAsync("Chemistry", 0m);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(physics, 5m, Nov15, Nov15 + Duration.FromHours(2))); // 20 used
        await t.Store.ReserveAsync(Admin, TestStore.Cpu1(alice, 3m, Nov15, Nov15 + Duration.FromHours(1), UsageStatus.Estimated)); // 6 held by the child
        var source = await t.Store.GetAllocationAsync(Admin, physics.Id);
        Assert.Equal(Amount.FromDecimal(74m), source.Remaining);

        var before = t.ContentHash();
        var refused = await Assert.ThrowsAsync<ConflictException>(() => t.Store.TransferAsync(Admin, physics.Id, chemistry.Id, Amount.FromMicros(74_000_001), "too much"));
        Assert.Equal(["amount"], refused.Fields);
        Assert.Contains("74.000001", refused.Message, StringComparison.Ordinal);
        Assert.Contains("74", refused.Message.Replace("74.000001", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(before, t.ContentHash());

        var result = await t.Store.TransferAsync(Admin, physics.Id, chemistry.Id, Amount.FromDecimal(74m), "everything free");
        Assert.Equal(Amount.FromDecimal(26m), result.Source.Total);
        Assert.Equal(Amount.Zero, result.Source.Remaining);
        Assert.Equal(Amount.FromDecimal(74m), result.Target.Total);
        Assert.False(result.Forced);
    }

    [Theory, Engines]
    public async Task ForcedTransfer_ByAnOrganizationAdmin_LeavesTheSourceOverrun_AndSaysSo(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var chemistry = await t.CreateAllocationAsync("Chemistry", 0m);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(physics, 10m, Nov15, Nov15 + Duration.FromHours(3))); // 60 used

        var result = await t.Store.TransferAsync(Admin, physics.Id, chemistry.Id, Amount.FromDecimal(90m), "reclaimed", force: true);

        Assert.True(result.Forced);
        Assert.Equal(Amount.FromDecimal(10m), result.Source.Total);
        Assert.Equal(Amount.FromDecimal(-50m), result.Source.Remaining);
        Assert.Equal(Amount.FromDecimal(90m), result.Target.Total);
        var entry = (await t.Store.GetAllocationJournalAsync(Admin, physics.Id)).Single(e => e.Action == "allocation.transfer-out");
        using var after = JsonDocument.Parse(entry.After!);
        Assert.True(after.RootElement.GetProperty("forced").GetBoolean());
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }

    [Theory, Engines]
    public async Task ForcedTransfer_NeverTakesATotalBelowZero(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var chemistry = await t.CreateAllocationAsync("Chemistry", 0m);
        var before = t.ContentHash();
        var ex = await Assert.ThrowsAsync<ConflictException>(() => t.Store.TransferAsync(Admin, physics.Id, chemistry.Id, Amount.FromMicros(100_000_001), "more than all", force: true));
        Assert.Equal(["amount"], ex.Fields);
        Assert.Equal(before, t.ContentHash());
        var all = await t.Store.TransferAsync(Admin, physics.Id, chemistry.Id, Amount.FromDecimal(100m), "all of it", force: true);
        Assert.Equal(Amount.Zero, all.Source.Total);
        Assert.False(all.Forced); // nothing was used or held: it took nothing promised
    }

    [Theory, Engines]
    public async Task ForcedTransfer_ByAnAllocationAdminWhoIsNoOrganizationAdmin_IsDenied_AndChangesNothing(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var chemistry = await t.CreateAllocationAsync("Chemistry", 0m);
        var pi = await UserWithAsync(t, "pi", (physics, AccessLevel.Admin), (chemistry, AccessLevel.Admin));
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(physics, 10m, Nov15, Nov15 + Duration.FromHours(3)));
        var before = t.ContentHash();

        var ex = await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.TransferAsync(pi, physics.Id, chemistry.Id, Amount.FromDecimal(90m), "reclaimed", force: true));
        Assert.Equal(AccessRole.OrganizationAdmin, ex.RequiredRole);
        Assert.Equal(before, t.ContentHash());
        // Unforced, the same admin may move what is free.
        var moved = await t.Store.TransferAsync(pi, physics.Id, chemistry.Id, Amount.FromDecimal(40m), "free part");
        Assert.Equal(Amount.FromDecimal(40m), moved.Target.Total);
    }

    [Theory, Engines]
    public async Task Transfer_NeedsAdminOnTheSource_AndUseOnTheTarget(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var chemistry = await t.CreateAllocationAsync("Chemistry", 10m);
        var biology = await t.CreateAllocationAsync("Biology", 10m);
        var hidden = await t.CreateAllocationAsync("Hidden", 10m);
        var user = await UserWithAsync(t, "pi", (physics, AccessLevel.Admin), (chemistry, AccessLevel.Use), (biology, AccessLevel.Read));
        var before = t.ContentHash();

        var denied = await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.TransferAsync(user, chemistry.Id, physics.Id, Amount.FromDecimal(1m), "Use is not enough to give away"));
        Assert.Equal(AccessLevel.Admin, denied.RequiredLevel);
        Assert.Equal(chemistry.Id, denied.Allocation);
        var readOnly = await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.TransferAsync(user, physics.Id, biology.Id, Amount.FromDecimal(1m), "Read is not enough to receive"));
        Assert.Equal(AccessLevel.Use, readOnly.RequiredLevel);
        Assert.Equal(biology.Id, readOnly.Allocation);
        var unseen = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.TransferAsync(user, physics.Id, hidden.Id, Amount.FromDecimal(1m), "to what it cannot see"));
        var missing = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.TransferAsync(user, physics.Id, new AllocationId(999_999), Amount.FromDecimal(1m), "to nothing"));
        Assert.Equal((missing.Kind, hidden.Id), (unseen.Kind, unseen.Allocation)); // the same answer as a missing id
        Assert.Equal(before, t.ContentHash());

        var result = await t.Store.TransferAsync(user, physics.Id, chemistry.Id, Amount.FromDecimal(30m), "to the lab next door");
        Assert.Equal(Amount.FromDecimal(70m), result.Source.Total);
        Assert.Equal(Amount.FromDecimal(40m), result.Target.Total);
    }

    [Theory, Engines]
    public async Task Transfer_BetweenAParentAndItsChild_MovesTotalsOnly(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var alice = await t.CreateAllocationAsync("Physics/Alice", 10m, physics);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(alice, 1m, Nov15, Nov15 + Duration.FromHours(4))); // 8, on the parent too

        var down = await t.Store.TransferAsync(Admin, physics.Id, alice.Id, Amount.FromDecimal(50m), "more for Alice");
        Assert.Equal((Amount.FromDecimal(50m), Amount.FromDecimal(8m)), (down.Source.Total, down.Source.Used));
        Assert.Equal((Amount.FromDecimal(60m), Amount.FromDecimal(8m)), (down.Target.Total, down.Target.Used));
        var up = await t.Store.TransferAsync(Admin, alice.Id, physics.Id, Amount.FromDecimal(52m), "back to the pool");
        Assert.Equal(Amount.FromDecimal(8m), up.Source.Total);
        Assert.Equal(Amount.FromDecimal(102m), up.Target.Total);
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }

    [Theory, Engines]
    public async Task Transfer_IsRefusedWholly_WhenAnySideIsWrong(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var cash = await t.Store.CreateAllocationAsync(Admin, t.Organization, new NewAllocation("Cash", UnitCode.Usd, Amount.FromDecimal(100m)));
        var before = t.ContentHash();

        var unit = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.TransferAsync(Admin, physics.Id, cash.Id, Amount.FromDecimal(1m), "to dollars"));
        Assert.Equal(("to", cash.Id.ToString()), (unit.Field, unit.Value));
        Assert.Contains("USD", unit.Rule, StringComparison.Ordinal);
        var self = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.TransferAsync(Admin, physics.Id, physics.Id, Amount.FromDecimal(1m), "in place"));
        Assert.Equal(("to", physics.Id.ToString()), (self.Field, self.Value));
        var zero = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.TransferAsync(Admin, physics.Id, cash.Id, Amount.Zero, "nothing"));
        Assert.Equal(("amount", "0"), (zero.Field, zero.Value));
        Assert.Equal(before, t.ContentHash());
        Assert.Empty(await t.Store.GetTotalHistoryAsync(Admin, physics.Id));
    }

    /// <summary>Transfers back and forth from several tasks at once, with a reader watching: every snapshot holds the
    /// same sum of the two totals (neither side is ever seen without the other), and the histories hold both sides of
    /// every transfer that succeeded.</summary>
    [Theory, Engines]
    public async Task ConcurrentTransfers_AreAtomic_NoSnapshotSeesOneSideWithoutTheOther(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 500m);
        var b = await t.CreateAllocationAsync("B", 500m);
        var succeeded = 0;
        using var done = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            var snapshots = 0;
            while (!done.IsCancellationRequested || snapshots == 0)
            {
                var all = await t.Store.ListAllocationsAsync(Admin, t.Organization);
                Assert.Equal(Amount.FromDecimal(1000m), all.Single(x => x.Id == a.Id).Total + all.Single(x => x.Id == b.Id).Total);
                snapshots++;
            }
            return snapshots;
        });
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                var (from, to) = (w + i) % 2 == 0 ? (a, b) : (b, a);
                try
                {
                    await t.Store.TransferAsync(Admin, from.Id, to.Id, Amount.FromDecimal(37m + w), $"writer {w} step {i}");
                    Interlocked.Increment(ref succeeded);
                }
                catch (ConflictException)
                {
                    // the source had less than that left: refused whole
                }
            }
        })).ToArray();
        await Task.WhenAll(writers);
        done.Cancel();
        Assert.True(await reader > 0);
        var history = (await t.Store.GetTotalHistoryAsync(Admin, a.Id)).Count + (await t.Store.GetTotalHistoryAsync(Admin, b.Id)).Count;
        Assert.Equal(2 * succeeded, history);
        Assert.True(succeeded > 0);
        var final = await t.Store.ListAllocationsAsync(Admin, t.Organization);
        Assert.Equal(Amount.FromDecimal(1000m), final.Single(x => x.Id == a.Id).Total + final.Single(x => x.Id == b.Id).Total);
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
    }
}
