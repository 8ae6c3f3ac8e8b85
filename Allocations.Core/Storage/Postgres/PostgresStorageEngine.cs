using System.Data;
using System.Diagnostics;
using System.Reflection;
using Allocations.Exceptions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Allocations.Storage.Postgres;

/// <summary>The PostgreSQL engine: many writers at once, on many hosts. A write is one READ COMMITTED transaction
/// whose allocation rows are locked (<c>FOR UPDATE</c>, in id order) before their figures are read; a read is one
/// REPEATABLE READ snapshot. A deadlock or serialization failure (SQLSTATE 40P01, 40001) rolls the transaction back and
/// runs the work again, a bounded number of times.</summary>
internal sealed class PostgresStorageEngine : IStorageEngine
{
    /// <summary>How many times a write is tried when the server keeps answering with a deadlock or serialization failure.</summary>
    internal const int MaxAttempts = 8;

    /// <summary>How many times a call opens a new connection when the server dropped the one it was given.</summary>
    private const int MaxReconnects = 2;

    /// <summary>The application name in the version table: marks a database (schema) as an Allocations store.</summary>
    internal const string ApplicationName = "allocations";

    private const string MigrationPrefix = "Allocations.Storage.Postgres.Migrations.";

    private static readonly (int Version, string Name)[] Scripts = typeof(PostgresStorageEngine).Assembly
        .GetManifestResourceNames()
        .Where(n => n.StartsWith(MigrationPrefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
        .Select(n => (Version: int.Parse(n.AsSpan(MigrationPrefix.Length, 4), provider: System.Globalization.CultureInfo.InvariantCulture), Name: n))
        .OrderBy(s => s.Version)
        .ToArray();

    private readonly NpgsqlDataSource dataSource;
    private readonly bool ownsDataSource;
    private readonly bool durable;
    private readonly int busyTimeoutMs;
    private ILogger? log;
    private int disposed;

    private PostgresStorageEngine(NpgsqlDataSource dataSource, bool ownsDataSource, string location, bool durable, int busyTimeoutMs)
    {
        this.dataSource = dataSource;
        this.ownsDataSource = ownsDataSource;
        Location = location;
        this.durable = durable;
        this.busyTimeoutMs = busyTimeoutMs;
    }

    /// <summary>Gets the schema version this library writes.</summary>
    internal static int Latest => Scripts[^1].Version;

    public string Location { get; }

    internal List<(int Version, long ElapsedMs)> Applied { get; } = [];

    IReadOnlyList<(int Version, long ElapsedMs)> IStorageEngine.AppliedMigrations => Applied;

    public ILogger Logger
    {
        set => log = value;
    }

    /// <summary>The server and database of a connection string, for messages: never the password.</summary>
    internal static string Describe(NpgsqlConnectionStringBuilder builder) =>
        $"postgresql://{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}";

    internal static string Describe(NpgsqlConnection connection) => Describe(new NpgsqlConnectionStringBuilder(connection.ConnectionString));

    /// <summary>Opens the store in the data source's database, creating the schema when the database holds no tables
    /// and upgrading an older one; refuses a database of another application or of a newer schema, changing nothing.</summary>
    internal static async ValueTask<PostgresStorageEngine> OpenAsync(NpgsqlDataSource dataSource, bool ownsDataSource, StorageSettings settings, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        var engine = new PostgresStorageEngine(dataSource, ownsDataSource, Describe(builder), settings.DurableWrites, settings.BusyTimeoutMs);
        try
        {
            await engine.MigrateAsync(cancellationToken).ConfigureAwait(false);
            return engine;
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    private async ValueTask MigrateAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            NpgsqlConnection connection;
            try
            {
                connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                throw Translate(Location, ex);
            }
            await using (connection.ConfigureAwait(false))
            {
                try
                {
                    // Without a lock first: a current store opens without taking anything.
                    if (await CurrentVersionAsync(connection, null, cancellationToken).ConfigureAwait(false) == Latest)
                    {
                        return;
                    }
                    await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
                    // One opener at a time migrates; the others wait here, then find the step done.
                    await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(1095519299, 1)", connection, transaction))
                    {
                        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    var current = await CurrentVersionAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                    if (current >= Latest)
                    {
                        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                        return;
                    }
                    var step = Scripts.First(s => s.Version > current);
                    var started = Stopwatch.GetTimestamp();
                    var sql = ReadScript(step.Name) + (current == 0
                        ? "\nCREATE TABLE allocations_schema (id INTEGER PRIMARY KEY CHECK (id = 1), application TEXT NOT NULL, version INTEGER NOT NULL);\n" +
                          "INSERT INTO allocations_schema (id, application, version) VALUES (1, 'allocations', 0);"
                        : "");
                    await using (var command = new NpgsqlCommand(sql, connection, transaction))
                    {
                        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    await using (var command = new NpgsqlCommand("UPDATE allocations_schema SET version = $1 WHERE id = 1", connection, transaction))
                    {
                        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = step.Version });
                        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    Applied.Add((step.Version, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds));
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
                {
                    throw Translate(Location, ex);
                }
            }
        }
    }

    /// <summary>The schema version of the store in the connection's current schema: 0 for a schema with no tables;
    /// refuses one that holds tables of another application or a newer version.</summary>
    private async ValueTask<int> CurrentVersionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT to_regclass('allocations_schema') IS NOT NULL, " +
            "(SELECT COUNT(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))",
            connection,
            transaction);
        bool hasVersionTable;
        long tables;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            hasVersionTable = reader.GetBoolean(0);
            tables = reader.GetInt64(1);
        }
        if (!hasVersionTable)
        {
            if (tables > 0)
            {
                throw new StoreUnavailableException(Location, $"the database's schema holds {tables} tables of another application and no Allocations version table; use an empty database");
            }
            return 0;
        }
        await using var version = new NpgsqlCommand("SELECT application, version FROM allocations_schema WHERE id = 1", connection, transaction);
        await using var rows = await version.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await rows.ReadAsync(cancellationToken).ConfigureAwait(false) || rows.IsDBNull(0) || rows.GetString(0) != ApplicationName)
        {
            throw new StoreUnavailableException(Location, "the database's version table is not an Allocations one; use an empty database");
        }
        var current = rows.GetInt32(1);
        if (current > Latest)
        {
            throw new StoreUnavailableException(Location, $"its schema version {current} is newer than this library's {Latest}; upgrade the library");
        }
        return current;
    }

