using System.Buffers;
using Allocations.Domain;
using Allocations.Journal;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>Migration 0009 on a version-8 file: its per-event journal entries keep verifying, each organization's
/// chain head moves into a head row, and new entries (batch entries among them) chain on from the old heads.</summary>
public class BatchJournalMigrationTests
{
    private static readonly long Nov1Ns = (TestStore.November1 - NodaConstants.UnixEpoch).ToInt64Nanoseconds();

    private static void Exec(SqliteConnection connection, SqliteTransaction transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        command.ExecuteNonQuery();
    }

    /// <summary>Two organizations with interleaved journal entries; organization 1 has an allocation with one event
    /// journaled the old way (one usage.record entry).</summary>
    private static string CreateVersion8File(string directory)
    {
        var path = Path.Combine(directory, "v8.db");
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var transaction = connection.BeginTransaction();
        Migrations.Apply(connection, transaction, path, upTo: 8);
        Exec(connection, transaction,
            "INSERT INTO organizations (id, name, name_key, created_ns) VALUES (1, 'Lab', 'LAB', 0), (2, 'Other', 'OTHER', 0);" +
            "INSERT INTO org_admins (org_id, user_id) VALUES (1, 'admin'), (2, 'olga');" +
            "INSERT INTO units (id, org_id, code, code_key, display_precision) VALUES (1, 1, 'core-hours', 'CORE-HOURS', 2);" +
            "INSERT INTO skus (id, org_id, code, code_key, unit_id, basis) VALUES (1, 1, 'CPU_HOUR', 'CPU_HOUR', 1, 1);" +
            "INSERT INTO rate_rules (id, sku_id, unit_id, from_ns, to_ns, rate, created_ns, created_by) VALUES (1, 1, NULL, 0, NULL, 1000000000, 0, 'user:admin');" +
            "INSERT INTO allocations (id, org_id, name, name_key, unit_id, total, own_used, used, created_ns, created_by) VALUES (1, 1, 'A', 'A', 1, 100000000, 2000000, 2000000, 0, 'user:admin');" +
            "INSERT INTO usage_events (id, org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by, source) " +
            $"VALUES (1, 1, 1, 1, 1000000, {Nov1Ns}, {Nov1Ns + 7_200_000_000_000}, 2, 'old-job', 2000000, NULL, NULL, 0, 'admin', 'user:admin');" +
            $"INSERT INTO event_segments (event_id, seq, start_ns, end_ns, rule_id, rate, amount) VALUES (1, 0, {Nov1Ns}, {Nov1Ns + 7_200_000_000_000}, 1, 1000000000, 2000000);" +
            "UPDATE org_usage_sums SET amount_sum = 2000000 WHERE org_id = 1;" +
            "INSERT INTO org_usage_sums (org_id, amount_sum, usd_sum) SELECT 1, 2000000, 0 WHERE NOT EXISTS (SELECT 1 FROM org_usage_sums WHERE org_id = 1);");
        var heads = new Dictionary<long, byte[]> { [1] = JournalChain.Genesis, [2] = JournalChain.Genesis };
        var buffer = new ArrayBufferWriter<byte>();
        var entries = new (long Org, long? Allocation, string Action, string Target, string After)[]
        {
            (1, null, "organization.create", "org:1", "{\"name\":\"Lab\",\"firstAdmin\":\"admin\"}"),
            (2, null, "organization.create", "org:2", "{\"name\":\"Other\",\"firstAdmin\":\"olga\"}"),
            (1, 1, "allocation.create", "allocation:1", "{\"id\":1,\"name\":\"A\"}"),
            (1, 1, "usage.record", "event:1", "{\"id\":1,\"allocation\":1,\"amount\":\"2\"}"),
            (2, null, "unit.create", "unit:x", "{\"code\":\"x\"}"),
        };
        for (var i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            var row = new JournalRow
            {
                Id = i + 1, OrgId = e.Org, AllocationId = e.Allocation, AtNs = 0, Actor = "user:admin",
                Action = e.Action, Target = e.Target, After = e.After, PrevHash = heads[e.Org],
            };
            row.Hash = JournalChain.Compute(row, buffer);
            Exec(connection, transaction,
                "INSERT INTO journal (id, org_id, allocation_id, at_ns, actor, action, target, before, after, prev_hash, hash) VALUES ($id, $org, $a, 0, $actor, $action, $target, NULL, $after, $prev, $hash)",
                ("$id", row.Id), ("$org", row.OrgId), ("$a", (object?)row.AllocationId ?? DBNull.Value), ("$actor", row.Actor), ("$action", row.Action),
                ("$target", row.Target), ("$after", row.After!), ("$prev", row.PrevHash), ("$hash", row.Hash));
            heads[e.Org] = row.Hash;
        }
        transaction.Commit();
        return path;
    }

