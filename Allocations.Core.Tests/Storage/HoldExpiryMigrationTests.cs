using Allocations.Domain;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using NodaTime.Testing;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>Migration 0012 on a version-11 file: its holds gain no expiry (they never expire) and keep counting; new
/// reservations on the upgraded file expire.</summary>
public class HoldExpiryMigrationTests
{
    private static readonly long Nov1Ns = (TestStore.November1 - NodaConstants.UnixEpoch).ToInt64Nanoseconds();

    [Fact]
    public async Task Version11File_Upgrades_ItsHoldsNeverExpire_AndNewHoldsDo()
    {
        var directory = TestStore.NewDirectory();
        var path = Path.Combine(directory, "v11.db");
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            connection.Open();
            using var transaction = connection.BeginTransaction();
            Migrations.Apply(connection, transaction, path, upTo: 11);
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText =
                "INSERT INTO organizations (id, name, name_key, created_ns) VALUES (1, 'Lab', 'LAB', 0);" +
                "INSERT INTO org_admins (org_id, user_id) VALUES (1, 'admin');" +
                "INSERT INTO units (id, org_id, code, code_key, display_precision) VALUES (1, 1, 'USD', 'USD', 2);" +
                "INSERT INTO skus (id, org_id, code, code_key, unit_id, basis) VALUES (1, 1, 'CPU', 'CPU', 1, 2);" +
                "INSERT INTO allocations (id, org_id, name, name_key, unit_id, total, own_estimated, estimated, created_ns, created_by) VALUES (1, 1, 'A', 'A', 1, 100000000, 4000000, 4000000, 0, 'admin');" +
                "INSERT INTO usage_events (org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by, source) " +
                "VALUES (1, 1, 1, 4000000, $s, $s, 1, NULL, 4000000, 4000000, NULL, 0, 'admin', 'user:admin');" +
                "INSERT INTO event_segments (event_id, seq, start_ns, end_ns, rule_id, rate, amount) VALUES (1, 0, $s, $s, 0, 1000000000, 4000000);";
            command.Parameters.AddWithValue("$s", Nov1Ns);
            command.ExecuteNonQuery();
            transaction.Commit();
        }
        var clock = new FakeClock(Instant.FromUtc(2026, 11, 20, 12, 0));
        using (var store = await AllocationStore.OpenAsync(path, new AllocationStoreOptions { Clock = clock }))
        {
            var admin = Principal.User("admin");
            var old = await store.GetEventAsync(admin, new UsageEventId(1));
            Assert.Null(old.ExpiresAt);
            clock.Advance(Duration.FromDays(400));
            Assert.Equal(Amount.FromDecimal(4m), (await store.GetAllocationAsync(admin, new AllocationId(1))).Estimated);
            Assert.Equal(0, await store.ReleaseExpiredHoldsAsync(admin, new OrganizationId(1)));
            await store.AddRateRuleAsync(admin, new OrganizationId(1), new SkuCode("CPU"), TestStore.November1, null, Rate.FromDecimal(1m));
            var hold = (await store.ReserveAsync(admin, new UsageRecord(new AllocationId(1), new SkuCode("CPU"), Quantity.FromDecimal(1m), TestStore.November1, TestStore.November1, UsageStatus.Estimated))).Event!;
            Assert.Equal(clock.GetCurrentInstant() + Duration.FromHours(24), hold.ExpiresAt);
        }
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version";
            Assert.Equal((long)Migrations.Latest, (long)command.ExecuteScalar()!);
        }
        Directory.Delete(directory, recursive: true);
    }
}
