using Allocations.Domain;
using Allocations.Reporting;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reporting;

/// <summary>The credits product composed from the engine: a credits unit, presets and storage as PerHour SKUs,
/// top-ups as journalled total changes, bills per user, project, cluster and organization.</summary>
public class CreditsTests
{
    [Fact]
    public async Task CreditsBill_PerUserProjectClusterAndOrganization_AddsUpToThePool()
    {
        var store = await AllocationStore.OpenInMemoryAsync(new AllocationStoreOptions { Clock = new NodaTime.Testing.FakeClock(Instant.FromUtc(2026, 11, 2, 0, 0)) });
        using var _ = store;
        var ops = Principal.User("ops");
        var org = (await store.CreateOrganizationAsync(Principal.System, "Neuro Labs", "ops")).Id;
        var credits = new UnitCode("credits");
        var from = Instant.FromUtc(2026, 1, 1, 0, 0);
        await store.CreateUnitAsync(ops, org, credits, 2);
        await store.AddUsdPriceAsync(ops, org, credits, from, null, Rate.FromDecimal(0.1m));
        var gpu = new SkuCode("PRESET_GPU_T4");
        var storage = new SkuCode("STORAGE_GB");
        await store.CreateSkuAsync(ops, org, gpu, credits, RateBasis.PerHour);
        await store.AddRateRuleAsync(ops, org, gpu, from, null, Rate.FromDecimal(12m));
        await store.CreateSkuAsync(ops, org, storage, credits, RateBasis.PerHour);
        await store.AddRateRuleAsync(ops, org, storage, from, null, Rate.FromDecimal(0.0002m));

        var pool = await store.CreateAllocationAsync(ops, org, new NewAllocation("pool", credits, Amount.Zero));
        await store.ChangeTotalAsync(ops, pool.Id, Amount.FromDecimal(1000m), "provisioned by the cluster administrator");
        await store.ChangeTotalAsync(ops, pool.Id, Amount.FromDecimal(1500m), "purchase by credit card");
        var vision = await store.CreateAllocationAsync(ops, org, new NewAllocation("vision", credits, Amount.FromDecimal(800m), pool.Id));
        var nlp = await store.CreateAllocationAsync(ops, org, new NewAllocation("nlp", credits, Amount.FromDecimal(700m), pool.Id));

        var oct1 = Instant.FromUtc(2026, 10, 1, 0, 0);
        Dictionary<string, string> Attrs(string? user, string project, string cluster)
        {
            var map = new Dictionary<string, string> { ["project"] = project, ["cluster"] = cluster };
            if (user is not null)
            {
                map["user"] = user;
            }
            return map;
        }
        await store.RecordBatchAsync(ops,
        [
            new UsageRecord(vision.Id, gpu, Quantity.FromDecimal(1m), oct1, oct1 + Duration.FromHours(2), attributes: Attrs("alice", "vision", "gpu-east")),
            new UsageRecord(nlp.Id, gpu, Quantity.FromDecimal(1m), oct1, oct1 + Duration.FromMinutes(90), attributes: Attrs("bob", "nlp", "gpu-east")),
            new UsageRecord(nlp.Id, gpu, Quantity.FromDecimal(1m), oct1, oct1 + Duration.FromMinutes(30), attributes: Attrs("alice", "nlp", "gpu-west")),
            new UsageRecord(vision.Id, storage, Quantity.FromDecimal(100m), oct1, oct1 + Duration.FromDays(1), attributes: Attrs(null, "vision", "storage")),
        ]);

        var history = await store.GetTotalHistoryAsync(ops, pool.Id);
        Assert.Equal(["provisioned by the cluster administrator", "purchase by credit card"], history.Select(h => h.Reason));
        Assert.Equal(Amount.FromDecimal(1500m), history[^1].NewTotal);

        async Task<Dictionary<string, (decimal Credits, decimal? Usd)>> Bill(string key)
        {
            var report = await store.GetUsageReportAsync(ops, new UsageReportRequest(org, oct1, oct1 + Duration.FromDays(31)) { AttributeKeys = [key] });
            return report.Rows.ToDictionary(r => r.AttributeValues[0] ?? "-", r => (r.Amount.ToDecimal(), r.Usd?.ToDecimal()));
        }
        Assert.Equal(new Dictionary<string, (decimal, decimal?)> { ["alice"] = (30m, 3m), ["bob"] = (18m, 1.8m), ["-"] = (0.48m, 0.048m) }, await Bill("user"));
        Assert.Equal(new Dictionary<string, (decimal, decimal?)> { ["vision"] = (24.48m, 2.448m), ["nlp"] = (24m, 2.4m) }, await Bill("project"));
        Assert.Equal(new Dictionary<string, (decimal, decimal?)> { ["gpu-east"] = (42m, 4.2m), ["gpu-west"] = (6m, 0.6m), ["storage"] = (0.48m, 0.048m) }, await Bill("cluster"));

        var organization = await store.GetUsageReportAsync(ops, new UsageReportRequest(org, oct1, oct1 + Duration.FromDays(31)));
        var after = await store.GetAllocationAsync(ops, pool.Id);
        Assert.Equal(after.Used, organization.Totals.Single().Amount);
        Assert.Equal(Amount.FromDecimal(48.48m), after.Used);
        Assert.Equal(Amount.FromDecimal(1500m - 48.48m), after.Remaining);
    }
}
