using Allocations.Domain;
using Allocations.Tests.Rating;
using Allocations.Tests.Support;
using FsCheck.Xunit;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Recording;

/// <summary>Properties of re-rating over random histories and random corrections: after applying a preview of the
/// whole period, every event's amount is its rating under the rules as they are now (by the reference rater), the
/// figures are the sums of the event amounts, the journal verifies, and a new preview lists nothing.</summary>
public class RerateProperties
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Interval Everything = new(Instant.FromUtc(2026, 10, 1, 0, 0), Instant.FromUtc(2027, 1, 1, 0, 0));

    [Property(MaxTest = 12)]
    public bool AfterRerate_EveryAmountIsTodaysRating_AndFiguresAreTheSumsOfTheEvents(int seed)
    {
        return Run().GetAwaiter().GetResult();

        async Task<bool> Run()
        {
            var random = new Random(seed);
            using var t = await TestStore.CreateAsync();
            var parent = await t.CreateAllocationAsync("P", 1_000m);
            Allocation[] allocations = [parent, await t.CreateAllocationAsync("C", 500m, parent), await t.CreateAllocationAsync("O", 2_000m)];
            SkuCode[] skus = [TestStore.Cpu, TestStore.Gpu, TestStore.License];
            for (var round = 0; round < 3; round++)
            {
                var records = new List<UsageRecord>();
                for (var i = random.Next(1, 10); i > 0; i--)
                {
                    var start = TestStore.November1 + Duration.FromMinutes(random.Next(0, 28 * 24 * 60));
                    records.Add(new UsageRecord(
                        allocations[random.Next(allocations.Length)].Id, skus[random.Next(skus.Length)], Quantity.FromDecimal(random.Next(0, 4000) / 100m),
                        start, start + Duration.FromMinutes(random.Next(0, 3 * 24 * 60)), random.Next(3) == 0 ? UsageStatus.Estimated : UsageStatus.Confirmed));
                }
                await t.Store.RecordBatchAsync(Admin, records);
                for (var i = random.Next(0, 3); i > 0; i--)
                {
                    var from = TestStore.November1 + Duration.FromHours(random.Next(-48, 40 * 24));
                    Instant? to = random.Next(4) == 0 ? null : from + Duration.FromHours(random.Next(1, 20 * 24));
                    await t.Store.CorrectRateAsync(Admin, t.Organization, skus[random.Next(skus.Length)], from, to, Rate.FromDecimal(random.Next(0, 5000) / 1000m), "random correction");
                }
            }

            foreach (var sku in skus)
            {
                var preview = await t.Store.PreviewRerateAsync(Admin, t.Organization, sku, Everything);
                Assert.True(preview.IsComplete);
                await t.Store.RerateAsync(Admin, preview);
                Assert.Empty((await t.Store.PreviewRerateAsync(Admin, t.Organization, sku, Everything)).Events);
            }

            var rules = new Dictionary<SkuCode, List<ReferenceRater.Rule>>();
            var basis = (await t.Store.ListSkusAsync(Admin, t.Organization)).ToDictionary(k => k.Code, k => k.Basis);
            foreach (var sku in skus)
            {
                rules[sku] = (await t.Store.GetRateRulesAsync(Admin, t.Organization, sku))
                    .Select(r => new ReferenceRater.Rule(Ns(r.EffectiveFrom), r.EffectiveTo is { } end ? Ns(end) : long.MaxValue, r.Rate.Nanos)).ToList();
            }
            foreach (var allocation in allocations)
            {
                long used = 0, estimated = 0;
                await foreach (var e in t.Store.ReadEventsAsync(Admin, allocation.Id))
                {
                    var (outcome, total, _) = ReferenceRater.Rate(rules[e.Sku], basis[e.Sku], e.Quantity.Micros, Ns(e.Interval.Start), Ns(e.Interval.End));
                    Assert.Equal(ReferenceRater.Outcome.Rated, outcome);
                    Assert.True((long)total == e.Amount.Micros, $"{e.Id} amounts to {e.Amount}, today's rules rate it {total} micros");
                    if (e.Status == UsageStatus.Confirmed)
                    {
                        used += e.Amount.Micros;
                    }
                    else
                    {
                        estimated += e.Amount.Micros;
                    }
                }
                var stored = await t.Store.GetAllocationAsync(Admin, allocation.Id);
                Assert.Equal((used, estimated), (stored.OwnUsed.Micros, stored.OwnEstimated.Micros));
            }
            var (p, c) = (await t.Store.GetAllocationAsync(Admin, allocations[0].Id), await t.Store.GetAllocationAsync(Admin, allocations[1].Id));
            Assert.Equal(p.OwnUsed.Micros + c.OwnUsed.Micros, p.Used.Micros);
            Assert.Equal(p.OwnEstimated.Micros + c.OwnEstimated.Micros, p.Estimated.Micros);
            Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
            var journal = await t.Store.VerifyJournalAsync(Admin, t.Organization);
            Assert.True(journal.IsIntact, journal.Problem);
            return true;
        }
    }

    private static long Ns(Instant instant) => (instant - NodaConstants.UnixEpoch).ToInt64Nanoseconds();
}
