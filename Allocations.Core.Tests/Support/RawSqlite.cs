using Microsoft.Data.Sqlite;

namespace Allocations.Tests.Support;

/// <summary>Statements run on a database file behind the library's back, on a connection of their own (no pooling),
/// for tests that tamper with a file or read its header fields.</summary>
internal static class RawSqlite
{
    /// <summary>Runs <paramref name="sql"/> read-write.</summary>
    internal static void Execute(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Reads one integer, read-only.</summary>
    internal static long Scalar(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}
