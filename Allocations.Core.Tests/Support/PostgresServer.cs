using System.Diagnostics;
using Npgsql;

namespace Allocations.Tests.Support;

/// <summary>The engines a parametrised test runs on.</summary>
public enum Engine
{
    Sqlite,
    Postgres,
}

/// <summary>Runs a theory once per engine: SQLite always, PostgreSQL when a server is available (the connection string in
/// <c>ALLOCATIONS_TEST_POSTGRES</c>, or a private cluster started from the installed binaries). Without any PostgreSQL
/// binaries the PostgreSQL case is reported skipped, with the reason.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class EnginesAttribute : Xunit.Sdk.DataAttribute
{
    public override IEnumerable<object[]> GetData(System.Reflection.MethodInfo testMethod)
    {
        yield return [Engine.Sqlite];
        if (PostgresServer.Unavailable is null)
        {
            yield return [Engine.Postgres];
        }
    }
}

/// <summary>One row of a theory's data, run once per engine (the engine is the last argument).</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class EngineDataAttribute(params object[] data) : Xunit.Sdk.DataAttribute
{
    public override IEnumerable<object[]> GetData(System.Reflection.MethodInfo testMethod) =>
        new EnginesAttribute().GetData(testMethod).Select(engine => data.Append(engine[0]).ToArray());
}

/// <summary>A theory's PostgreSQL-only case, skipped with the reason when no server can be had.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PostgresFactAttribute : Xunit.FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresServer.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>The PostgreSQL server of the test run, and a fresh database per test, copied from a migrated template.</summary>
public static class PostgresServer
{
    private const string TemplateName = "allocations_test_template";
    private static readonly Lazy<string> Server = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly SemaphoreSlim CreateGate = new(1, 1);
    private static string? clusterDirectory;
    private static bool templateReady;

    /// <summary>Why PostgreSQL cases cannot run here, or null when they can.</summary>
    public static string? Unavailable { get; } =
        Environment.GetEnvironmentVariable("ALLOCATIONS_TEST_POSTGRES") is { Length: > 0 } || FindBin() is not null
            ? null
            : "no PostgreSQL server: ALLOCATIONS_TEST_POSTGRES is not set and no binaries exist under /usr/lib/postgresql/*/bin";

    /// <summary>The connection string of the server's maintenance database.</summary>
    public static string AdminConnectionString => Server.Value;

    internal static string? FindBin() =>
        System.IO.Directory.Exists("/usr/lib/postgresql")
            ? System.IO.Directory.GetDirectories("/usr/lib/postgresql").Select(d => System.IO.Path.Combine(d, "bin")).FirstOrDefault(b => File.Exists(System.IO.Path.Combine(b, "initdb")))
            : null;

    /// <summary>Creates an empty database with a unique name (from the migrated template when <paramref name="migrated"/>)
    /// and returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync(bool migrated = true)
    {
        var name = "alloc_t_" + Guid.NewGuid().ToString("N")[..20];
        await CreateGate.WaitAsync();
        try
        {
            await using var connection = new NpgsqlConnection(AdminConnectionString);
            await connection.OpenAsync();
            if (migrated && !templateReady)
            {
                await ExecAsync(connection, $"DROP DATABASE IF EXISTS {TemplateName}");
                await ExecAsync(connection, $"CREATE DATABASE {TemplateName}");
                var store = await AllocationStore.OpenPostgresAsync(ConnectionString(TemplateName));
                store.Dispose();
                NpgsqlConnection.ClearAllPools();
                templateReady = true;
            }
            // Names are generated here (hex), never input; CREATE DATABASE takes no parameters.
            await ExecAsync(connection, migrated ? $"CREATE DATABASE {name} TEMPLATE {TemplateName}" : $"CREATE DATABASE {name}");
        }
        finally
        {
            CreateGate.Release();
        }
        return ConnectionString(name);
    }

