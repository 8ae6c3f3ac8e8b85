using System.Text.Json;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Alerts;

public class AlertTests
{
    private static readonly Principal Admin = TestStore.Admin;

    // After Nov 15 CPU_HOUR costs 2 per core-hour: one core for h hours costs 2h.
    private static readonly Instant Nov16 = Instant.FromUtc(2026, 11, 16, 0, 0);

    private static UsageRecord Cost(Allocation allocation, int amount, UsageStatus status = UsageStatus.Confirmed, string? key = null) =>
        TestStore.Cpu1(allocation, 1m, Nov16, Nov16 + Duration.FromHours(amount / 2.0), status, key);

    private static async Task<IReadOnlyList<Alert>> AllAsync(TestStore t, Principal? actor = null, AlertCursor after = default) =>
        (await t.Store.GetAlertsAsync(actor ?? Admin, t.Organization, after)).Alerts;

    private static Task SetAsync(TestStore t, Allocation on, params AlertThreshold[] thresholds) =>
        t.Store.SetAlertThresholdsAsync(Admin, on.Id, thresholds);

    [Fact]
    public async Task Record_CrossingAPercentThreshold_RecordsOneAlertNamingTheEventAndTheFiguresAfter()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        await SetAsync(t, physics, AlertThreshold.PercentUsed(80), AlertThreshold.PercentUsed(100));
        await t.Store.RecordUsageAsync(Admin, Cost(physics, 50));
        Assert.Empty(await AllAsync(t));

        var crossing = await t.Store.RecordUsageAsync(Admin, Cost(physics, 30));

