using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Usage;

public class UsageTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Start = TestStore.November1 + Duration.FromHours(1);

    [Theory, Engines]
    public async Task Record_EstimatedAndConfirmed_CountTowardTheirFigures_AndTheParentIncludesChildren(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("P", 100m);
        var child = await t.CreateAllocationAsync("C", 50m, parent);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(parent, 1m, Start, Start + Duration.FromHours(2)));
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 3m, Start, Start + Duration.FromHours(2)));
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 1m, Start, Start + Duration.FromHours(4), UsageStatus.Estimated));
        var p = await t.Store.GetAllocationAsync(Admin, parent.Id);
        var c = await t.Store.GetAllocationAsync(Admin, child.Id);
        Assert.Equal((Amount.FromDecimal(8m), Amount.FromDecimal(4m)), (p.Used, p.Estimated));
        Assert.Equal((Amount.FromDecimal(2m), Amount.Zero), (p.OwnUsed, p.OwnEstimated));
        Assert.Equal((Amount.FromDecimal(6m), Amount.FromDecimal(4m)), (c.Used, c.Estimated));
        Assert.Equal(Amount.FromDecimal(88m), p.Remaining);
        Assert.Equal(12m, p.PercentUsed);
    }

    [Theory, Engines]
    public async Task Record_KeepsAttributesAndKeyVerbatim(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        var attributes = new Dictionary<string, string> { ["user"] = "o'brien\"; DROP TABLE usage_events;--", ["note"] = "tab\there\u0001\n" };
        var key = "lab:42:2026-11-01T00:00:00Z'--";
        var recorded = await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1), key: key).With(attributes: attributes));
        var read = await t.Store.GetEventAsync(Admin, recorded.Event.Id);
        Assert.Equal(key, read.ExternalKey);
        Assert.Equal(attributes, read.Attributes);
        Assert.Equal("admin", read.RecordedBy);
    }

    [Theory, Engines]
    public async Task Record_SameKeySameContent_IsUnchanged_AndNotCountedTwice(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        var record = TestStore.Cpu1(a, 2m, Start, Start + Duration.FromHours(3), key: "job-1");
        var first = await t.Store.RecordUsageAsync(Admin, record);
        var before = t.ContentHash();
        var second = await t.Store.RecordUsageAsync(Admin, record);
        Assert.Equal(RecordDisposition.Unchanged, second.Disposition);
        Assert.Equal(first.Event.Id, second.Event.Id);
        Assert.Equal(before, t.ContentHash());
        Assert.Equal(Amount.FromDecimal(6m), (await t.Store.GetAllocationAsync(Admin, a.Id)).Used);
    }

    [Theory, Engines]
    public async Task Record_KeyOfEstimatedEvent_ReplacesIt_AndMovesTheFigures(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        var running = TestStore.Cpu1(a, 2m, Start, Start + Duration.FromHours(1), UsageStatus.Estimated, "job-2");
        var first = await t.Store.RecordUsageAsync(Admin, running);
        var later = await t.Store.RecordUsageAsync(Admin, running.With(end: Start + Duration.FromHours(5)));
        Assert.Equal(RecordDisposition.Replaced, later.Disposition);
        Assert.Equal(first.Event.Id, later.Event.Id);
        var finished = await t.Store.RecordUsageAsync(Admin, running.With(end: Start + Duration.FromHours(6), status: UsageStatus.Confirmed));
        Assert.Equal(RecordDisposition.Replaced, finished.Disposition);
        var after = await t.Store.GetAllocationAsync(Admin, a.Id);
        Assert.Equal((Amount.FromDecimal(12m), Amount.Zero), (after.Used, after.Estimated));
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }

    [Theory, Engines]
    public async Task Record_KeyOfConfirmedEventWithOtherContent_IsAConflictNamingTheFields(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        var record = TestStore.Cpu1(a, 2m, Start, Start + Duration.FromHours(1), key: "job-3");
        await t.Store.RecordUsageAsync(Admin, record);
        var before = t.ContentHash();
        var ex = await Assert.ThrowsAsync<ConflictException>(() => t.Store.RecordUsageAsync(Admin, record.With(quantity: Quantity.FromDecimal(3m), end: Start + Duration.FromHours(2))));
        Assert.Equal(new[] { "quantity", "end" }, ex.Fields);
        Assert.Contains("job-3", ex.Message);
        Assert.Equal(before, t.ContentHash());
    }

    [Theory, Engines]
    public async Task Record_BadInputs_AreRefusedNamingTheFieldAndChangeNothing(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        var usd = await t.Store.CreateAllocationAsync(Admin, t.Organization, new NewAllocation("Dollars", UnitCode.Usd, Amount.FromDecimal(5m)));
        var ok = TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1));
        var before = t.ContentHash();

        Assert.Equal("end", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(Admin, ok.With(end: Start - Duration.FromSeconds(1))))).Field);
        Assert.Equal("start", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(Admin, ok.With(start: Instant.MinValue)))).Field);
        Assert.Equal("end", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(Admin, ok.With(end: Instant.MaxValue)))).Field);
        Assert.Equal("sku", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(Admin, ok.With(sku: default(SkuCode))))).Field);
        Assert.Equal("status", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(Admin, ok.With(status: (UsageStatus)7)))).Field);
        Assert.Equal("externalKey", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(Admin, ok.With(externalKey: "")))).Field);
        Assert.Equal("sku", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(Admin, ok.With(allocation: usd.Id)))).Field);
        var unknownSku = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.RecordUsageAsync(Admin, ok.With(sku: new SkuCode("NOPE"))));
        Assert.Equal(("SKU", "NOPE"), (unknownSku.Kind, unknownSku.Key));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.RecordUsageAsync(Admin, ok.With(allocation: new AllocationId(424242))));
        var noRate = await Assert.ThrowsAsync<NoRateException>(() => t.Store.RecordUsageAsync(Admin, ok.With(start: TestStore.November1 - Duration.FromHours(1))));
        Assert.Equal(("CPU_HOUR", TestStore.November1 - Duration.FromHours(1)), (noRate.Schedule, noRate.Instant));
        var overflow = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(Admin, ok.With(quantity: Quantity.FromMicros(long.MaxValue), end: Start + Duration.FromDays(3000))));
        Assert.Equal("quantity", overflow.Field);
        await Assert.ThrowsAsync<OperationCanceledException>(() => t.Store.RecordUsageAsync(Admin, ok, new CancellationToken(canceled: true)));
        Assert.Equal("actor", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(default, ok))).Field);

        Assert.Equal(before, t.ContentHash());
    }

    [Theory, Engines]
    public async Task Record_FiguresThatWouldOverflow_AreRefused(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 1m);
        var big = TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1)).With(quantity: Quantity.FromDecimal(5_000_000_000_000m));
        await t.Store.RecordUsageAsync(Admin, big);
        var before = t.ContentHash();
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(Admin, big));
        Assert.Equal("amount", ex.Field);
        Assert.Equal(before, t.ContentHash());
    }

    [Theory, Engines]
    public async Task RuleChanges_NeverAlterStoredAmounts(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 1000m);
        var recorded = await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, TestStore.November15, TestStore.November15 + Duration.FromHours(10)));
        await t.Store.ChangeRateAsync(Admin, t.Organization, TestStore.Cpu, TestStore.November15 + Duration.FromHours(2), Rate.FromDecimal(100m));
        var again = await t.Store.GetEventAsync(Admin, recorded.Event.Id);
        Assert.Equal(Amount.FromDecimal(20m), again.Amount);
        Assert.Equal(recorded.Event.Segments, again.Segments);
        var newer = await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, TestStore.November15, TestStore.November15 + Duration.FromHours(10)));
        Assert.Equal(Amount.FromDecimal(4m + 800m), newer.Event.Amount);
        Assert.Equal(2, newer.Event.Segments.Count);
    }

    [Theory, Engines]
    public async Task Reserve_WhenItFits_RecordsAnEstimatedHold(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 10m);
        var result = await t.Store.ReserveAsync(Admin, TestStore.Cpu1(a, 5m, Start, Start + Duration.FromHours(2)));
        Assert.True(result.Reserved);
        Assert.True(result.Fit.Fits);
        Assert.Equal(UsageStatus.Estimated, result.Event!.Status);
        Assert.Equal(Amount.FromDecimal(10m), (await t.Store.GetAllocationAsync(Admin, a.Id)).Estimated);
    }

    [Theory, Engines]
    public async Task Reserve_WhenTheChildIsExhausted_ReturnsDoesNotFitAtTheChild_AndWritesNothing(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("P", 100m);
        var child = await t.CreateAllocationAsync("C", 10m, parent);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 8m, Start, Start + Duration.FromHours(1)));
        var before = t.ContentHash();
        var result = await t.Store.ReserveAsync(Admin, TestStore.Cpu1(child, 3m, Start, Start + Duration.FromHours(1)));
        Assert.False(result.Reserved);
        Assert.Equal(child.Id, result.Fit.BlockedBy);
        Assert.Equal(Amount.FromDecimal(1m), result.Fit.Shortfall);
        Assert.Equal(Amount.FromDecimal(3m), result.Fit.Amount);
        Assert.Equal(before, t.ContentHash());
    }

    [Theory, Engines]
    public async Task Reserve_WhenTheParentIsExhausted_ReturnsDoesNotFitAtTheParent(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("P", 10m);
        var child1 = await t.CreateAllocationAsync("C1", 10m, parent);
        var child2 = await t.CreateAllocationAsync("C2", 10m, parent);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child1, 7m, Start, Start + Duration.FromHours(1)));
        var result = await t.Store.ReserveAsync(Admin, TestStore.Cpu1(child2, 5m, Start, Start + Duration.FromHours(1)));
        Assert.False(result.Reserved);
        Assert.Equal(parent.Id, result.Fit.BlockedBy);
        Assert.Equal(Amount.FromDecimal(2m), result.Fit.Shortfall);
        var fit = await t.Store.CheckFitAsync(Admin, TestStore.Cpu1(child2, 3m, Start, Start + Duration.FromHours(1)));
        Assert.True(fit.Fits);
        Assert.Null(fit.BlockedBy);
    }

    [Theory, Engines]
    public async Task Reserve_ExactlyTheRemaining_Fits(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 6m);
        Assert.True((await t.Store.ReserveAsync(Admin, TestStore.Cpu1(a, 3m, Start, Start + Duration.FromHours(2)))).Reserved);
        Assert.False((await t.Store.CheckFitAsync(Admin, TestStore.Cpu1(a, 0.000001m, Start, Start + Duration.FromHours(1)))).Fits);
    }

    [Theory, Engines]
    public async Task Confirm_WithFinalQuantityAndEnd_ReRatesAndMovesEstimatedToUsed(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 1000m);
        var hold = (await t.Store.ReserveAsync(Admin, TestStore.Cpu1(a, 4m, TestStore.November15 - Duration.FromHours(2), TestStore.November15 + Duration.FromHours(8)))).Event!;
        Assert.Equal(Amount.FromDecimal(8m + 64m), hold.Amount);
        var result = await t.Store.ConfirmAsync(Admin, hold.Id, Quantity.FromDecimal(2m), TestStore.November15 + Duration.FromHours(1));
        Assert.Equal(HoldStatus.Confirmed, result.Status);
        var confirmed = result.Event;
        Assert.Equal(UsageStatus.Confirmed, confirmed.Status);
        Assert.Equal(Amount.FromDecimal(4m + 4m), confirmed.Amount);
        var after = await t.Store.GetAllocationAsync(Admin, a.Id);
        Assert.Equal((Amount.FromDecimal(8m), Amount.Zero), (after.Used, after.Estimated));
        var againResult = await t.Store.ConfirmAsync(Admin, hold.Id);
        Assert.Equal(HoldStatus.AlreadyConfirmed, againResult.Status);
        var again = againResult.Event;
        Assert.Equal((confirmed.Status, confirmed.Amount, confirmed.Interval), (again.Status, again.Amount, again.Interval));
        Assert.Equal(confirmed.Segments, again.Segments);
        Assert.Contains("status", (await Assert.ThrowsAsync<ConflictException>(() => t.Store.ConfirmAsync(Admin, hold.Id, Quantity.FromDecimal(9m)))).Fields);
        Assert.Equal("finalEnd", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.ConfirmAsync(Admin, hold.Id, finalEnd: TestStore.November1))).Field);
    }

    [Theory, Engines]
    public async Task Release_GivesTheHoldBack_ButNotAConfirmedCharge(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        var hold = (await t.Store.ReserveAsync(Admin, TestStore.Cpu1(a, 4m, Start, Start + Duration.FromHours(2)))).Event!;
        var charge = (await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(2)))).Event;
        await t.Store.ReleaseAsync(Admin, hold.Id);
        Assert.Equal(Amount.Zero, (await t.Store.GetAllocationAsync(Admin, a.Id)).Estimated);
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetEventAsync(Admin, hold.Id));
        var before = t.ContentHash();
        Assert.Contains("status", (await Assert.ThrowsAsync<ConflictException>(() => t.Store.ReleaseAsync(Admin, charge.Id))).Fields);
        Assert.Equal(before, t.ContentHash());
        await t.Store.DeleteEventAsync(Admin, charge.Id);
        var after = await t.Store.GetAllocationAsync(Admin, a.Id);
        Assert.Equal((Amount.Zero, Amount.FromDecimal(100m)), (after.Used, after.Remaining));
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }

    [Theory, Engines]
    public async Task Batch_IsAllOrNothing_AndTheErrorNamesTheItem(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        var good = TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1));
        var before = t.ContentHash();
        var ex = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.RecordBatchAsync(Admin, [good, good.With(externalKey: "k"), good.With(sku: new SkuCode("MISSING"))]));
        Assert.Equal(2, ex.BatchIndex);
        Assert.StartsWith("batch item 2:", ex.Message);
        var invalid = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordBatchAsync(Admin, [good, good.With(end: Start - Duration.FromHours(1))]));
        Assert.Equal((1, "end"), (invalid.BatchIndex!.Value, invalid.Field));
        Assert.Equal(before, t.ContentHash());

        var result = await t.Store.RecordBatchAsync(Admin, [good, good.With(externalKey: "k"), good.With(externalKey: "k")]);
        Assert.Equal((2, 0, 1), (result.Recorded, result.Replaced, result.Unchanged));
        Assert.Equal(result.EventIds[1], result.EventIds[2]);
        Assert.Equal(Amount.FromDecimal(2m), (await t.Store.GetAllocationAsync(Admin, a.Id)).Used);
    }

    [Theory, Engines]
    public async Task PerUnitSku_SpanningTheChange_IsSpreadInProportionToTime(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 1000m);
        var e = (await t.Store.RecordUsageAsync(Admin, new UsageRecord(a.Id, TestStore.License, Quantity.FromDecimal(4m), TestStore.November15 - Duration.FromHours(1), TestStore.November15 + Duration.FromHours(3)))).Event;
        Assert.Equal(new[] { Amount.FromDecimal(10m), Amount.FromDecimal(60m) }, e.Segments.Select(s => s.Amount));
        Assert.Equal(Amount.FromDecimal(70m), e.Amount);
    }

    [Theory, Engines]
    public async Task UsdPrice_PricesEventsOfACustomUnit_SplitAtPriceBoundaries(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        await t.Store.AddUsdPriceAsync(Admin, t.Organization, TestStore.CoreHours, TestStore.November1, TestStore.November15, Rate.FromDecimal(0.10m));
        await t.Store.AddUsdPriceAsync(Admin, t.Organization, TestStore.CoreHours, TestStore.November15, null, Rate.FromDecimal(0.05m));
        var a = await t.CreateAllocationAsync("A", 1000m);
        var e = (await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, TestStore.November15 - Duration.FromHours(10), TestStore.November15 + Duration.FromHours(10)))).Event;
        Assert.Equal(Amount.FromDecimal(30m), e.Amount);
        Assert.Equal(Amount.FromDecimal(1.00m + 1.00m), e.UsdAmount);
        Assert.Equal("unit", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.AddUsdPriceAsync(Admin, t.Organization, UnitCode.Usd, TestStore.November1, null, Rate.FromDecimal(1m)))).Field);
    }
}
