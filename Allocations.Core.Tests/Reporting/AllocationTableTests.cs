using Allocations.Domain;
using Allocations.Reporting;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reporting;

public class AllocationTableTests
{
    private static readonly Principal Admin = TestStore.Admin;

    [Theory, Engines]
    public async Task Table_ShowsChildrenUnderTheirParent_SortedByTheChosenColumn(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var physics = await t.CreateAllocationAsync("Physics", 1000m);
        var theory = await t.CreateAllocationAsync("Theory", 100m, physics);
        var lab = await t.CreateAllocationAsync("Lab", 300m, physics);
        var chemistry = await t.CreateAllocationAsync("chemistry", 50m);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(theory, 10m, TestStore.November1, TestStore.November1 + Duration.FromHours(9)));
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(chemistry, 1m, TestStore.November1, TestStore.November1 + Duration.FromHours(40), UsageStatus.Estimated));

        var byName = await t.Store.GetAllocationTableAsync(Admin, t.Organization);
        Assert.Equal(["chemistry", "Physics", "Lab", "Theory"], byName.Select(r => r.Name));
        Assert.Equal([0, 0, 1, 1], byName.Select(r => r.Depth));
        Assert.Equal("Physics", byName[3].ParentName);
        Assert.Equal(Amount.FromDecimal(90m), byName[3].Used);
        Assert.Equal(Amount.FromDecimal(10m), byName[3].Remaining);
        Assert.Equal(90m, byName[3].PercentUsed);
        Assert.Equal(80m, byName[0].PercentUsed);

        var byPercent = await t.Store.GetAllocationTableAsync(Admin, t.Organization, new AllocationTableQuery(sortBy: AllocationSort.PercentUsed, descending: true));
        Assert.Equal(["chemistry", "Physics", "Theory", "Lab"], byPercent.Select(r => r.Name));

        var byTotal = await t.Store.GetAllocationTableAsync(Admin, t.Organization, new AllocationTableQuery(sortBy: AllocationSort.Total));
        Assert.Equal(["chemistry", "Physics", "Theory", "Lab"], byTotal.Select(r => r.Name));

        var onlyPhysics = await t.Store.GetAllocationTableAsync(Admin, t.Organization, new AllocationTableQuery(parent: physics.Id));
        Assert.Equal(["Physics", "Lab", "Theory"], onlyPhysics.Select(r => r.Name));
        Assert.Empty(await t.Store.GetAllocationTableAsync(Admin, t.Organization, new AllocationTableQuery(unit: UnitCode.Usd)));
        Assert.Equal(4, (await t.Store.GetAllocationTableAsync(Admin, t.Organization, new AllocationTableQuery(unit: new UnitCode("CORE-HOURS")))).Count);
        _ = lab;
    }
}