        var alert = Assert.Single(await AllAsync(t));
        Assert.Equal(physics.Id, alert.Allocation);
        Assert.Equal("Physics", alert.AllocationName);
        Assert.Equal(AlertThreshold.PercentUsed(80), alert.Threshold);
        Assert.Equal(AlertDirection.Up, alert.Direction);
        Assert.Equal(Amount.FromDecimal(100m), alert.Total);
        Assert.Equal(Amount.FromDecimal(80m), alert.Used);
        Assert.Equal(Amount.Zero, alert.Estimated);
        Assert.Equal(Amount.FromDecimal(20m), alert.Remaining);
        Assert.Equal(80m, alert.PercentUsed);
        Assert.Equal(crossing.Event.Id, alert.Event);
        Assert.Equal("usage.record", alert.Operation);
        Assert.Equal(t.Clock.GetCurrentInstant(), alert.At);
        Assert.Equal("user:admin", alert.Actor);
        var entry = (await t.Store.GetAllocationJournalAsync(Admin, physics.Id)).Single(e => e.Sequence == alert.JournalSequence);
        Assert.Equal("usage.record", entry.Action);
        Assert.Equal(crossing.Event.Id.ToString(), entry.Target);
    }

    [Fact]
    public async Task Writes_ThatStayOnOneSide_RecordNothing_AndEachCrossingIsRecordedOnce()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        await SetAsync(t, physics, AlertThreshold.PercentUsed(80));
        await t.Store.RecordUsageAsync(Admin, Cost(physics, 90));
        await t.Store.RecordUsageAsync(Admin, Cost(physics, 4));
        await t.Store.RecordUsageAsync(Admin, Cost(physics, 6));

        var alert = Assert.Single(await AllAsync(t));
        Assert.Equal(AlertDirection.Up, alert.Direction);
        Assert.Equal(Amount.FromDecimal(90m), alert.Used);
    }

    [Fact]
    public async Task Delete_BelowTheThreshold_RecordsADownAlert()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        await SetAsync(t, physics, AlertThreshold.PercentUsed(80), AlertThreshold.PercentUsed(100));
        await t.Store.RecordUsageAsync(Admin, Cost(physics, 50));
        var big = await t.Store.RecordUsageAsync(Admin, Cost(physics, 60));

        await t.Store.DeleteEventAsync(Admin, big.Event.Id);

        var alerts = await AllAsync(t);
        Assert.Equal(
            [(80m, AlertDirection.Up), (100m, AlertDirection.Up), (80m, AlertDirection.Down), (100m, AlertDirection.Down)],
            alerts.Select(a => (a.Threshold.Percent!.Value, a.Direction)));
        Assert.All(alerts.Skip(2), a => Assert.Equal(("usage.delete", (UsageEventId?)big.Event.Id, Amount.FromDecimal(50m)), (a.Operation, a.Event, a.Used)));
        Assert.True(alerts.Select(a => a.Cursor.Value).SequenceEqual(alerts.Select(a => a.Cursor.Value).Order()));
    }

    [Fact]
    public async Task Batch_ComparesFiguresBeforeAndAfter_AndNamesItsLastEventOfTheAllocation()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var chemistry = await t.CreateAllocationAsync("Chemistry", 100m);
        await SetAsync(t, physics, AlertThreshold.PercentUsed(50), AlertThreshold.PercentUsed(100));

        var result = await t.Store.RecordBatchAsync(Admin, [Cost(physics, 40), Cost(physics, 40), Cost(chemistry, 100), Cost(physics, 40), Cost(chemistry, 2)]);

        var alerts = await AllAsync(t);
        Assert.Equal([50m, 100m], alerts.Select(a => a.Threshold.Percent!.Value));
        Assert.All(alerts, a => Assert.Equal((physics.Id, AlertDirection.Up, Amount.FromDecimal(120m), "usage.batch"), (a.Allocation, a.Direction, a.Used, a.Operation)));
        Assert.All(alerts, a => Assert.Equal(result.Items[3].EventId, a.Event));
    }

    [Fact]
    public async Task Batch_ThatCrossesAndComesBack_RecordsNothing()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        await SetAsync(t, physics, AlertThreshold.PercentUsed(80));
        await t.Store.RecordUsageAsync(Admin, Cost(physics, 70, UsageStatus.Estimated, key: "job-1"));

        // The hold is replaced by a larger one and then by a smaller one within one batch: the net change stays below.
        await t.Store.RecordBatchAsync(Admin, [Cost(physics, 90, UsageStatus.Estimated, key: "job-1"), Cost(physics, 72, UsageStatus.Estimated, key: "job-1")]);

        Assert.Empty(await AllAsync(t));
    }

    [Fact]
    public async Task RemainingThreshold_IsCrossedByAReservation_AndLeftByItsRelease()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        await SetAsync(t, physics, AlertThreshold.Remaining(Amount.FromDecimal(25m)));

        var hold = await t.Store.ReserveAsync(Admin, Cost(physics, 76, UsageStatus.Estimated));
        Assert.True(hold.Reserved);
        await t.Store.ReleaseAsync(Admin, hold.Event!.Id);

        var alerts = await AllAsync(t);
        Assert.Equal([AlertDirection.Up, AlertDirection.Down], alerts.Select(a => a.Direction));
        Assert.Equal(["usage.record", "usage.release"], alerts.Select(a => a.Operation));
        Assert.Equal(Amount.FromDecimal(76m), alerts[0].Estimated);
        Assert.Equal(Amount.FromDecimal(24m), alerts[0].Remaining);
        Assert.Equal(Amount.FromDecimal(100m), alerts[1].Remaining);
    }

    [Fact]
    public async Task Confirm_ThatMovesFiguresAcross_IsTheCause()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        await SetAsync(t, physics, AlertThreshold.PercentUsed(90));
        var hold = await t.Store.ReserveAsync(Admin, Cost(physics, 50, UsageStatus.Estimated));

        await t.Store.ConfirmAsync(Admin, hold.Event!.Id, Quantity.FromDecimal(2m));

        var alert = Assert.Single(await AllAsync(t));
        Assert.Equal(("usage.confirm", hold.Event.Id, Amount.FromDecimal(100m)), (alert.Operation, alert.Event!.Value, alert.Used));
    }

    [Fact]
    public async Task TotalChange_AndTransfer_CrossThresholds_WithoutAnEvent()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var chemistry = await t.CreateAllocationAsync("Chemistry", 100m);
        await SetAsync(t, physics, AlertThreshold.PercentUsed(80));
        await SetAsync(t, chemistry, AlertThreshold.Remaining(Amount.FromDecimal(100m)));
        await t.Store.RecordUsageAsync(Admin, Cost(physics, 70));

        await t.Store.ChangeTotalAsync(Admin, physics.Id, Amount.FromDecimal(80m), "cut");
        await t.Store.TransferAsync(Admin, physics.Id, chemistry.Id, Amount.FromDecimal(1m), "lend", force: false);
        await t.Store.ChangeTotalAsync(Admin, physics.Id, Amount.FromDecimal(1000m), "top-up");

        var alerts = await AllAsync(t);
        Assert.Equal(
            [(physics.Id, AlertDirection.Up, "allocation.total"), (chemistry.Id, AlertDirection.Down, "allocation.transfer-in"), (physics.Id, AlertDirection.Down, "allocation.total")],
            alerts.Select(a => (a.Allocation, a.Direction, a.Operation)));
        Assert.All(alerts, a => Assert.Null(a.Event));
        Assert.Equal(Amount.FromDecimal(80m), alerts[0].Total);
        Assert.Equal(Amount.FromDecimal(101m), alerts[1].Total);
    }

    [Fact]
    public async Task ParentThreshold_IsCrossedByAChildsUsage_AndLeftWhenTheChildIsDeleted()
    {
        // One write's alerts come in allocation id order: the parent (created first) before its child.
        using var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("Physics", 100m);
        var child = await t.CreateAllocationAsync("Optics", 100m, parent);
        await SetAsync(t, parent, AlertThreshold.PercentUsed(50));
        await SetAsync(t, child, AlertThreshold.PercentUsed(50));

        var recorded = await t.Store.RecordUsageAsync(Admin, Cost(child, 60));
        await t.Store.DeleteAllocationAsync(Admin, child.Id);

        var alerts = await AllAsync(t);
        Assert.Equal(
            [(parent.Id, AlertDirection.Up), (child.Id, AlertDirection.Up), (parent.Id, AlertDirection.Down)],
            alerts.Select(a => (a.Allocation, a.Direction)));
        Assert.Equal(recorded.Event.Id, alerts[0].Event);
        Assert.Equal("usage.record", alerts[0].Operation);
        Assert.Equal("allocation.child-deleted", alerts[2].Operation);
        Assert.Equal(Amount.Zero, alerts[2].Used);
        // The child's alert outlives the child, under its name, for organization admins.
        Assert.Equal("Optics", alerts[1].AllocationName);
    }

    [Fact]
    public async Task WriteThatFails_RecordsNoAlert()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        await SetAsync(t, physics, AlertThreshold.PercentUsed(50));

        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.RecordBatchAsync(Admin, [Cost(physics, 80), new UsageRecord(physics.Id, new SkuCode("NOPE"), Quantity.FromDecimal(1m), Nov16, Nov16)]));
        var refused = await t.Store.ReserveAsync(Admin, Cost(physics, 200, UsageStatus.Estimated));

        Assert.False(refused.Reserved);
        Assert.Empty(await AllAsync(t));
    }

    [Fact]
    public async Task Readers_SeeOnlyAlertsOfAllocationsTheyMayRead_AndTheCursorPassesTheOthers()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var secret = await t.CreateAllocationAsync("Secret", 100m);
        await SetAsync(t, physics, AlertThreshold.PercentUsed(50));
        await SetAsync(t, secret, AlertThreshold.PercentUsed(50));
        await t.Store.CreateGroupAsync(Admin, t.Organization, "readers");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "readers", "ann");
        await t.Store.GrantAsync(Admin, physics.Id, Grantee.Group("readers"), AccessLevel.Read);
        var ann = Principal.User("ann");
        await t.Store.RecordUsageAsync(Admin, Cost(secret, 60));

        var first = await t.Store.GetAlertsAsync(ann, t.Organization);
        await t.Store.RecordUsageAsync(Admin, Cost(physics, 60));
        var second = await t.Store.GetAlertsAsync(ann, t.Organization, first.Next);
        var third = await t.Store.GetAlertsAsync(ann, t.Organization, second.Next);

        Assert.Empty(first.Alerts);
        Assert.NotEqual(AlertCursor.Start, first.Next);
        Assert.Equal(physics.Id, Assert.Single(second.Alerts).Allocation);
        Assert.Empty(third.Alerts);
        Assert.Equal(second.Next, third.Next);
        Assert.Equal(2, (await AllAsync(t)).Count);
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAlertsAsync(Principal.User("stranger"), t.Organization));
    }

    [Fact]
    public async Task Alerts_AreDurable_AndAReaderResumesFromItsCursor()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        await SetAsync(t, physics, AlertThreshold.PercentUsed(10), AlertThreshold.PercentUsed(20), AlertThreshold.PercentUsed(30));
        await t.Store.RecordUsageAsync(Admin, Cost(physics, 12));
        await t.Store.RecordUsageAsync(Admin, Cost(physics, 10));
        var page = await t.Store.GetAlertsAsync(Admin, t.Organization, pageSize: 1);
        await t.ReopenAsync();
        await t.Store.RecordUsageAsync(Admin, Cost(physics, 10));

        var rest = await t.Store.GetAlertsAsync(Admin, t.Organization, AlertCursor.Parse(page.Next.ToString()));

        Assert.Equal(10m, Assert.Single(page.Alerts).Threshold.Percent);
        Assert.Equal([20m, 30m], rest.Alerts.Select(a => a.Threshold.Percent!.Value));
    }

    [Fact]
    public async Task Thresholds_AreSetInOrder_Journalled_AndCleared()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);

        var set = await t.Store.SetAlertThresholdsAsync(Admin, physics.Id, [AlertThreshold.Remaining(Amount.FromDecimal(5m)), AlertThreshold.PercentUsed(100), AlertThreshold.PercentUsed(80.5m)]);
        var read = await t.Store.GetAlertThresholdsAsync(Admin, physics.Id);
        await t.Store.SetAlertThresholdsAsync(Admin, physics.Id, []);

        Assert.Equal(["80.5% used", "100% used", "remaining 5"], set.Select(s => s.ToString()));
        Assert.Equal(set, read);
        Assert.Empty(await t.Store.GetAlertThresholdsAsync(Admin, physics.Id));
        var entries = (await t.Store.GetAllocationJournalAsync(Admin, physics.Id)).Where(e => e.Action == "allocation.alert-thresholds").ToList();
        Assert.Equal(2, entries.Count);
        using var after = JsonDocument.Parse(entries[0].After!);
        Assert.Equal(3, after.RootElement.GetProperty("thresholds").GetArrayLength());
        using var cleared = JsonDocument.Parse(entries[1].After!);
        Assert.Equal(0, cleared.RootElement.GetProperty("thresholds").GetArrayLength());
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
    }

    [Fact]
    public async Task SettingAThresholdAlreadyPassed_RecordsNothing_UntilAWriteCrossesIt()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var big = await t.Store.RecordUsageAsync(Admin, Cost(physics, 90));
        await SetAsync(t, physics, AlertThreshold.PercentUsed(80));
        Assert.Empty(await AllAsync(t));

        await t.Store.DeleteEventAsync(Admin, big.Event.Id);

        Assert.Equal(AlertDirection.Down, Assert.Single(await AllAsync(t)).Direction);
    }

    [Fact]
    public async Task PercentThreshold_OnAZeroTotal_IsReachedByAnyUsage()
    {
        using var t = await TestStore.CreateAsync();
        var empty = await t.CreateAllocationAsync("Empty", 0m);
        await SetAsync(t, empty, AlertThreshold.PercentUsed(100));

        await t.Store.RecordUsageAsync(Admin, Cost(empty, 2));

        var alert = Assert.Single(await AllAsync(t));
        Assert.Null(alert.PercentUsed);
        Assert.Equal(AlertDirection.Up, alert.Direction);
    }
}

