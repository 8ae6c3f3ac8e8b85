using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>The allocation list a connection read last is reused only while the database cannot have changed: a change
/// by the library, or by any other connection behind its back, is seen by the very next read.</summary>
public sealed class AllocationListSnapshotTests
{
    private static readonly Principal Admin = TestStore.Admin;

    private static async Task<Amount> TableTotalAsync(TestStore t, AllocationId id) =>
        (await t.Store.GetAllocationTableAsync(Admin, t.Organization)).Single(r => r.Id == id).Total;

    [Fact]
    public async Task Table_AfterAnotherConnectionChangesATotal_ShowsTheNewTotal()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(Amount.FromDecimal(1000m), await TableTotalAsync(t, a.Id));
        }
        RawSqlite.Execute(t.Path, $"UPDATE allocations SET total = 5000000000 WHERE id = {a.Id.Value}");
        Assert.Equal(Amount.FromDecimal(5000m), await TableTotalAsync(t, a.Id));
        Assert.Equal(Amount.FromDecimal(5000m), (await t.Store.ListAllocationsAsync(Admin, t.Organization)).Single().Total);
    }

    [Fact]
    public async Task Table_AfterARowIsTamperedWith_FailsAsStoreUnavailable_EvenRightAfterAGoodRead()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        await TableTotalAsync(t, a.Id);
        await TableTotalAsync(t, a.Id);
        RawSqlite.Execute(t.Path, $"UPDATE allocations SET total = 'lots' WHERE id = {a.Id.Value}");
        var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => t.Store.GetAllocationTableAsync(Admin, t.Organization));
        Assert.Contains("table allocations", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Table_AfterTheLibraryWrites_ShowsTheWrite()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        await TableTotalAsync(t, a.Id);
        await t.Store.ChangeTotalAsync(Admin, a.Id, Amount.FromDecimal(1234m), "top-up");
        Assert.Equal(Amount.FromDecimal(1234m), await TableTotalAsync(t, a.Id));
        var b = await t.CreateAllocationAsync("Chemistry", 10m);
        var table = await t.Store.GetAllocationTableAsync(Admin, t.Organization);
        Assert.Equal([b.Id, a.Id], table.Select(r => r.Id));
    }

    [Fact]
    public async Task List_OfTwoOrganizationsInTurn_GivesEachItsOwn()
    {
        using var t = await TestStore.CreateAsync();
        await t.CreateAllocationAsync("Physics", 1000m);
        var other = await t.Store.CreateOrganizationAsync(Principal.System, "Other", Admin.Id);
        await t.Store.CreateUnitAsync(Admin, other.Id, TestStore.CoreHours, 2);
        await t.Store.CreateAllocationAsync(Admin, other.Id, new NewAllocation("Biology", TestStore.CoreHours, Amount.FromDecimal(5m)));
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(["Physics"], (await t.Store.ListAllocationsAsync(Admin, t.Organization)).Select(x => x.Name));
            Assert.Equal(["Biology"], (await t.Store.ListAllocationsAsync(Admin, other.Id)).Select(x => x.Name));
        }
    }
}
