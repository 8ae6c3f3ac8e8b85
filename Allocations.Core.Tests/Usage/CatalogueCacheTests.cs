using Allocations.Domain;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Usage;

/// <summary>Compiled schedules are cached across calls and must never outlive a catalogue change, whether this store or
/// another process made it.</summary>
public class CatalogueCacheTests
{
    private static readonly Instant Dec1 = Instant.FromUtc(2026, 12, 1, 0, 0);

    [Fact]
    public async Task Record_AfterAnotherProcessChangesTheRate_UsesTheNewRate()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var first = await t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(a, 1m, Dec1, Dec1 + Duration.FromHours(1)));
        Assert.Equal(Amount.FromDecimal(2m), first.Event.Amount); // warms the cache: rate 2 from Nov 15, open-ended

        // Another process, with code that knows nothing of caches, changes the open rule to 5.
        using (var other = new SqliteConnection($"Data Source={t.Path};Pooling=False"))
        {
            other.Open();
            using var update = other.CreateCommand();
            update.CommandText = "UPDATE rate_rules SET rate = 5000000000 WHERE to_ns IS NULL AND sku_id = (SELECT id FROM skus WHERE code_key = 'CPU_HOUR')";
            Assert.Equal(1, update.ExecuteNonQuery());
        }

        var second = await t.Store.RecordBatchAsync(TestStore.Admin, [TestStore.Cpu1(a, 1m, Dec1, Dec1 + Duration.FromHours(1))]);
        var stored = await t.Store.GetEventAsync(TestStore.Admin, second.EventIds[0]);
        Assert.Equal(Amount.FromDecimal(5m), stored.Amount);
    }

    [Theory, Engines]
    public async Task Record_AfterThisStoreAddsARule_RatesWhereThereWasNoRateBefore(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var october = Instant.FromUtc(2026, 10, 1, 0, 0);
        await Assert.ThrowsAsync<Allocations.Exceptions.NoRateException>(() => t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(a, 1m, october, october + Duration.FromHours(1))));
        await t.Store.AddRateRuleAsync(TestStore.Admin, t.Organization, TestStore.Cpu, october, TestStore.November1, Rate.FromDecimal(3m));
        var result = await t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(a, 1m, october, october + Duration.FromHours(1)));
        Assert.Equal(Amount.FromDecimal(3m), result.Event.Amount);
    }

    [Theory, Engines]
    public async Task CatalogueVersion_IsBumpedByEveryCatalogueWriteAndByNothingElse(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var v0 = await Version(t);
        await t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(a, 1m, Dec1, Dec1 + Duration.FromHours(1)));
        Assert.Equal(v0, await Version(t));
        await t.Store.ChangeRateAsync(TestStore.Admin, t.Organization, TestStore.Gpu, Dec1, Rate.FromDecimal(6m));
        var v1 = await Version(t);
        Assert.True(v1 > v0);
        await t.Store.CreateSkuAsync(TestStore.Admin, t.Organization, new SkuCode("NEW"), TestStore.CoreHours, RateBasis.PerHour);
        Assert.True(await Version(t) > v1);

        static Task<long> Version(TestStore t) => t.Store.Engine.ReadAsync(s => s.CatalogueVersion(), CancellationToken.None);
    }
}