public class PeriodAlertTests
{
    private static readonly Principal Admin = TestStore.Admin;

    [Fact]
    public async Task Sweep_RecordsAPeriodEndingWithinTheLead_AndAPeriodEndedUnspent_EachOnce()
    {
        using var t = await TestStore.CreateAsync(); // the clock reads 2026-11-20T12:00Z
        var ending = await t.CreateAllocationAsync("Ending", 100m);
        var later = await t.CreateAllocationAsync("Later", 100m);
        var ended = await t.CreateAllocationAsync("Ended", 100m);
        var spent = await t.CreateAllocationAsync("Spent", 0m);
        await t.CreateAllocationAsync("Open", 100m);
        var start = Instant.FromUtc(2026, 1, 1, 0, 0);
        await t.Store.SetPeriodAsync(Admin, ending.Id, start, Instant.FromUtc(2026, 12, 10, 0, 0));
        await t.Store.SetPeriodAsync(Admin, later.Id, start, Instant.FromUtc(2027, 6, 1, 0, 0));
        await t.Store.SetPeriodAsync(Admin, ended.Id, start, Instant.FromUtc(2026, 11, 1, 0, 0));
        await t.Store.SetPeriodAsync(Admin, spent.Id, start, Instant.FromUtc(2026, 11, 1, 0, 0));

        Assert.Equal(2, await t.Store.SweepPeriodAlertsAsync(Admin, t.Organization));
        Assert.Equal(0, await t.Store.SweepPeriodAlertsAsync(Admin, t.Organization));

        var alerts = (await t.Store.GetAlertsAsync(Admin, t.Organization)).Alerts;
        Assert.Equal(
            [(ending.Id, AlertThresholdKind.PeriodEnding, Instant.FromUtc(2026, 12, 10, 0, 0)), (ended.Id, AlertThresholdKind.PeriodEndedUnspent, Instant.FromUtc(2026, 11, 1, 0, 0))],
            alerts.Select(a => (a.Allocation, a.Threshold.Kind, a.Threshold.PeriodEnd!.Value)));
        Assert.All(alerts, a => Assert.Equal((AlertDirection.Up, "allocation.period-alert", t.Clock.GetCurrentInstant(), (UsageEventId?)null), (a.Direction, a.Operation, a.At, a.Event)));
        var entry = (await t.Store.GetAllocationJournalAsync(Admin, ended.Id)).Single(e => e.Sequence == alerts[1].JournalSequence);
        Assert.Equal("allocation.period-alert", entry.Action);

        // Time passes: the ending period ends unspent, a second alert of its own; the later one comes within the lead.
        t.Clock.Reset(Instant.FromUtc(2027, 5, 15, 0, 0));
        Assert.Equal(2, await t.Store.SweepPeriodAlertsAsync(Admin, t.Organization));
        var more = (await t.Store.GetAlertsAsync(Admin, t.Organization, alerts[^1].Cursor)).Alerts;
        Assert.Equal([(ending.Id, AlertThresholdKind.PeriodEndedUnspent), (later.Id, AlertThresholdKind.PeriodEnding)], more.Select(a => (a.Allocation, a.Threshold.Kind)));
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
    }

    [Fact]
    public async Task Sweep_WithALeadOfZero_RecordsNoPeriodEnding_AndANegativeLeadIsRefused()
    {
        using var t = await TestStore.CreateAsync();
        var ending = await t.CreateAllocationAsync("Ending", 100m);
        await t.Store.SetPeriodAsync(Admin, ending.Id, null, Instant.FromUtc(2026, 11, 21, 0, 0));
        t.Store.Dispose();
        using var store = await AllocationStore.OpenAsync(t.Path, new AllocationStoreOptions { Clock = t.Clock, PeriodEndAlertLead = Duration.Zero });

        Assert.Equal(0, await store.SweepPeriodAlertsAsync(Admin, t.Organization));
        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => AllocationStore.OpenAsync(t.Path, new AllocationStoreOptions { Clock = t.Clock, PeriodEndAlertLead = Duration.FromDays(-1) }));
        Assert.Equal("PeriodEndAlertLead", refused.Field);
    }
}
