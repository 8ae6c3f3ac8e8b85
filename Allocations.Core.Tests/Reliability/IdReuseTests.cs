using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reliability;

/// <summary>Ids of deleted allocations and events must never name something else later: a host that kept a released
/// hold's id must not confirm a stranger's event with it.</summary>
/// <remarks>Found by the model-based test: the tables were <c>INTEGER PRIMARY KEY</c> without <c>AUTOINCREMENT</c>,
/// so SQLite handed the largest deleted id out again. Migration 0006 rebuilds them with AUTOINCREMENT.</remarks>
public class IdReuseTests
{
    [Theory, Engines]
    public async Task ReleasedHoldId_IsNeverGivenToALaterEvent(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var start = TestStore.November15;
        var hold = await t.Store.ReserveAsync(TestStore.Admin, TestStore.Cpu1(a, 1m, start, start + Duration.FromHours(1)));
        await t.Store.ReleaseAsync(TestStore.Admin, hold.Event!.Id);
        var later = await t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(a, 2m, start, start + Duration.FromHours(1)));
        Assert.NotEqual(hold.Event.Id, later.Event.Id);
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.ConfirmAsync(TestStore.Admin, hold.Event.Id));
    }

    [Theory, Engines]
    public async Task DeletedAllocationId_IsNeverGivenToALaterAllocation(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var old = await t.CreateAllocationAsync("Old", 10m);
        await t.Store.DeleteAllocationAsync(TestStore.Admin, old.Id);
        var fresh = await t.CreateAllocationAsync("Fresh", 10m);
        Assert.NotEqual(old.Id, fresh.Id);
    }
}
