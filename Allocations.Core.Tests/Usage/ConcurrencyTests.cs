using Allocations.Domain;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Usage;

public class ConcurrencyTests
{
    [Theory, Engines]
    public async Task RacingReservationsFromManyThreads_NeverExceedTheTotal(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("P", 50m);
        var children = new[] { await t.CreateAllocationAsync("C1", 40m, parent), await t.CreateAllocationAsync("C2", 40m, parent) };
        var start = TestStore.November1;
        var tasks = Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var granted = 0;
            for (var i = 0; i < 20; i++)
            {
                var child = children[(worker + i) % 2];
                var result = await t.Store.ReserveAsync(TestStore.Admin, TestStore.Cpu1(child, 1m, start, start + Duration.FromHours(1), key: $"w{worker}-{i}"));
                granted += result.Reserved ? 1 : 0;
            }
            return granted;
        })).ToArray();
        var granted = (await Task.WhenAll(tasks)).Sum();
        var p = await t.Store.GetAllocationAsync(TestStore.Admin, parent.Id);
        Assert.Equal(50, granted);
        Assert.Equal(Amount.FromDecimal(50m), p.Estimated);
        Assert.True((await t.Store.VerifyAsync(TestStore.Admin, t.Organization)).IsClean);
    }
}
