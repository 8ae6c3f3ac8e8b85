using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>Migration 0014 on a file from before allocation periods: its allocations have none, their events stay
/// valid, and periods can be set on them afterwards.</summary>
public class PeriodMigrationTests
{
    private static readonly long Nov1Ns = (TestStore.November1 - NodaConstants.UnixEpoch).ToInt64Nanoseconds();
    private const long HourNs = 3_600_000_000_000;

    private static string CreateFileBeforePeriods(string directory)
    {
        var path = Path.Combine(directory, "before-periods.db");
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var transaction = connection.BeginTransaction();
        Migrations.Apply(connection, transaction, path, upTo: 13);
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText =
                "INSERT INTO organizations (id, name, name_key, created_ns) VALUES (1, 'Lab', 'LAB', 0);" +
                "INSERT INTO org_admins (org_id, user_id) VALUES (1, 'admin');" +
                "INSERT INTO units (id, org_id, code, code_key, display_precision) VALUES (1, 1, 'core-hours', 'CORE-HOURS', 2);" +
                "INSERT INTO skus (id, org_id, code, code_key, unit_id, basis) VALUES (1, 1, 'CPU_HOUR', 'CPU_HOUR', 1, 1);" +
                "INSERT INTO rate_rules (id, sku_id, unit_id, from_ns, to_ns, rate, created_ns, created_by) VALUES (1, 1, NULL, 0, NULL, 1000000000, 0, 'user:admin');" +
                "INSERT INTO allocations (id, org_id, name, name_key, unit_id, total, own_used, used, created_ns, created_by) VALUES (1, 1, 'A', 'A', 1, 100000000, 1000000, 1000000, 0, 'user:admin');" +
                "INSERT INTO usage_events (id, org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by, source) " +
                $"VALUES (1, 1, 1, 1, 1000000, {Nov1Ns + HourNs}, {Nov1Ns + 2 * HourNs}, 2, 'old-job', 1000000, NULL, NULL, 0, 'admin', 'user:admin');" +
                $"INSERT INTO event_segments (event_id, seq, start_ns, end_ns, rule_id, rate, amount) VALUES (1, 0, {Nov1Ns + HourNs}, {Nov1Ns + 2 * HourNs}, 1, 1000000000, 1000000);" +
                "UPDATE org_usage_sums SET amount_sum = 1000000 WHERE org_id = 1;" +
                "INSERT INTO org_usage_sums (org_id, amount_sum, usd_sum) SELECT 1, 1000000, 0 WHERE NOT EXISTS (SELECT 1 FROM org_usage_sums WHERE org_id = 1);";
            command.ExecuteNonQuery();
        }
        transaction.Commit();
        return path;
    }

    [Fact]
    public async Task AFileFromBeforePeriods_Upgrades_WithNoPeriods_AndTakesOneAfterwards()
    {
        var directory = TestStore.NewDirectory();
        var path = CreateFileBeforePeriods(directory);
        var a = new AllocationId(1);
        var clock = new NodaTime.Testing.FakeClock(Instant.FromUtc(2026, 11, 20, 12, 0));
        using (var store = await AllocationStore.OpenAsync(path, new AllocationStoreOptions { Clock = clock }))
        {
            Assert.True((long)RawSqlite.Scalar(path, "PRAGMA user_version")! >= 14);
            var old = await store.GetAllocationAsync(TestStore.Admin, a);
            Assert.Null(old.PeriodStart);
            Assert.Null(old.PeriodEnd);
            Assert.True((await store.VerifyAsync(TestStore.Admin, new OrganizationId(1))).IsClean);

            // The old event starts an hour after Nov 1: a period starting later would leave it outside.
            var conflict = await Assert.ThrowsAsync<ConflictException>(() => store.SetPeriodAsync(TestStore.Admin, a, TestStore.November1 + Duration.FromHours(2), null));
            Assert.Contains("event:1", conflict.Message, StringComparison.Ordinal);
            var set = await store.SetPeriodAsync(TestStore.Admin, a, TestStore.November1, Instant.FromUtc(2026, 12, 1, 0, 0));
            Assert.Equal(TestStore.November1, set.PeriodStart);
            var start = Instant.FromUtc(2026, 12, 1, 0, 0);
            await Assert.ThrowsAsync<OutsidePeriodException>(() => store.RecordUsageAsync(TestStore.Admin, new UsageRecord(a, TestStore.Cpu, Quantity.FromDecimal(1m), start, start + Duration.FromHours(1))));
            Assert.True((await store.VerifyAsync(TestStore.Admin, new OrganizationId(1))).IsClean);
        }
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }
}
