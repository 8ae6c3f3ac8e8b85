using System.Buffers;
using Allocations.Domain;
using Allocations.Journal;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>Migration 0007 on a version-6 file: event sources backfilled, old actors read unambiguously, old journal
/// hashes still verifying, organization usage sums counted.</summary>
public class KeySourceMigrationTests
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

    private static string CreateVersion6File(string directory)
    {
        var path = Path.Combine(directory, "v6.db");
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var transaction = connection.BeginTransaction();
        Migrations.Apply(connection, transaction, path, upTo: 6);
        Exec(connection, transaction,
            "INSERT INTO organizations (id, name, name_key, created_ns) VALUES (1, 'Lab', 'LAB', 0);" +
            "INSERT INTO org_admins (org_id, user_id) VALUES (1, 'admin'), (1, 'system');" +
            "INSERT INTO units (id, org_id, code, code_key, display_precision) VALUES (1, 1, 'USD', 'USD', 2);" +
            "INSERT INTO skus (id, org_id, code, code_key, unit_id, basis) VALUES (1, 1, 'CPU', 'CPU', 1, 2);" +
            "INSERT INTO allocations (id, org_id, name, name_key, unit_id, total, own_used, used, created_ns, created_by) VALUES (1, 1, 'A', 'A', 1, 100000000, 21000000, 21000000, 0, 'admin');" +
            "INSERT INTO total_changes (allocation_id, old_total, new_total, actor, at_ns, reason) VALUES (1, 0, 1, 'system', 0, 'boot'), (1, 1, 100000000, 'bob', 0, 'top-up');");
        var events = new (string Key, string By)[]
        {
            ("slurm:lab:1:100", "admin"),   // the importer, run by a current admin
            ("slurm:lab:2:100", "mallory"), // a Use-level user's squat
            ("slurm:lab:3:100", "former"),  // the importer, run by an admin since removed (the journal knows)
            ("slurm:lab:4:100", "system"),  // the importer, run as the system actor
            ("job-1", "system"),
            ("job-2", "bob"),
        };
        for (var i = 0; i < events.Length; i++)
        {
            Exec(connection, transaction,
                "INSERT INTO usage_events (org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by) " +
                "VALUES (1, 1, 1, $q, $s, $s, 2, $key, $q, $q, NULL, 0, $by)",
                ("$q", (i + 1) * 1_000_000L), ("$s", Nov1Ns), ("$key", events[i].Key), ("$by", events[i].By));
            Exec(connection, transaction,
                "INSERT INTO event_segments (event_id, seq, start_ns, end_ns, rule_id, rate, amount) VALUES ($id, 0, $s, $s, 0, 1000000000, $q)",
                ("$id", i + 1L), ("$s", Nov1Ns), ("$q", (i + 1) * 1_000_000L));
        }
        var previous = JournalChain.Genesis;
        var buffer = new ArrayBufferWriter<byte>();
        var entries = new (string Actor, string Action, string Target, string? After)[]
        {
            ("system", "organization.create", "org:1", "{\"name\":\"Lab\",\"firstAdmin\":\"admin\"}"),
            ("admin", "organization.admin.add", "user:former", "{\"admin\":true}"),
            ("admin", "organization.admin.add", "user:system", "{\"admin\":true}"),
            ("system", "allocation.total", "allocation:1", "{\"total\":\"1\"}"),
        };
        for (var i = 0; i < entries.Length; i++)
        {
            var row = new JournalRow
            {
                Id = i + 1, OrgId = 1, AllocationId = entries[i].Action == "allocation.total" ? 1 : null, AtNs = 0,
                Actor = entries[i].Actor, Action = entries[i].Action, Target = entries[i].Target, After = entries[i].After, PrevHash = previous,
            };
            row.Hash = JournalChain.Compute(row, buffer);
            Exec(connection, transaction,
                "INSERT INTO journal (id, org_id, allocation_id, at_ns, actor, action, target, before, after, prev_hash, hash) VALUES ($id, 1, $a, 0, $actor, $action, $target, NULL, $after, $prev, $hash)",
                ("$id", row.Id), ("$a", (object?)row.AllocationId ?? DBNull.Value), ("$actor", row.Actor), ("$action", row.Action), ("$target", row.Target), ("$after", row.After!), ("$prev", row.PrevHash), ("$hash", row.Hash));
            previous = row.Hash;
        }
        transaction.Commit();
        return path;
    }

    private static List<(string Key, string Source)> Sources(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT external_key, source FROM usage_events ORDER BY id";
        using var reader = command.ExecuteReader();
        var rows = new List<(string, string)>();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetString(1)));
        }
        return rows;
    }

    [Fact]
    public async Task AVersion6File_GetsSourcesEncodedActorsAndSums_AndItsJournalStillVerifies()
    {
        var directory = TestStore.NewDirectory();
        var path = CreateVersion6File(directory);
        var org = new OrganizationId(1);

        using (var store = await AllocationStore.OpenAsync(path))
        {
            var history = await store.GetTotalHistoryAsync(TestStore.Admin, new AllocationId(1));
            Assert.Equal(["system", "user:bob"], history.Select(h => h.Actor));
            var journal = await store.GetOrganizationJournalAsync(TestStore.Admin, org);
            Assert.Equal(["system", "user:admin", "user:admin", "system"], journal.Select(e => e.Actor));
            Assert.True((await store.VerifyJournalAsync(TestStore.Admin, org)).IsIntact);

            // After the upgrade a host user named "system" is written as such and read back apart from the system actor.
            await store.ChangeTotalAsync(Principal.User("system"), new AllocationId(1), Amount.FromDecimal(50m), "after");
            var after = await store.GetOrganizationJournalAsync(TestStore.Admin, org);
            Assert.Equal("user:system", after[^1].Actor);
            Assert.True((await store.VerifyJournalAsync(TestStore.Admin, org)).IsIntact);
            Assert.True((await store.VerifyAsync(TestStore.Admin, org)).IsClean);

            // The admin's own job-2 does not exist in the admin's scope; bob's does in bob's.
            Assert.Null(await store.FindEventByKeyAsync(TestStore.Admin, org, "job-2"));
        }
        Assert.Equal(
            [
                ("slurm:lab:1:100", "slurm"), ("slurm:lab:2:100", "user:mallory"), ("slurm:lab:3:100", "slurm"),
                ("slurm:lab:4:100", "slurm"), ("job-1", "system"), ("job-2", "user:bob"),
            ],
            Sources(path));
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task AfterTheUpgrade_ALimitOnReportSums_CountsTheEventsAlreadyStored()
    {
        var directory = TestStore.NewDirectory();
        var path = CreateVersion6File(directory);
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM usage_events";
            Assert.Equal(6L, (long)command.ExecuteScalar()!);
        }
        using (var store = await AllocationStore.OpenAsync(path))
        {
            Assert.True((await store.VerifyAsync(TestStore.Admin, new OrganizationId(1))).IsClean);
        }
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT amount_sum, usd_sum FROM org_usage_sums WHERE org_id = 1";
            using var reader = command.ExecuteReader();
            Assert.True(reader.Read());
            Assert.Equal(21_000_000L, reader.GetInt64(0)); // 1 + 2 + ... + 6 units
            Assert.Equal(21_000_000L, reader.GetInt64(1));
        }
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }
}