    public static string ConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database }.ConnectionString;

    /// <summary>Copies a database (no connection may be open to it) into a new one and returns its connection string.</summary>
    public static async Task<string> CopyDatabaseAsync(string connectionString)
    {
        NpgsqlConnection.ClearAllPools();
        var source = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        var name = "alloc_t_" + Guid.NewGuid().ToString("N")[..20];
        await CreateGate.WaitAsync();
        try
        {
            await using var connection = new NpgsqlConnection(AdminConnectionString);
            await connection.OpenAsync();
            // Both names are generated by these helpers (hex), never input.
            await ExecAsync(connection, $"CREATE DATABASE {name} TEMPLATE {source}");
        }
        finally
        {
            CreateGate.Release();
        }
        return ConnectionString(name);
    }

    /// <summary>Keeps a copy of every table of the store (schema public) in the schema <c>snapshot</c>, for
    /// <see cref="RestoreTables"/>.</summary>
    public static void SnapshotTables(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        var sql = new System.Text.StringBuilder("CREATE SCHEMA snapshot;");
        foreach (var table in Tables(connection))
        {
            sql.Append($"CREATE TABLE snapshot.\"{table}\" AS TABLE public.\"{table}\";");
        }
        using var command = new NpgsqlCommand(sql.ToString(), connection);
        command.ExecuteNonQuery();
    }

    /// <summary>Puts every table of the store back to the rows <see cref="SnapshotTables"/> kept (sequences move on: ids
    /// are never reused).</summary>
    public static void RestoreTables(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        var tables = Tables(connection);
        var sql = new System.Text.StringBuilder("BEGIN; SET LOCAL session_replication_role = replica; TRUNCATE ");
        sql.Append(string.Join(", ", tables.Select(t => $"public.\"{t}\""))).Append(';');
        foreach (var table in tables)
        {
            sql.Append($"INSERT INTO public.\"{table}\" OVERRIDING SYSTEM VALUE SELECT * FROM snapshot.\"{table}\";");
        }
        sql.Append("COMMIT;");
        using var command = new NpgsqlCommand(sql.ToString(), connection);
        command.ExecuteNonQuery();
    }

    // Table names come from the catalogue of the test's own database, never from input.
    private static List<string> Tables(NpgsqlConnection connection)
    {
        var tables = new List<string>();
        using var command = new NpgsqlCommand("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", connection);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            tables.Add(reader.GetString(0));
        }
        return tables;
    }

    public static async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await ExecAsync(connection, $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    }

    private static async Task ExecAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static string Start()
    {
        if (Environment.GetEnvironmentVariable("ALLOCATIONS_TEST_POSTGRES") is { Length: > 0 } given)
        {
            return given;
        }
        var directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "alloc-pg-" + Guid.NewGuid().ToString("N")[..12]);
        var script = FindScript() ?? throw new InvalidOperationException("the .ci/postgres script was not found above the test directory");
        var output = Run(script, "start", directory, "fast");
        clusterDirectory = directory;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();
        return output.Trim().Split('\n')[^1];
    }

    /// <summary>Starts a private cluster of its own (for tests that stop and restart the server): returns its
    /// connection string and directory; stop it with <see cref="StopPrivate"/>.</summary>
    public static (string ConnectionString, string Directory) StartPrivate()
    {
        var directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "alloc-pg-" + Guid.NewGuid().ToString("N")[..12]);
        var output = Run(FindScript()!, "start", directory);
        return (output.Trim().Split('\n')[^1], directory);
    }

    public static void StopPrivate(string directory) => Run(FindScript()!, "stop", directory);

    /// <summary>Stops a private cluster at once, as a crash would (<c>pg_ctl stop -m immediate</c>).</summary>
    public static void KillPrivate(string directory) => Run(FindScript()!, "kill", directory);

    /// <summary>Starts a killed private cluster again on its port.</summary>
    public static void RestartPrivate(string directory) => Run(FindScript()!, "restart", directory);

    private static void Stop()
    {
        if (clusterDirectory is { } directory)
        {
            clusterDirectory = null;
            Run(FindScript()!, "stop", directory);
        }
    }

    private static string? FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, ".ci", "postgres");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    internal static string Run(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(file);
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {stderr.Result}");
        }
        return stdout;
    }
}
