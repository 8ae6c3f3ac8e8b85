using Allocations.Domain;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Access;

/// <summary>The journal replay follows every lifecycle write: periods, thresholds, extended, expired and swept holds,
/// rate corrections and re-rates. A store that used them all verifies clean, and a later edit of a re-rated or
/// extended event behind the library's back is still found.</summary>
public class ReplayLifecycleTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Nov1 = TestStore.November1;
    private static readonly Instant Nov15 = TestStore.November15;

    private static async Task<(TestStore T, UsageEvent Extended, UsageEvent Rerated)> BuildAsync(Engine engine)
    {
        var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 1000m);
        await t.Store.SetPeriodAsync(Admin, a.Id, Instant.FromUtc(2026, 1, 1, 0, 0), null);
        await t.Store.SetAlertThresholdsAsync(Admin, a.Id, [AlertThreshold.PercentUsed(5m)]);
        var kept = (await t.Store.ReserveAsync(Admin, TestStore.Cpu1(a, 1m, Nov15, Nov15 + Duration.FromHours(1), UsageStatus.Estimated), HoldExpiry.After(Duration.FromHours(1)))).Event!;
        await t.Store.ExtendHoldAsync(Admin, kept.Id, HoldExpiry.After(Duration.FromDays(3)));
        await t.Store.ReserveAsync(Admin, TestStore.Cpu1(a, 2m, Nov15, Nov15 + Duration.FromHours(1), UsageStatus.Estimated), HoldExpiry.After(Duration.FromMinutes(1)));
        t.Clock.AdvanceHours(1);
        Assert.Equal(1, await t.Store.ReleaseExpiredHoldsAsync(Admin, t.Organization));
        var used = (await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 10m, Nov1 + Duration.FromDays(1), Nov1 + Duration.FromDays(1) + Duration.FromHours(10)))).Event;
        await t.Store.CorrectRateAsync(Admin, t.Organization, TestStore.Cpu, Nov1, Nov15, Rate.FromDecimal(3m), "mispriced");
        var preview = await t.Store.PreviewRerateAsync(Admin, t.Organization, TestStore.Cpu, new Interval(Nov1, Nov15 + Duration.FromDays(15)));
        await t.Store.RerateAsync(Admin, preview);
        return (t, kept, used);
    }

    [Theory]
    [Engines]
    public async Task AStoreThatUsedEveryLifecycleWrite_VerifiesCleanAgainstItsJournal(Engine engine)
    {
        var (t, _, rerated) = await BuildAsync(engine);
        using var _t = t;
        Assert.Equal(300m, (await t.Store.GetEventAsync(Admin, rerated.Id)).Amount.ToDecimal());
        var actions = (await t.Store.GetOrganizationJournalAsync(Admin, t.Organization)).Select(e => e.Action).ToHashSet();
        Assert.Superset(new HashSet<string> { "allocation.period", "allocation.alert-thresholds", "usage.extend", "usage.expire", "rate.correct", "usage.rerate" }, actions);

        var replay = await t.Store.VerifyAgainstJournalAsync(Admin, t.Organization);
        Assert.True(replay.IsClean, string.Join("; ", replay.Findings));
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
    }

    [Fact]
    public async Task AnEditOfAReratedOrExtendedEvent_IsFoundByTheReplay()
    {
        var (t, extended, rerated) = await BuildAsync(Engine.Sqlite);
        using var _t = t;
        RawSqlite.Execute(t.Path, $"UPDATE usage_events SET expires_ns = expires_ns + 1 WHERE id = {extended.Id.Value}; UPDATE usage_events SET quantity = quantity + 1 WHERE id = {rerated.Id.Value}");

        var replay = await t.Store.VerifyAgainstJournalAsync(Admin, t.Organization);
        Assert.Contains(replay.Findings, f => f.Row.Contains(extended.Id.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        Assert.Contains(replay.Findings, f => f.Row.Contains(rerated.Id.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
    }
}
