using System.Text.Json;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Recording;

public class RerateTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Nov1 = TestStore.November1;
    private static readonly Instant Nov15 = TestStore.November15;
    private static readonly Interval November = new(Nov1, Instant.FromUtc(2026, 12, 1, 0, 0));

    /// <summary>CPU_HOUR is 1 until Nov 15, then 2: a 10-core job of 10 h on Nov 2 is 100; a job across Nov 15 splits.</summary>
    private static async Task<(TestStore T, Allocation Physics, UsageEvent Early, UsageEvent Across, UsageEvent Late)> ArrangeAsync(decimal total = 10_000m)
    {
        var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", total);
        var early = (await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(physics, 10m, Nov1 + Duration.FromDays(1), Nov1 + Duration.FromDays(1) + Duration.FromHours(10)))).Event;
        var across = (await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(physics, 10m, Nov15 - Duration.FromHours(5), Nov15 + Duration.FromHours(5)))).Event;
        var late = (await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(physics, 10m, Nov15 + Duration.FromDays(2), Nov15 + Duration.FromDays(2) + Duration.FromHours(10)))).Event;
        return (t, physics, early, across, late);
    }

    /// <summary>Corrects CPU_HOUR over 1–15 November (the rule at 1) and previews the month.</summary>
    private static async Task<ReratePreview> CorrectFirstHalfAsync(TestStore t, decimal rate)
    {
        await t.Store.CorrectRateAsync(Admin, t.Organization, TestStore.Cpu, Nov1, Nov15, Rate.FromDecimal(rate), "the first half of November was mispriced");
        return await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November);
    }

    [Fact]
    public async Task CorrectRate_ReplacesTheRulesOverThePeriod_KeepsTheRestAndChangesNoStoredEvent()
    {
        var (t, _, early, _, _) = await ArrangeAsync();
        using var _t = t;
        var eventsBefore = RawSqlite.Scalar(t.Path, "SELECT SUM(amount) FROM usage_events");

        var rules = await t.Store.CorrectRateAsync(Admin, t.Organization, TestStore.Cpu, Nov1 + Duration.FromDays(10), Nov15 + Duration.FromDays(1), Rate.FromDecimal(3m), "the November price was wrong");

        Assert.Equal(
            [(Nov1, (Instant?)(Nov1 + Duration.FromDays(10)), 1m), (Nov1 + Duration.FromDays(10), Nov15 + Duration.FromDays(1), 3m), (Nov15 + Duration.FromDays(1), null, 2m)],
            rules.Select(r => (r.EffectiveFrom, r.EffectiveTo, r.Rate.ToDecimal())));
        Assert.Equal(eventsBefore, RawSqlite.Scalar(t.Path, "SELECT SUM(amount) FROM usage_events"));
        Assert.Equal(early.Amount, (await t.Store.GetEventAsync(Admin, early.Id)).Amount);
        var entry = (await t.Store.GetOrganizationJournalAsync(Admin, t.Organization)).Last();
        Assert.Equal("rate.correct", entry.Action);
        using var after = JsonDocument.Parse(entry.After!);
        Assert.Equal("the November price was wrong", after.RootElement.GetProperty("reason").GetString());
        Assert.Equal("3", after.RootElement.GetProperty("added").GetProperty("rate").GetString());
        using var before = JsonDocument.Parse(entry.Before!);
        Assert.Equal(2, before.RootElement.GetProperty("rules").GetArrayLength());
    }

    [Fact]
    public async Task CorrectRate_InsideOneRule_SplitsItInTwoAroundTheCorrection()
    {
        using var t = await TestStore.CreateAsync();
        var rules = await t.Store.CorrectRateAsync(Admin, t.Organization, TestStore.Gpu, Nov1 + Duration.FromDays(3), Nov1 + Duration.FromDays(4), Rate.FromDecimal(5m), "one bad day");

        Assert.Equal(
            [(Nov1, (Instant?)(Nov1 + Duration.FromDays(3)), 4m), (Nov1 + Duration.FromDays(3), Nov1 + Duration.FromDays(4), 5m), (Nov1 + Duration.FromDays(4), null, 4m)],
            rules.Select(r => (r.EffectiveFrom, r.EffectiveTo, r.Rate.ToDecimal())));
    }

    [Fact]
    public async Task Preview_ListsTheEventsThatDiffer_WithOldAndNewAmountsAndDeltas_AndChangesNothing()
    {
        var (t, physics, early, across, late) = await ArrangeAsync();
        using var _t = t;
        await t.Store.CorrectRateAsync(Admin, t.Organization, TestStore.Cpu, Nov1, Nov15, Rate.FromDecimal(1.5m), "November was 1.5");
        var hash = t.ContentHash();

        var preview = await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November);

        Assert.Equal(hash, t.ContentHash());
        Assert.True(preview.IsComplete);
        Assert.Equal([early.Id, across.Id], preview.Events.Select(e => e.Event));
        var first = preview.Events[0];
        Assert.Equal((Amount.FromDecimal(100m), Amount.FromDecimal(150m), Amount.FromDecimal(50m)), (first.OldAmount, first.NewAmount, first.Delta));
        Assert.Equal(physics.Id, first.Allocation);
        Assert.Equal(UsageStatus.Confirmed, first.Status);
        // 5 h before Nov 15: 50 → 75; 5 h after: 100 either way.
        Assert.Equal((Amount.FromDecimal(150m), Amount.FromDecimal(175m)), (preview.Events[1].OldAmount, preview.Events[1].NewAmount));
        var delta = Assert.Single(preview.Allocations);
        Assert.Equal((physics.Id, "Physics", Amount.FromDecimal(75m), Amount.Zero), (delta.Allocation, delta.Name, delta.UsedDelta, delta.EstimatedDelta));
        Assert.DoesNotContain(preview.Events, e => e.Event == late.Id);
        Assert.Matches("^[0-9a-f]{64}$", preview.Token);
    }

    [Fact]
    public async Task Rerate_ReplacesSegmentsAndMovesFigures_ReportsShowTheNewAmountsAndTheJournalTheOld()
    {
        var (t, physics, early, across, _) = await ArrangeAsync();
        using var _t = t;
        var preview = await CorrectFirstHalfAsync(t, 1.5m);

        var result = await t.Store.RerateAsync(Admin, preview);

        Assert.Equal((2, 0, false), (result.Rerated, result.AlreadyApplied, result.WasAlreadyApplied));
        var moved = Assert.Single(result.Allocations);
        Assert.Equal(Amount.FromDecimal(100m + 150m + 200m + 75m), moved.Used);
        Assert.Empty(result.OverTotal);
        var rerated = await t.Store.GetEventAsync(Admin, across.Id);
        Assert.Equal(Amount.FromDecimal(175m), rerated.Amount);
        Assert.Equal([75m, 100m], rerated.Segments.Select(s => s.Amount.ToDecimal()));
        Assert.Equal([1.5m, 2m], rerated.Segments.Select(s => s.Rate.ToDecimal()));
        Assert.Equal(Amount.FromDecimal(525m), (await t.Store.GetAllocationAsync(Admin, physics.Id)).Used);

        var report = await t.Store.GetUsageReportAsync(Admin, new UsageReportRequest(t.Organization, Nov1, November.End));
        Assert.Equal(Amount.FromDecimal(525m), Assert.Single(report.Totals).Amount);

        var entries = (await t.Store.GetAllocationJournalAsync(Admin, physics.Id)).Where(e => e.Action == "usage.rerate").ToList();
        Assert.Equal([early.Id.ToString(), across.Id.ToString()], entries.Select(e => e.Target));
        using (var before = JsonDocument.Parse(entries[1].Before!))
        using (var after = JsonDocument.Parse(entries[1].After!))
        {
            Assert.Equal("150", before.RootElement.GetProperty("amount").GetString());
            Assert.Equal("175", after.RootElement.GetProperty("amount").GetString());
        }
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
        var journal = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(journal.IsIntact, journal.Problem);
    }

    [Fact]
    public async Task Rerate_AppliedTwice_ChangesNothingTheSecondTime_AndSaysSo()
    {
        var (t, _, _, _, _) = await ArrangeAsync();
        using var _t = t;
        var preview = await CorrectFirstHalfAsync(t, 1.5m);
        await t.Store.RerateAsync(Admin, preview);
        var hash = t.ContentHash();

        var again = await t.Store.RerateAsync(Admin, preview);

        Assert.Equal((0, 2, true), (again.Rerated, again.AlreadyApplied, again.WasAlreadyApplied));
        Assert.Empty(again.Allocations);
        Assert.Equal(hash, t.ContentHash());
        var next = await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November);
        Assert.Empty(next.Events);
        Assert.True(next.IsComplete);
    }

    [Fact]
    public async Task Rerate_WhenAListedEventChangedSincePreview_IsRefusedAndChangesNothing()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 10_000m);
        var hold = (await t.Store.ReserveAsync(Admin, TestStore.Cpu1(physics, 4m, Nov1, Nov1 + Duration.FromHours(10), UsageStatus.Estimated))).Event!;
        var preview = await CorrectFirstHalfAsync(t, 3m);
        Assert.Equal(Amount.FromDecimal(80m), Assert.Single(preview.Allocations).EstimatedDelta);
        await t.Store.ConfirmAsync(Admin, hold.Id, Quantity.FromDecimal(5m));
        var hash = t.ContentHash();

        var refused = await Assert.ThrowsAsync<StalePreviewException>(() => t.Store.RerateAsync(Admin, preview));

        Assert.Equal([hold.Id], refused.Events);
        Assert.Equal(TestStore.Cpu, refused.Sku);
        Assert.Equal(hash, t.ContentHash());
    }

    [Fact]
    public async Task Rerate_WhenADeletedEventWasListed_IsRefused()
    {
        var (t, _, early, _, _) = await ArrangeAsync();
        using var _t = t;
        var preview = await CorrectFirstHalfAsync(t, 3m);
        await t.Store.DeleteEventAsync(Admin, early.Id);

        var refused = await Assert.ThrowsAsync<StalePreviewException>(() => t.Store.RerateAsync(Admin, preview));

        Assert.Contains(early.Id, refused.Events);
    }

    [Fact]
    public async Task Rerate_WhenTheRulesChangedSincePreview_IsRefusedAndChangesNothing()
    {
        var (t, _, _, _, _) = await ArrangeAsync();
        using var _t = t;
        var preview = await CorrectFirstHalfAsync(t, 3m);
        await t.Store.CorrectRateAsync(Admin, t.Organization, TestStore.Cpu, Nov1, Nov15, Rate.FromDecimal(2.5m), "wrong again");
        var hash = t.ContentHash();

        var refused = await Assert.ThrowsAsync<StalePreviewException>(() => t.Store.RerateAsync(Admin, preview));

        Assert.Empty(refused.Events);
        Assert.Contains("rules", refused.Message, StringComparison.Ordinal);
        Assert.Equal(hash, t.ContentHash());
    }

    [Fact]
    public async Task Rerate_NewEventsRecordedAfterThePreview_DoNotMakeItStale()
    {
        var (t, physics, _, _, _) = await ArrangeAsync();
        using var _t = t;
        var preview = await CorrectFirstHalfAsync(t, 3m);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(physics, 1m, Nov1 + Duration.FromDays(5), Nov1 + Duration.FromDays(5) + Duration.FromHours(1)));

        Assert.Equal(2, (await t.Store.RerateAsync(Admin, preview)).Rerated);
        Assert.Empty((await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November)).Events);
    }

    [Fact]
    public async Task Preview_StopsAtMaxEvents_AndAfterApplyingItTheNextPreviewListsTheRest()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 1_000_000m);
        var records = Enumerable.Range(0, 25).Select(i => TestStore.Cpu1(physics, 1m, Nov1 + Duration.FromHours(i), Nov1 + Duration.FromHours(i + 1))).ToList();
        await t.Store.RecordBatchAsync(Admin, records);
        await t.Store.CorrectRateAsync(Admin, t.Organization, TestStore.Cpu, Nov1, Nov15, Rate.FromDecimal(2m), "doubled");

        var first = await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November, maxEvents: 10);
        Assert.False(first.IsComplete);
        Assert.Equal(10, first.Events.Count);
        await t.Store.RerateAsync(Admin, first);
        var second = await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November, maxEvents: 10);
        Assert.Empty(second.Events.Select(e => e.Event).Intersect(first.Events.Select(e => e.Event)));
        await t.Store.RerateAsync(Admin, second);
        var third = await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November, maxEvents: 10);
        Assert.True(third.IsComplete);
        Assert.Equal(5, third.Events.Count);
        await t.Store.RerateAsync(Admin, third);

        Assert.Equal(Amount.FromDecimal(50m), (await t.Store.GetAllocationAsync(Admin, physics.Id)).Used);
        Assert.Empty((await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November)).Events);
        var journal = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(journal.IsIntact, journal.Problem);
    }

    [Fact]
    public async Task Rerate_PastTheTotal_IsAppliedAndNamesTheAllocation_AndItsParent()
    {
        using var t = await TestStore.CreateAsync();
        var pool = await t.CreateAllocationAsync("Pool", 120m);
        var team = await t.CreateAllocationAsync("Team", 110m, pool);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(team, 10m, Nov1, Nov1 + Duration.FromHours(10)));
        var preview = await CorrectFirstHalfAsync(t, 1.5m);
        Assert.Equal([(pool.Id, 50m), (team.Id, 50m)], preview.Allocations.Select(a => (a.Allocation, a.UsedDelta.ToDecimal())));

        var result = await t.Store.RerateAsync(Admin, preview);

        Assert.Equal([pool.Id, team.Id], result.OverTotal);
        Assert.Equal(Amount.FromDecimal(-40m), (await t.Store.GetAllocationAsync(Admin, team.Id)).Remaining);
        Assert.Equal(Amount.FromDecimal(-30m), (await t.Store.GetAllocationAsync(Admin, pool.Id)).Remaining);
    }

    [Fact]
    public async Task Rerate_ALowerRate_MovesFiguresDown_AndNamesNoAllocationOverItsTotal()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 50m);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(physics, 10m, Nov1, Nov1 + Duration.FromHours(10)));
        await t.Store.CorrectRateAsync(Admin, t.Organization, TestStore.Cpu, Nov1, Nov15, Rate.FromDecimal(0.25m), "lower");

        var result = await t.Store.RerateAsync(Admin, await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November));

        Assert.Empty(result.OverTotal);
        Assert.Equal(Amount.FromDecimal(25m), Assert.Single(result.Allocations).Used);
    }

    [Fact]
    public async Task Preview_AfterARuleSplit_ListsEventsWhoseRuleChanged_EvenWithTheSameAmount()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 10_000m);
        var late = (await t.Store.RecordUsageAsync(Admin, new UsageRecord(physics.Id, TestStore.Gpu, Quantity.FromDecimal(1m), Nov1 + Duration.FromDays(10), Nov1 + Duration.FromDays(10) + Duration.FromHours(1), UsageStatus.Confirmed))).Event;
        await t.Store.CorrectRateAsync(Admin, t.Organization, TestStore.Gpu, Nov1 + Duration.FromDays(3), Nov1 + Duration.FromDays(4), Rate.FromDecimal(5m), "one bad day");

        var item = Assert.Single((await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Gpu, November)).Events);

        Assert.Equal((late.Id, Amount.Zero), (item.Event, item.Delta));
    }

    [Fact]
    public async Task Preview_OnlyCountsEventsOverlappingTheInterval_AndRatesThemWhole()
    {
        var (t, _, early, across, late) = await ArrangeAsync();
        using var _t = t;
        await t.Store.CorrectRateAsync(Admin, t.Organization, TestStore.Cpu, Nov1, null, Rate.FromDecimal(5m), "everything was 5");

        var lateOnly = await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, new Interval(Nov15 + Duration.FromDays(1), November.End));
        var acrossOnly = await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, new Interval(Nov15, Nov15 + Duration.FromHours(1)));

        Assert.Equal([late.Id], lateOnly.Events.Select(e => e.Event));
        var item = Assert.Single(acrossOnly.Events);
        Assert.Equal((across.Id, Amount.FromDecimal(500m)), (item.Event, item.NewAmount));
        Assert.DoesNotContain(early.Id, acrossOnly.Events.Select(e => e.Event));
    }

    [Fact]
    public async Task Preview_TokensAreEqualForTheSameState_AndDifferOnceAListedEventChanges()
    {
        var (t, _, early, _, _) = await ArrangeAsync();
        using var _t = t;
        var a = await CorrectFirstHalfAsync(t, 3m);
        var b = await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November);
        await t.Store.DeleteEventAsync(Admin, early.Id);
        var c = await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November);

        Assert.Equal(a.Token, b.Token);
        Assert.NotEqual(a.Token, c.Token);
    }

    [Fact]
    public async Task Rerate_RepricesUsd_WhenTheUnitHasPrices()
    {
        using var t = await TestStore.CreateAsync();
        await t.Store.AddUsdPriceAsync(Admin, t.Organization, TestStore.CoreHours, Nov1, null, Rate.FromDecimal(0.1m));
        var physics = await t.CreateAllocationAsync("Physics", 10_000m);
        var e = (await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(physics, 10m, Nov1, Nov1 + Duration.FromHours(10)))).Event;
        Assert.Equal(Amount.FromDecimal(10m), e.UsdAmount);
        await t.Store.CorrectRateAsync(Admin, t.Organization, TestStore.Cpu, Nov1, Nov15, Rate.FromDecimal(2m), "doubled");

        var preview = await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, November);
        var item = Assert.Single(preview.Events);
        Assert.Equal((Amount.FromDecimal(10m), Amount.FromDecimal(20m)), (item.OldUsd!.Value, item.NewUsd!.Value));
        await t.Store.RerateAsync(Admin, preview);

        Assert.Equal(Amount.FromDecimal(20m), (await t.Store.GetEventAsync(Admin, e.Id)).UsdAmount);
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }
}
