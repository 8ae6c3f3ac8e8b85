using Allocations.Domain;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Usage;

public class SmokeTests
{
    [Theory, Engines]
    public async Task Record_SpanningRateChange_IsPricedAtBothRates(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var start = TestStore.November15 - Duration.FromHours(10);
        var end = TestStore.November15 + Duration.FromHours(5);
        var result = await t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(a, 4m, start, end));
        Assert.Equal(RecordDisposition.Recorded, result.Disposition);
        Assert.Equal(2, result.Event.Segments.Count);
        Assert.Equal(Amount.FromDecimal(40m), result.Event.Segments[0].Amount);
        Assert.Equal(Amount.FromDecimal(40m), result.Event.Segments[1].Amount);
        Assert.Equal(Amount.FromDecimal(80m), result.Event.Amount);
        var after = await t.Store.GetAllocationAsync(TestStore.Admin, a.Id);
        Assert.Equal(Amount.FromDecimal(80m), after.Used);
        Assert.True((await t.Store.VerifyAsync(TestStore.Admin, t.Organization)).IsClean);
    }
}
