using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Budgets;

public class AsOfTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Nov15 = TestStore.November15;

    private static (Amount Total, Amount Used, Amount Estimated, Amount OwnUsed, Amount OwnEstimated, Amount Remaining) Figures(Allocation a) =>
        (a.Total, a.Used, a.Estimated, a.OwnUsed, a.OwnEstimated, a.Remaining);

    [Fact]
    public async Task AsOf_EachInstant_GivesTheFiguresTheStoreShowedThen()
    {
        using var t = await TestStore.CreateAsync();
        var seen = new List<(Instant At, Allocation Parent, Allocation Child)>();
        var parent = await t.CreateAllocationAsync("Physics", 1000m);
        var child = await t.CreateAllocationAsync("Physics-A", 100m, parent);
        async Task Note()
        {
            seen.Add((t.Clock.GetCurrentInstant(), await t.Store.GetAllocationAsync(Admin, parent.Id), await t.Store.GetAllocationAsync(Admin, child.Id)));
            t.Clock.AdvanceMinutes(10);
        }
        await Note();
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 2m, Nov15, Nov15 + Duration.FromHours(3)));
        await Note();
        var hold = await t.Store.ReserveAsync(Admin, TestStore.Cpu1(parent, 1m, Nov15, Nov15 + Duration.FromHours(5), UsageStatus.Estimated));
        await Note();
        await t.Store.ChangeTotalAsync(Admin, child.Id, Amount.FromDecimal(150m), "top-up");
        await Note();
        await t.Store.ConfirmAsync(Admin, hold.Event!.Id, Quantity.FromDecimal(2m));
        await Note();
        var other = await t.CreateAllocationAsync("Chemistry", 10m);
        await t.Store.TransferAsync(Admin, parent.Id, other.Id, Amount.FromDecimal(5m), "loan");
        await Note();
        var held = await t.Store.ReserveAsync(Admin, TestStore.Cpu1(child, 1m, Nov15, Nov15 + Duration.FromHours(1), UsageStatus.Estimated));
        await Note();
        await t.Store.ReleaseAsync(Admin, held.Event!.Id);
        await Note();

        foreach (var (at, p, c) in seen)
        {
            Assert.Equal(Figures(p), Figures(await t.Store.GetAllocationAsOfAsync(Admin, parent.Id, at)));
            Assert.Equal(Figures(c), Figures(await t.Store.GetAllocationAsOfAsync(Admin, child.Id, at)));
            // Between writes, the figures stay those of the last write before.
            Assert.Equal(Figures(c), Figures(await t.Store.GetAllocationAsOfAsync(Admin, child.Id, at + Duration.FromMinutes(9))));
        }
        // The figures moved: the check above compared different states.
        Assert.True(seen.Select(s => Figures(s.Parent)).Distinct().Count() >= 5);
    }

    [Fact]
    public async Task AsOf_SeveralWritesAtOneInstant_GivesTheFiguresAfterTheLast()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        await t.Store.ChangeTotalAsync(Admin, a.Id, Amount.FromDecimal(900m), "cut");
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Nov15, Nov15 + Duration.FromHours(4)));
        var now = await t.Store.GetAllocationAsync(Admin, a.Id);

        var then = await t.Store.GetAllocationAsOfAsync(Admin, a.Id, t.Clock.GetCurrentInstant());

        Assert.Equal(Figures(now), Figures(then));
        Assert.Equal(Amount.FromDecimal(900m), then.Total);
        Assert.Equal(Amount.FromDecimal(8m), then.Used);
    }

    [Fact]
    public async Task AsOf_BeforeTheAllocationExisted_IsRefusedNamingAsOf()
    {
        using var t = await TestStore.CreateAsync();
        var created = t.Clock.GetCurrentInstant();
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        t.Clock.AdvanceHours(1);

        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.GetAllocationAsOfAsync(Admin, a.Id, created - Duration.FromNanoseconds(1)));

        Assert.Equal("asOf", ex.Field);
        Assert.Contains("before " + a.Id + " was created", ex.Message, StringComparison.Ordinal);
        // At the very instant of its creation it exists, with its first total.
        Assert.Equal(Amount.FromDecimal(1000m), (await t.Store.GetAllocationAsOfAsync(Admin, a.Id, created)).Total);
    }

    [Fact]
    public async Task AsOf_AfterTheStoresClock_OrOutOfRange_IsRefusedNamingAsOf()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var now = t.Clock.GetCurrentInstant();

        foreach (var bad in new[] { now + Duration.FromNanoseconds(1), Instant.FromUtc(1850, 1, 1, 0, 0), Instant.MaxValue })
        {
            var one = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.GetAllocationAsOfAsync(Admin, a.Id, bad));
            Assert.Equal("asOf", one.Field);
            var table = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.GetAllocationTableAsOfAsync(Admin, t.Organization, bad));
            Assert.Equal("asOf", table.Field);
        }
        Assert.Equal(Amount.FromDecimal(1000m), (await t.Store.GetAllocationAsOfAsync(Admin, a.Id, now)).Total);
    }

    [Fact]
    public async Task AsOf_OfAnAllocationTheActorMayNotRead_IsNotFound_LikeOneThatDoesNotExist()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var created = t.Clock.GetCurrentInstant();
        var outsider = Principal.User("outsider");

        var hidden = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsOfAsync(outsider, a.Id, created));
        var missing = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsOfAsync(outsider, new AllocationId(999), created));
        // Even an instant before its creation does not tell an outsider that it exists.
        var early = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsOfAsync(outsider, a.Id, created - Duration.FromDays(1)));

        Assert.Equal(missing.Message.Replace("999", a.Id.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal), hidden.Message);
        Assert.Equal(hidden.Message, early.Message);
        Assert.Empty(await t.Store.GetAllocationTableAsOfAsync(outsider, t.Organization, created));
    }

    [Fact]
    public async Task AsOf_ReadLevel_IsEnough()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        await t.Store.CreateGroupAsync(Admin, t.Organization, "readers");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "readers", "reader");
        await t.Store.GrantAsync(Admin, a.Id, Grantee.Group("readers"), AccessLevel.Read);

        var then = await t.Store.GetAllocationAsOfAsync(Principal.User("reader"), a.Id, t.Clock.GetCurrentInstant());

        Assert.Equal(Amount.FromDecimal(1000m), then.Total);
    }

    [Fact]
    public async Task TableAsOf_LeavesOutWhatDidNotExistYet_AndShowsTheFiguresThen()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("Physics", 1000m);
        var child = await t.CreateAllocationAsync("Physics-A", 100m, parent);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 1m, Nov15, Nov15 + Duration.FromHours(10)));
        var before = t.Clock.GetCurrentInstant();
        var tableThen = await t.Store.GetAllocationTableAsync(Admin, t.Organization);
        t.Clock.AdvanceHours(1);
        await t.CreateAllocationAsync("Chemistry", 50m);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 1m, Nov15, Nov15 + Duration.FromHours(30)));
        await t.Store.ChangeTotalAsync(Admin, parent.Id, Amount.FromDecimal(2000m), "grant");

        var asOf = await t.Store.GetAllocationTableAsOfAsync(Admin, t.Organization, before, new AllocationTableQuery(sortBy: AllocationSort.Used, descending: true));

        Assert.Equal(tableThen.Select(r => (r.Id, r.Depth, r.Total, r.Used, r.Estimated, r.Remaining, r.PercentUsed)),
            asOf.Select(r => (r.Id, r.Depth, r.Total, r.Used, r.Estimated, r.Remaining, r.PercentUsed)));
        Assert.Equal(3, (await t.Store.GetAllocationTableAsync(Admin, t.Organization)).Count);
    }

    [Fact]
    public async Task AsOf_BeforeAChildWasDeleted_TheParentStillCountsItsUsage()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("Physics", 1000m);
        var child = await t.CreateAllocationAsync("Physics-A", 100m, parent);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 1m, Nov15, Nov15 + Duration.FromHours(10)));
        var before = t.Clock.GetCurrentInstant();
        t.Clock.AdvanceHours(1);
        await t.Store.DeleteAllocationAsync(Admin, child.Id);

        Assert.Equal(Amount.FromDecimal(20m), (await t.Store.GetAllocationAsOfAsync(Admin, parent.Id, before)).Used);
        Assert.Equal(Amount.Zero, (await t.Store.GetAllocationAsOfAsync(Admin, parent.Id, t.Clock.GetCurrentInstant())).Used);
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsOfAsync(Admin, child.Id, before));
    }

    [Fact]
    public async Task AsOf_ABatchAcrossAllocations_IsOneStepInEachHistory()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 1000m);
        var b = await t.CreateAllocationAsync("B", 1000m);
        var before = t.Clock.GetCurrentInstant();
        t.Clock.AdvanceMinutes(1);
        await t.Store.RecordBatchAsync(Admin, [TestStore.Cpu1(a, 1m, Nov15, Nov15 + Duration.FromHours(1)), TestStore.Cpu1(b, 1m, Nov15, Nov15 + Duration.FromHours(2)), TestStore.Cpu1(a, 1m, Nov15, Nov15 + Duration.FromHours(3))]);

        Assert.Equal(Amount.Zero, (await t.Store.GetAllocationAsOfAsync(Admin, a.Id, before)).Used);
        Assert.Equal(Amount.FromDecimal(8m), (await t.Store.GetAllocationAsOfAsync(Admin, a.Id, t.Clock.GetCurrentInstant())).Used);
        Assert.Equal(Amount.FromDecimal(4m), (await t.Store.GetAllocationAsOfAsync(Admin, b.Id, t.Clock.GetCurrentInstant())).Used);
    }
}