    [Fact]
    public async Task AVersion8File_KeepsItsEntriesVerifying_AndNewBatchEntriesChainOnFromTheOldHeads()
    {
        var directory = TestStore.NewDirectory();
        var path = CreateVersion8File(directory);
        var org = new OrganizationId(1);
        var clock = new NodaTime.Testing.FakeClock(Instant.FromUtc(2026, 11, 20, 12, 0));
        using (var store = await AllocationStore.OpenAsync(path, new AllocationStoreOptions { Clock = clock }))
        {
            var before = await store.GetOrganizationJournalAsync(TestStore.Admin, org);
            Assert.Equal([1L, 3, 4], before.Select(e => e.Sequence));
            Assert.True((await store.VerifyJournalAsync(TestStore.Admin, org)).IsIntact);
            Assert.Equal(6L, RawSqlite.Scalar(path, "SELECT next_sequence FROM journal_sequence"));
            Assert.Equal(4L, RawSqlite.Scalar(path, "SELECT last_sequence FROM journal_heads WHERE org_id = 1"));
            Assert.Equal(5L, RawSqlite.Scalar(path, "SELECT last_sequence FROM journal_heads WHERE org_id = 2"));

            var a = new AllocationId(1);
            var start = TestStore.November1 + Duration.FromHours(3);
            var batch = await store.RecordBatchAsync(TestStore.Admin, [
                new UsageRecord(a, TestStore.Cpu, Quantity.FromDecimal(1m), start, start + Duration.FromHours(1), externalKey: "new-1"),
                new UsageRecord(a, TestStore.Cpu, Quantity.FromDecimal(2m), start, start + Duration.FromHours(1), UsageStatus.Estimated, "new-2"),
            ]);
            await store.DeleteEventAsync(TestStore.Admin, new UsageEventId(1)); // the old event, journaled the old way
            await store.RecordUsageAsync(TestStore.Admin, new UsageRecord(a, TestStore.Cpu, Quantity.FromDecimal(5m), start, start + Duration.FromHours(1), UsageStatus.Estimated, "new-2"));

            var after = await store.GetOrganizationJournalAsync(TestStore.Admin, org);
            Assert.Equal(["usage.batch", "usage.delete", "usage.replace"], after.Skip(3).Select(e => e.Action));
            Assert.Equal(before[^1].Hash, after[3].PreviousHash);
            Assert.Equal(6L, after[3].Sequence); // after organization 2's last entry: sequences are unique across organizations
            Assert.Equal($"{batch.EventIds[0]}..{batch.EventIds[1]}", after[3].Target);
            var verification = await store.VerifyJournalAsync(TestStore.Admin, org);
            Assert.True(verification.IsIntact, verification.Problem);
            Assert.Equal(after[^1].Hash, verification.HeadHash);
            Assert.True((await store.VerifyJournalAsync(Principal.User("olga"), new OrganizationId(2))).IsIntact);
            Assert.True((await store.VerifyAsync(TestStore.Admin, org)).IsClean);
            var figures = await store.GetAllocationAsync(TestStore.Admin, a);
            Assert.Equal((1m, 5m), (figures.Used.ToDecimal(), figures.Estimated.ToDecimal()));
        }
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }
}
