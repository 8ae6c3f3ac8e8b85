using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>Figures are written as deltas added in SQL, and a delta whose sum would leave the 64-bit range is
/// refused by the statement itself (not only by the writer's check in memory), leaving the row as it was.</summary>
public class FigureDeltaTests
{
    private static (long OwnUsed, long OwnEstimated, long Used, long Estimated, string Types) Figures(SqliteConnection connection, SqliteTransaction transaction, long id)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT own_used, own_estimated, used, estimated, typeof(used) || typeof(estimated) FROM allocations WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetString(4));
    }

    [Fact]
    public async Task AddFigures_AddsDeltas_AndRefusesASumPastTheRange()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        t.Store.Dispose();
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = t.Path, Pooling = false }.ToString());
        connection.Open();
        var id = a.Id.Value;
        bool Add(SqliteTransaction transaction, long ownUsed, long ownEstimated, long used, long estimated)
        {
            using var session = new SqliteSession(connection, transaction, CancellationToken.None);
            return session.AddFigures(id, ownUsed, ownEstimated, used, estimated);
        }

        using (var transaction = connection.BeginTransaction())
        {
            Assert.True(Add(transaction, 1, 2, 3, 4));
            Assert.True(Add(transaction, 10, 20, 30, 40));
            Assert.Equal((11L, 22L, 33L, 44L, "integerinteger"), Figures(connection, transaction, id));
            transaction.Commit();
        }
        var refusals = new (string Case, (long, long, long, long)[] Deltas)[]
        {
            ("Used + Estimated past the largest amount", [(0, 0, long.MaxValue - 33 - 44, 0), (0, 0, 0, 1)]),
            ("Used past the range", [(0, 0, long.MaxValue - 10, 0)]),
            ("Estimated below the range", [(0, 0, 0, -45), (0, 0, 0, long.MinValue)]),
        };
        foreach (var (name, deltas) in refusals)
        {
            using var transaction = connection.BeginTransaction();
            for (var i = 0; i < deltas.Length; i++)
            {
                var (ou, oe, u, e) = deltas[i];
                Assert.True(Add(transaction, ou, oe, u, e) == (i < deltas.Length - 1), name);
            }
            transaction.Rollback();
            using var check = connection.BeginTransaction();
            Assert.Equal((11L, 22L, 33L, 44L, "integerinteger"), Figures(connection, check, id));
        }
    }
}
