using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Usage;

public class CatalogueTests
{
    private static readonly Principal Admin = TestStore.Admin;

    [Theory, Engines]
    public async Task EveryOrganization_HasUsd_AndCustomUnitsAreUnique(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var units = await t.Store.ListUnitsAsync(Admin, t.Organization);
        Assert.Contains(units, u => u.Code == UnitCode.Usd && u.DisplayPrecision == 2);
        Assert.Contains(units, u => u.Code == TestStore.CoreHours);
        await Assert.ThrowsAsync<ConflictException>(() => t.Store.CreateUnitAsync(Admin, t.Organization, new UnitCode("usd"), 2));
        await Assert.ThrowsAsync<ConflictException>(() => t.Store.CreateUnitAsync(Admin, t.Organization, new UnitCode("CORE-HOURS"), 2));
        Assert.Equal("displayPrecision", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.CreateUnitAsync(Admin, t.Organization, new UnitCode("x"), 7))).Field);
    }

    [Theory, Engines]
    public async Task Sku_WithUnknownUnitOrBadBasis_IsRefused(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        Assert.Equal("unit", (await Assert.ThrowsAsync<NotFoundException>(() => t.Store.CreateSkuAsync(Admin, t.Organization, new SkuCode("X"), new UnitCode("nope"), RateBasis.PerHour))).Kind);
        Assert.Equal("basis", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.CreateSkuAsync(Admin, t.Organization, new SkuCode("X"), TestStore.CoreHours, (RateBasis)0))).Field);
        await Assert.ThrowsAsync<ConflictException>(() => t.Store.CreateSkuAsync(Admin, t.Organization, new SkuCode("cpu_hour"), TestStore.CoreHours, RateBasis.PerHour));
        Assert.Equal(3, (await t.Store.ListSkusAsync(Admin, t.Organization)).Count);
    }

    [Theory, Engines]
    public async Task OverlappingRule_IsRefusedNamingBothPeriods_AndChangesNothing(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var before = t.ContentHash();
        var from = TestStore.November15 - Duration.FromDays(1);
        var ex = await Assert.ThrowsAsync<ConflictException>(() => t.Store.AddRateRuleAsync(Admin, t.Organization, TestStore.Cpu, from, from + Duration.FromDays(2), Rate.FromDecimal(3m)));
        Assert.Contains(TestStore.November1.ToString(), ex.Message);
        Assert.Contains(from.ToString(), ex.Message);
        Assert.Equal(before, t.ContentHash());
    }

    [Theory, Engines]
    public async Task Rule_WithEmptyPeriodOrOutOfRangeInstant_IsRefused(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var at = Instant.FromUtc(2030, 1, 1, 0, 0);
        Assert.Equal("effectiveTo", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.AddRateRuleAsync(Admin, t.Organization, TestStore.Gpu, at, at, Rate.FromDecimal(1m)))).Field);
        Assert.Equal("effectiveFrom", (await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.AddRateRuleAsync(Admin, t.Organization, TestStore.Gpu, Instant.MinValue, null, Rate.FromDecimal(1m)))).Field);
        Assert.Equal("SKU", (await Assert.ThrowsAsync<NotFoundException>(() => t.Store.AddRateRuleAsync(Admin, t.Organization, new SkuCode("NOPE"), at, null, Rate.FromDecimal(1m)))).Kind);
    }

    [Theory, Engines]
    public async Task ChangeRate_EndsTheOpenRuleAndStartsANewOne(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var change = Instant.FromUtc(2026, 12, 1, 0, 0);
        await t.Store.ChangeRateAsync(Admin, t.Organization, TestStore.Gpu, change, Rate.FromDecimal(5m));
        var rules = await t.Store.GetRateRulesAsync(Admin, t.Organization, TestStore.Gpu);
        Assert.Equal(2, rules.Count);
        Assert.Equal(change, rules[0].EffectiveTo);
        Assert.Equal((change, (Instant?)null, Rate.FromDecimal(5m)), (rules[1].EffectiveFrom, rules[1].EffectiveTo, rules[1].Rate));
        await Assert.ThrowsAsync<ConflictException>(() => t.Store.ChangeRateAsync(Admin, t.Organization, TestStore.Gpu, change - Duration.FromDays(1), Rate.FromDecimal(6m)));
        await Assert.ThrowsAsync<ConflictException>(() => t.Store.ChangeRateAsync(Admin, t.Organization, TestStore.Cpu, TestStore.November1 + Duration.FromDays(3), Rate.FromDecimal(6m)));
    }

    [Theory, Engines]
    public async Task Organization_NamesAreUniqueIgnoringCase_AndOnlySystemCreatesThem(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        await Assert.ThrowsAsync<ConflictException>(() => t.Store.CreateOrganizationAsync(Principal.System, " lab ", "x"));
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.CreateOrganizationAsync(Admin, "Other", "x"));
        var other = await t.Store.CreateOrganizationAsync(Principal.System, "Other", "olga");
        Assert.Single(await t.Store.ListOrganizationsAsync(Admin));
        Assert.Equal(2, (await t.Store.ListOrganizationsAsync(Principal.System)).Count);
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.ListUnitsAsync(Admin, other.Id));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.ListUnitsAsync(Admin, new OrganizationId(9999)));
    }
}
