using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Allocations.Tests.Access;

public class AccessMigrationTests
{
    [Fact]
    public async Task AVersion1File_IsUpgraded_AndItsJournalStartsAtTheFirstChangeAfterwards()
    {
        var directory = TestStore.NewDirectory();
        var path = Path.Combine(directory, "v1.db");
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false };
        using (var connection = new SqliteConnection(builder.ToString()))
        {
            connection.Open();
            using var transaction = connection.BeginTransaction();
            Migrations.Apply(connection, transaction, path, upTo: 1);
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText =
                "INSERT INTO organizations (id, name, name_key, created_ns) VALUES (1, 'Old', 'OLD', 0);" +
                "INSERT INTO org_admins (org_id, user_id) VALUES (1, 'admin');" +
                "INSERT INTO units (org_id, code, code_key, display_precision) VALUES (1, 'USD', 'USD', 2);";
            command.ExecuteNonQuery();
            transaction.Commit();
        }

        using (var store = await AllocationStore.OpenAsync(path))
        {
            var org = new OrganizationId(1);
            var allocation = await store.CreateAllocationAsync(TestStore.Admin, org, new NewAllocation("Old budget", UnitCode.Usd, Amount.FromDecimal(10m)));
            await store.CreateGroupAsync(TestStore.Admin, org, "staff");
            await store.GrantAsync(TestStore.Admin, allocation.Id, Grantee.Group("staff"), AccessLevel.Read);

            var journal = await store.GetOrganizationJournalAsync(TestStore.Admin, org);
            Assert.Equal(["allocation.create", "group.create", "grant.set"], journal.Select(e => e.Action));
            Assert.Equal(new string('0', 64), journal[0].PreviousHash);
            Assert.True((await store.VerifyJournalAsync(TestStore.Admin, org)).IsIntact);
        }
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task ABatchThatFailsAtItsLastItem_WritesNoJournalEntry()
    {
        using var t = await TestStore.CreateAsync();
        var allocation = await t.CreateAllocationAsync("Physics", 100m);
        var before = t.ContentHash();
        var records = Enumerable.Range(0, 5)
            .Select(i => TestStore.Cpu1(allocation, 1m, TestStore.November1, TestStore.November15, key: "k" + i))
            .Append(new UsageRecord(allocation.Id, new SkuCode("NO_SUCH_SKU"), Quantity.FromDecimal(1m), TestStore.November1, TestStore.November15))
            .ToList();

        var ex = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.RecordBatchAsync(TestStore.Admin, records));

        Assert.Equal(5, ex.BatchIndex);
        Assert.Equal(before, t.ContentHash());
        var ok = await t.Store.RecordBatchAsync(TestStore.Admin, records.Take(5).ToList());
        Assert.Equal(5, ok.Recorded);
        var entries = await t.Store.GetAllocationJournalAsync(TestStore.Admin, allocation.Id);
        // The five events are journaled by the one batch entry of the call that recorded them; the failed call left none.
        var batch = Assert.Single(entries, e => e.Action.StartsWith("usage.", StringComparison.Ordinal));
        Assert.Equal("usage.batch", batch.Action);
        Assert.Equal(5, System.Text.Json.JsonDocument.Parse(batch.After!).RootElement.GetProperty("events").GetInt64());
        Assert.True((await t.Store.VerifyJournalAsync(TestStore.Admin, t.Organization)).IsIntact);
    }
}
