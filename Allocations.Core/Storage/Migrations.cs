using System.Diagnostics;
using System.Reflection;
using Allocations.Exceptions;
using Microsoft.Data.Sqlite;

namespace Allocations.Storage;

/// <summary>The numbered <c>.sql</c> migrations embedded in the assembly; the schema version lives in
/// <c>PRAGMA user_version</c> and the file is marked with <c>PRAGMA application_id</c>.</summary>
internal static class Migrations
{
    private const string Prefix = "Allocations.Storage.Migrations.";

    private static readonly (int Version, string Name)[] Scripts = typeof(Migrations).Assembly
        .GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
        .Select(n => (Version: int.Parse(n.AsSpan(Prefix.Length, 4), provider: System.Globalization.CultureInfo.InvariantCulture), Name: n))
        .OrderBy(s => s.Version)
        .ToArray();

    /// <summary>Gets the schema version this library writes.</summary>
    internal static int Latest => Scripts[^1].Version;

    internal static string ReadScript(int version)
    {
        var name = Scripts.Single(s => s.Version == version).Name;
        using var stream = typeof(Migrations).Assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Brings the schema up to <see cref="Latest"/> inside the connection's open write transaction
    /// (<paramref name="transaction"/>, or null for one begun on SQLite's handle).</summary>
    /// <remarks>Each script run is added to <paramref name="applied"/> with how long it took; the store logs them once
    /// the transaction has committed.</remarks>
    internal static void Apply(SqliteConnection connection, SqliteTransaction? transaction, string location, int? upTo = null, List<(int Version, long ElapsedMs)>? applied = null)
    {
        var target = upTo ?? Latest;
        var current = Scalar(connection, transaction, "PRAGMA user_version");
        var appId = Scalar(connection, transaction, "PRAGMA application_id");
        if (appId != SqliteStorageEngine.ApplicationId && !(appId == 0 && current == 0))
        {
            throw new StoreUnavailableException(location, $"it is a SQLite database of another application (application_id 0x{appId:X8})");
        }
        if (current > Latest)
        {
            throw new StoreUnavailableException(location, $"its schema version {current} is newer than this library's {Latest}; upgrade the library");
        }
        foreach (var (version, _) in Scripts)
        {
            if (version <= current || version > target)
            {
                continue;
            }
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = ReadScript(version) +
                $"\nPRAGMA user_version = {version};\nPRAGMA application_id = {SqliteStorageEngine.ApplicationId};";
            var started = Stopwatch.GetTimestamp();
            command.ExecuteNonQuery();
            applied?.Add((version, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds));
        }
    }

    private static long Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}