    private static string ReadScript(string name)
    {
        using var stream = typeof(PostgresStorageEngine).Assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public ValueTask<T> ReadAsync<T>(Func<IStorageSession, ValueTask<T>> work, CancellationToken cancellationToken) =>
        RunAsync(work, write: false, cancellationToken);

    public ValueTask<T> WriteAsync<T>(Func<IStorageSession, ValueTask<T>> work, CancellationToken cancellationToken) =>
        RunAsync(work, write: true, cancellationToken);

    private async ValueTask<T> RunAsync<T>(Func<IStorageSession, ValueTask<T>> work, bool write, CancellationToken cancellationToken)
    {
        var reconnects = 0;
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
            var stage = Stage.Connecting;
            try
            {
                var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    await using var transaction = await connection.BeginTransactionAsync(write ? IsolationLevel.ReadCommitted : IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
                    // The transaction's first round trip (BEGIN goes with it): a pooled connection the server dropped
                    // (a restart, a failover) shows here, before anything of the work was sent.
                    // Numbers the engine formats itself, not values from a caller.
                    await using (var settings = new NpgsqlCommand(
                        write
                            ? $"SET LOCAL lock_timeout = {Math.Max(1, busyTimeoutMs).ToString(System.Globalization.CultureInfo.InvariantCulture)}; " +
                              $"SET LOCAL synchronous_commit = {(durable ? "on" : "off")}"
                            : "SET LOCAL statement_timeout = 0",
                        connection,
                        transaction))
                    {
                        await settings.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    stage = Stage.Working;
                    var session = new PostgresSession(connection, transaction, write, cancellationToken);
                    var result = await work(session).ConfigureAwait(false);
                    session.Flush();
                    cancellationToken.ThrowIfCancellationRequested();
                    stage = Stage.Committing;
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    session.RunCommitted();
                    return result;
                }
            }
            catch (Exception ex) when (IsConnectionLoss(ex) && (stage == Stage.Connecting || !write) && reconnects < MaxReconnects)
            {
                // Nothing of a write was sent, and a read writes nothing: the pool's other connections are likely as
                // dead as this one, so they go, and the work runs again on a new connection.
                reconnects++;
                attempt--;
                dataSource.Clear();
            }
            catch (Exception ex) when (IsConnectionLoss(ex))
            {
                dataSource.Clear();
                throw stage == Stage.Committing
                    ? new StoreUnavailableException(Location, "the connection to the server was lost while the write committed: it may or may not have been kept (a call with an external key can be repeated safely)", ex)
                    : Translate(Location, ex);
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected)
            {
                if (attempt >= MaxAttempts)
                {
                    throw new StoreUnavailableException(Location, $"the transaction kept conflicting with other writers ({(ex.SqlState == PostgresErrorCodes.DeadlockDetected ? "deadlock" : "serialization failure")}, SQLSTATE {ex.SqlState}) after {MaxAttempts} attempts; try again", ex);
                }
                if (log is not null)
                {
                    Diagnostics.Log.WriteRetried(log, attempt, Location, ex.SqlState);
                }
                // A short, growing, jittered pause, so that the writers that collided do not collide again.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 4 << attempt)), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                throw Translate(Location, ex);
            }
            catch (InvalidOperationException ex) when (ex.Source == "Npgsql")
            {
                throw new InternalErrorException(Location, "the connection was used out of turn", ex);
            }
            catch (OverflowException ex)
            {
                throw new StoreUnavailableException(Location, "a stored figure or usage sum is past the amount range (edited outside the library); delete or correct the events that caused it", ex);
            }
            catch (StoredRowException ex)
            {
                throw new StoreUnavailableException(Location, ex.Message, ex);
            }
        }
    }

    private enum Stage
    {
        Connecting,
        Working,
        Committing,
    }

    /// <summary>Whether the server went away under the connection (refused, closed, reset, shut down), as opposed to an
    /// error the server answered with.</summary>
    private static bool IsConnectionLoss(Exception ex) => ex switch
    {
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P0", StringComparison.Ordinal),
        NpgsqlException => true,
        _ => false,
    };

    /// <summary>The storage boundary: no Npgsql type or server text naming tables or values passes it. Messages name the
    /// server and what an operator must fix; the password never appears.</summary>
    internal static AllocationsException Translate(string location, Exception ex)
    {
        if (ex is PostgresException pg)
        {
            var state = pg.SqlState;
            return state switch
            {
                PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification =>
                    new StoreUnavailableException(location, $"the server refused the login (SQLSTATE {state}): {pg.MessageText}", ex),
                PostgresErrorCodes.InvalidCatalogName => new StoreUnavailableException(location, "the database does not exist on the server (SQLSTATE 3D000); create it first", ex),
                PostgresErrorCodes.InsufficientPrivilege => new StoreUnavailableException(location, "the login lacks a privilege the store needs (SQLSTATE 42501)", ex),
                PostgresErrorCodes.LockNotAvailable => new StoreUnavailableException(location, "a row stayed locked by another writer past the busy timeout; try again", ex),
                PostgresErrorCodes.ReadOnlySqlTransaction => new StoreUnavailableException(location, "the server is read-only (a standby?); connect to the primary", ex),
                PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.UndefinedColumn or PostgresErrorCodes.UndefinedFunction =>
                    new StoreUnavailableException(location, $"a table, column or function of the store is missing (SQLSTATE {state}; the schema was changed outside the library)", ex),
                PostgresErrorCodes.NumericValueOutOfRange => new StoreUnavailableException(location, "a stored sum is past the amount range (SQLSTATE 22003)", ex),
                _ when state.StartsWith("23", StringComparison.Ordinal) => new ConflictException($"the change conflicts with stored data (SQLSTATE {state})", []),
                _ when state.StartsWith("08", StringComparison.Ordinal) || state.StartsWith("53", StringComparison.Ordinal) ||
                       state.StartsWith("57", StringComparison.Ordinal) || state.StartsWith("58", StringComparison.Ordinal) || state == "XX001" || state == "XX002" =>
                    new StoreUnavailableException(location, $"the server cannot serve the store now (SQLSTATE {state}); check the server", ex),
                _ => new InternalErrorException(location, $"PostgreSQL error SQLSTATE {state}", ex),
            };
        }
        var reason = ex.InnerException is { } inner && inner is not NpgsqlException ? inner.Message : ex is TimeoutException ? "the connection timed out" : "the connection failed or was broken";
        return new StoreUnavailableException(location, $"the server cannot be reached: {reason}", ex);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }
        if (ownsDataSource)
        {
            dataSource.Dispose();
        }
    }
}
