using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using Xunit;

namespace Allocations.Tests;

public class AllocationTests
{
    [Theory, Engines]
    public async Task Create_TrimsTheName_AndStartsWithZeroFigures(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("  Physics  ", 100m);
        Assert.Equal("Physics", a.Name);
        Assert.Equal(TestStore.CoreHours, a.Unit);
        Assert.Equal(Amount.FromDecimal(100m), a.Total);
        Assert.Equal(Amount.Zero, a.Used);
        Assert.Equal(Amount.FromDecimal(100m), a.Remaining);
        Assert.Equal(0m, a.PercentUsed);
        Assert.Equal(t.Clock.GetCurrentInstant(), a.CreatedAt);
    }

    [Theory, Engines]
    public async Task Create_DuplicateNameIgnoringCase_IsAConflictAndChangesNothing(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        await t.CreateAllocationAsync("Physics", 1m);
        var before = t.ContentHash();
        var ex = await Assert.ThrowsAsync<ConflictException>(() => t.CreateAllocationAsync(" PHYSICS", 1m));
        Assert.Contains("name", ex.Fields);
        Assert.Equal(before, t.ContentHash());
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("tab\tinside")]
    [InlineData("nul\0")]
    public async Task Create_BadName_IsRefusedNamingTheField(string name)
    {
        using var t = await TestStore.CreateAsync();
        var before = t.ContentHash();
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.CreateAllocationAsync(name, 1m));
        Assert.Equal("name", ex.Field);
        Assert.Equal(before, t.ContentHash());
    }

    [Theory, Engines]
    public async Task Create_NameOf201Characters_IsRefused_200IsAccepted(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        Assert.Equal("name", (await Assert.ThrowsAsync<InvalidInputException>(() => t.CreateAllocationAsync(new string('n', 201), 1m))).Field);
        Assert.Equal(200, (await t.CreateAllocationAsync(new string('n', 200), 1m)).Name.Length);
    }

    [Theory, Engines]
    public async Task Create_NegativeTotal_IsRefused(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.CreateAllocationAsync("A", -1m));
        Assert.Equal("total", ex.Field);
        Assert.Equal("-1", ex.Value);
    }

    [Theory, Engines]
    public async Task Create_UnknownUnit_IsNotFound(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var ex = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.CreateAllocationAsync(TestStore.Admin, t.Organization, new NewAllocation("A", new UnitCode("gpu-hours"), Amount.Zero)));
        Assert.Equal("unit", ex.Kind);
        Assert.Equal("gpu-hours", ex.Key);
    }

    [Theory, Engines]
    public async Task Create_ChildUnderChild_IsRefused(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("P", 10m);
        var child = await t.CreateAllocationAsync("C", 5m, parent);
        var before = t.ContentHash();
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.CreateAllocationAsync("G", 1m, child));
        Assert.Equal("parentId", ex.Field);
        Assert.Equal(before, t.ContentHash());
    }

    [Theory, Engines]
    public async Task Create_ChildWithAnotherUnit_IsRefused(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("P", 10m);
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.CreateAllocationAsync(TestStore.Admin, t.Organization, new NewAllocation("C", UnitCode.Usd, Amount.Zero, parent.Id)));
        Assert.Equal("unit", ex.Field);
    }

    [Theory, Engines]
    public async Task ChangeTotal_KeepsHistoryWithOldNewActorTimeAndReason(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 10m);
        t.Clock.AdvanceMinutes(5);
        var changed = await t.Store.ChangeTotalAsync(TestStore.Admin, a.Id, Amount.FromDecimal(25m), "purchase 'PO-1'; DROP TABLE allocations;--");
        Assert.Equal(Amount.FromDecimal(25m), changed.Total);
        var history = await t.Store.GetTotalHistoryAsync(TestStore.Admin, a.Id);
        var entry = Assert.Single(history);
        Assert.Equal(Amount.FromDecimal(10m), entry.OldTotal);
        Assert.Equal(Amount.FromDecimal(25m), entry.NewTotal);
        Assert.Equal("user:admin", entry.Actor);
        Assert.Equal(t.Clock.GetCurrentInstant(), entry.At);
        Assert.Equal("purchase 'PO-1'; DROP TABLE allocations;--", entry.Reason);
    }

    [Theory, Engines]
    public async Task ChangeTotal_BelowZero_IsRefusedAndChangesNothing(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 10m);
        var before = t.ContentHash();
        Assert.Equal("total", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.ChangeTotalAsync(TestStore.Admin, a.Id, Amount.FromDecimal(-0.000001m), "oops"))).Field);
        Assert.Equal(before, t.ContentHash());
    }

    [Theory, Engines]
    public async Task PercentUsed_IsNullForAZeroTotal_AndRemainingGoesNegativeOnOverrun(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var zero = await t.CreateAllocationAsync("Zero", 0m);
        Assert.Null(zero.PercentUsed);
        var small = await t.CreateAllocationAsync("Small", 1m);
        await t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(small, 2m, TestStore.November1, TestStore.November1 + NodaTime.Duration.FromHours(1)));
        var after = await t.Store.GetAllocationAsync(TestStore.Admin, small.Id);
        Assert.Equal(Amount.FromDecimal(-1m), after.Remaining);
        Assert.Equal(200m, after.PercentUsed);
    }

    [Theory, Engines]
    public async Task Delete_ParentWithChildren_IsRefusedUnlessCascade(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("P", 10m);
        var child = await t.CreateAllocationAsync("C", 5m, parent);
        await t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(child, 1m, TestStore.November1, TestStore.November1 + NodaTime.Duration.FromHours(1)));
        var before = t.ContentHash();
        var ex = await Assert.ThrowsAsync<ConflictException>(() => t.Store.DeleteAllocationAsync(TestStore.Admin, parent.Id));
        Assert.Contains("cascade", ex.Fields);
        Assert.Equal(before, t.ContentHash());
        Assert.Equal(2, await t.Store.DeleteAllocationAsync(TestStore.Admin, parent.Id, cascade: true));
        Assert.Empty(await t.Store.ListAllocationsAsync(TestStore.Admin, t.Organization));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsync(TestStore.Admin, child.Id));
        Assert.True((await t.Store.VerifyAsync(TestStore.Admin, t.Organization)).IsClean);
    }

    [Theory, Engines]
    public async Task Delete_Child_RemovesItsEventsAndItsShareOfTheParentsFigures(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("P", 10m);
        var child = await t.CreateAllocationAsync("C", 5m, parent);
        var start = TestStore.November1;
        await t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(parent, 1m, start, start + NodaTime.Duration.FromHours(1)));
        var evt = (await t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(child, 2m, start, start + NodaTime.Duration.FromHours(1)))).Event;
        Assert.Equal(Amount.FromDecimal(3m), (await t.Store.GetAllocationAsync(TestStore.Admin, parent.Id)).Used);
        await t.Store.DeleteAllocationAsync(TestStore.Admin, child.Id);
        var after = await t.Store.GetAllocationAsync(TestStore.Admin, parent.Id);
        Assert.Equal(Amount.FromDecimal(1m), after.Used);
        Assert.Equal(Amount.FromDecimal(1m), after.OwnUsed);
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetEventAsync(TestStore.Admin, evt.Id));
        Assert.True((await t.Store.VerifyAsync(TestStore.Admin, t.Organization)).IsClean);
    }

    [Theory, Engines]
    public async Task List_PutsChildrenUnderTheirParent(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var b = await t.CreateAllocationAsync("B", 1m);
        var a = await t.CreateAllocationAsync("A", 1m);
        await t.CreateAllocationAsync("B2", 1m, b);
        await t.CreateAllocationAsync("A1", 1m, a);
        var names = (await t.Store.ListAllocationsAsync(TestStore.Admin, t.Organization)).Select(x => x.Name);
        Assert.Equal(new[] { "A", "A1", "B", "B2" }, names);
    }

    [Theory, Engines]
    public async Task NonAdmin_SeesNothing_GetsNotFound_AndIsDeniedOrganizationOperations(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Secret", 1m);
        var mallory = Principal.User("mallory");
        Assert.Empty(await t.Store.ListAllocationsAsync(mallory, t.Organization));
        var missing = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsync(mallory, a.Id));
        var absent = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsync(mallory, new AllocationId(999_999)));
        Assert.Equal(absent.Message.Replace("999999", "X"), missing.Message.Replace(a.Id.Value.ToString(), "X"));
        var before = t.ContentHash();
        // An outsider learns nothing about the organization either.
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.CreateAllocationAsync(mallory, t.Organization, new NewAllocation("M", TestStore.CoreHours, Amount.Zero)));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.CreateUnitAsync(mallory, t.Organization, new UnitCode("x"), 0));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.RecordUsageAsync(mallory, TestStore.Cpu1(a, 1m, TestStore.November1, TestStore.November15)));
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.CreateOrganizationAsync(mallory, "Mine", "mallory"));
        Assert.Equal(before, t.ContentHash());
    }
}
