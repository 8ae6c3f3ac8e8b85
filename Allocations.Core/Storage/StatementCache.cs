using Microsoft.Data.Sqlite;

namespace Allocations.Storage;

/// <summary>Prepared statements kept for the life of one long-lived connection, keyed by their SQL text.</summary>
/// <remarks>
/// Microsoft.Data.Sqlite compiles a statement afresh for every new command (dotnet/efcore#14044), and a single
/// record or reservation runs about ten statements: compiling them was most of the cost of a call. The engine keeps
/// one connection for all writes of a file store (writes are serialized by its gate anyway) and this cache beside
/// it, so each statement is compiled once per process. Not thread-safe: used only under the engine's write gate.
/// </remarks>
internal sealed class StatementCache(SqliteConnection connection) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> commands = new(StringComparer.Ordinal);

    /// <summary>Gets the prepared command for <paramref name="sql"/>, enlisted in <paramref name="transaction"/>.</summary>
    internal SqliteCommand Get(string sql, SqliteTransaction transaction, string[] parameterNames)
    {
        if (!commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            command.Transaction = transaction;
            foreach (var name in parameterNames)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }
            command.Prepare();
            commands[sql] = command;
        }
        command.Transaction = transaction;
        return command;
    }

    public void Dispose()
    {
        foreach (var command in commands.Values)
        {
            command.Dispose();
        }
        commands.Clear();
    }
}
