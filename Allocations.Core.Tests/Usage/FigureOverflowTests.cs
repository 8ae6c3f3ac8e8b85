using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Usage;

/// <summary>The write that would make a figure, Remaining or a report sum unrepresentable is refused, naming the
/// field; no read raises a raw <see cref="OverflowException"/>.</summary>
public class FigureOverflowTests
{
    // 16e9 cores for 300 h at rate 1 (before Nov 15): 4.8e12 core-hours, 4.8e18 millionths; two of them are past the
    // 9.22e18 an amount can hold.
    private static UsageRecord Huge(Allocation allocation, UsageStatus status, string? key = null) => new(
        allocation.Id, TestStore.Cpu, Quantity.FromDecimal(16_000_000_000m), TestStore.November1, TestStore.November1 + Duration.FromHours(300), status, key);

    private static async Task AssertReadsWorkAsync(TestStore t, params Allocation[] allocations)
    {
        var table = await t.Store.GetAllocationTableAsync(TestStore.Admin, t.Organization);
        Assert.NotEmpty(table);
        foreach (var allocation in allocations)
        {
            var read = await t.Store.GetAllocationAsync(TestStore.Admin, allocation.Id);
            _ = read.Remaining;
            _ = read.PercentUsed;
            var small = TestStore.Cpu1(read, 1m, TestStore.November1, TestStore.November1 + Duration.FromHours(1), UsageStatus.Estimated);
            _ = await t.Store.CheckFitAsync(TestStore.Admin, small);
            _ = await t.Store.ReserveAsync(TestStore.Admin, small);
        }
        _ = await t.Store.GetUsageReportAsync(TestStore.Admin, new UsageReportRequest(t.Organization) { GroupBy = ReportGroups.Allocation | ReportGroups.Status });
    }

    [Theory, Engines]
    public async Task ConfirmedAndEstimatedPastTheRange_TheSecondIsRefused_AndEveryReadStillWorks(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("Parent", 1000m);
        var a = await t.CreateAllocationAsync("A", 100m, parent);
        var sibling = await t.CreateAllocationAsync("Sibling", 100m, parent);
        await t.Store.RecordUsageAsync(TestStore.Admin, Huge(a, UsageStatus.Confirmed));
        var before = t.ContentHash();

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(TestStore.Admin, Huge(a, UsageStatus.Estimated)));

        Assert.Equal("amount", refused.Field);
        Assert.Equal(before, t.ContentHash());
        await AssertReadsWorkAsync(t, parent, a, sibling);
    }

    [Theory, Engines]
    public async Task ChildrenWhoseSumPutsTheParentPastTheRange_AreRefused(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("Parent", 1000m);
        var a = await t.CreateAllocationAsync("A", 100m, parent);
        var b = await t.CreateAllocationAsync("B", 100m, parent);
        await t.Store.RecordUsageAsync(TestStore.Admin, Huge(a, UsageStatus.Confirmed));

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(TestStore.Admin, Huge(b, UsageStatus.Estimated)));

        Assert.Equal("amount", refused.Field);
        await AssertReadsWorkAsync(t, parent, a, b);
    }

    [Theory, Engines]
    public async Task TwoAllocationsWhoseReportSumIsPastTheRange_TheSecondWriteIsRefused(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        var b = await t.CreateAllocationAsync("B", 100m);
        await t.Store.RecordUsageAsync(TestStore.Admin, Huge(a, UsageStatus.Confirmed));

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(TestStore.Admin, Huge(b, UsageStatus.Confirmed)));
        var batch = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordBatchAsync(TestStore.Admin, [Huge(b, UsageStatus.Confirmed, "k")]));

        Assert.Equal("amount", refused.Field);
        Assert.Equal(0, batch.BatchIndex);
        var report = await t.Store.GetUsageReportAsync(TestStore.Admin, new UsageReportRequest(t.Organization));
        Assert.Equal(Amount.FromDecimal(4_800_000_000_000m), Assert.Single(report.Totals).Amount);
        await AssertReadsWorkAsync(t, a, b);
    }

    [Theory, Engines]
    public async Task RemovingUsage_MakesRoomAgain(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        var b = await t.CreateAllocationAsync("B", 100m);
        var first = await t.Store.RecordUsageAsync(TestStore.Admin, Huge(a, UsageStatus.Estimated));
        await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(TestStore.Admin, Huge(b, UsageStatus.Confirmed)));

        await t.Store.ReleaseAsync(TestStore.Admin, first.Event.Id);
        await t.Store.RecordUsageAsync(TestStore.Admin, Huge(b, UsageStatus.Confirmed));
        await t.Store.DeleteAllocationAsync(TestStore.Admin, b.Id);
        await t.Store.RecordUsageAsync(TestStore.Admin, Huge(a, UsageStatus.Confirmed));

        Assert.True((await t.Store.VerifyAsync(TestStore.Admin, t.Organization)).IsClean);
    }

    [Theory, Engines]
    public async Task CheckFitOnAnOverrunAllocation_IsAnInputErrorNotAnOverflow(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 0m);
        await t.Store.RecordUsageAsync(TestStore.Admin, Huge(a, UsageStatus.Confirmed));
        var large = Huge(a, UsageStatus.Estimated).With(quantity: Quantity.FromDecimal(15_000_000_000m));

        var fit = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.CheckFitAsync(TestStore.Admin, large));
        var reserve = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.ReserveAsync(TestStore.Admin, large));

        Assert.Equal("amount", fit.Field);
        Assert.Equal("amount", reserve.Field);
        var small = await t.Store.CheckFitAsync(TestStore.Admin, Huge(a, UsageStatus.Estimated).With(quantity: Quantity.FromDecimal(1m)));
        Assert.False(small.Fits);
    }

    [Fact]
    public async Task FiguresAlreadyPastTheRangeInAFile_AreReportedAsStoreDamage_NotAnOverflow()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        t.Store.Dispose();
        using (var connection = new SqliteConnection($"Data Source={t.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE allocations SET used = 5000000000000000000, estimated = 5000000000000000000, own_used = 5000000000000000000, own_estimated = 5000000000000000000";
            command.ExecuteNonQuery();
        }
        await t.ReopenAsync();

        await Assert.ThrowsAsync<StoreUnavailableException>(() => t.Store.GetAllocationTableAsync(TestStore.Admin, t.Organization));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => t.Store.GetAllocationAsync(TestStore.Admin, a.Id));
        var small = TestStore.Cpu1(a, 1m, TestStore.November1, TestStore.November1 + Duration.FromHours(1), UsageStatus.Estimated);
        await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.CheckFitAsync(TestStore.Admin, small));
    }
}
