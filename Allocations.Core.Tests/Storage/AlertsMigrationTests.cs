using Allocations.Domain;
using Allocations.Storage;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>Migration 0013 on a file of the schema before it: the file opens, keeps its figures and journal, and
/// takes thresholds and records alerts from then on.</summary>
public class AlertsMigrationTests
{
    [Fact]
    public async Task FileOfTheSchemaBeforeAlerts_Upgrades_AndRecordsAlertsFromThenOn()
    {
        using var t = await TestStore.CreateAsync();
        var physics = await t.CreateAllocationAsync("Physics", 100m);
        var start = Instant.FromUtc(2026, 11, 16, 0, 0);
        await t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(physics, 1m, start, start + Duration.FromHours(30)));
        t.Store.Dispose();
        // Take the file back to the schema before alerts: without their tables, at the version before 13.
        RawSqlite.Execute(t.Path, "DROP TABLE alerts; DROP TABLE alert_thresholds; PRAGMA user_version = 11;");

        await t.ReopenAsync();
        await t.Store.SetAlertThresholdsAsync(TestStore.Admin, physics.Id, [AlertThreshold.PercentUsed(80)]);
        await t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(physics, 1m, start, start + Duration.FromHours(10)));

        var alert = Assert.Single((await t.Store.GetAlertsAsync(TestStore.Admin, t.Organization)).Alerts);
        Assert.Equal((AlertDirection.Up, Amount.FromDecimal(80m)), (alert.Direction, alert.Used));
        Assert.True((await t.Store.VerifyAsync(TestStore.Admin, t.Organization)).IsClean);
        Assert.True((await t.Store.VerifyJournalAsync(TestStore.Admin, t.Organization)).IsIntact);
        Assert.Equal(Migrations.Latest, RawSqlite.Scalar(t.Path, "PRAGMA user_version"));
    }
}
