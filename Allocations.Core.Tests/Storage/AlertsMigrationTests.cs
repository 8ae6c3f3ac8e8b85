using Allocations.Domain;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>Migration 0013 on a file of the schema before it: the file opens, and takes thresholds and records alerts
/// from then on.</summary>
public class AlertsMigrationTests
{
    [Fact]
    public async Task FileOfTheSchemaBeforeAlerts_Upgrades_AndRecordsAlertsFromThenOn()
    {
        var directory = TestStore.NewDirectory();
        var path = Path.Combine(directory, "v12.db");
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            connection.Open();
            using var transaction = connection.BeginTransaction();
            Migrations.Apply(connection, transaction, path, upTo: 12);
            transaction.Commit();
        }
        Assert.Equal(0, RawSqlite.Scalar(path, "SELECT count(*) FROM sqlite_schema WHERE name IN ('alerts', 'alert_thresholds')"));

        using (var store = await AllocationStore.OpenAsync(path, new AllocationStoreOptions { Clock = new NodaTime.Testing.FakeClock(Instant.FromUtc(2026, 11, 20, 0, 0)) }))
        {
            var org = await store.CreateOrganizationAsync(Principal.System, "Lab", TestStore.Admin.Id);
            await store.CreateUnitAsync(TestStore.Admin, org.Id, TestStore.CoreHours, 2);
            await store.CreateSkuAsync(TestStore.Admin, org.Id, TestStore.Cpu, TestStore.CoreHours, RateBasis.PerHour);
            await store.AddRateRuleAsync(TestStore.Admin, org.Id, TestStore.Cpu, TestStore.November1, null, Rate.FromDecimal(1m));
            var physics = await store.CreateAllocationAsync(TestStore.Admin, org.Id, new NewAllocation("Physics", TestStore.CoreHours, Amount.FromDecimal(100m)));
            await store.SetAlertThresholdsAsync(TestStore.Admin, physics.Id, [AlertThreshold.PercentUsed(80)]);
            await store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(physics, 1m, TestStore.November15, TestStore.November15 + Duration.FromHours(85)));

            var alert = Assert.Single((await store.GetAlertsAsync(TestStore.Admin, org.Id)).Alerts);
            Assert.Equal((AlertDirection.Up, Amount.FromDecimal(85m)), (alert.Direction, alert.Used));
            Assert.True((await store.VerifyJournalAsync(TestStore.Admin, org.Id)).IsIntact);
        }
        Assert.Equal(Migrations.Latest, RawSqlite.Scalar(path, "PRAGMA user_version"));
        Directory.Delete(directory, recursive: true);
    }
}
