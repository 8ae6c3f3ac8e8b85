using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using Allocations.Recording;
using Allocations.Storage;
using NodaTime;

namespace Allocations;

/// <summary>The one entry point of the library: a long-lived, thread-safe store of organizations, units, SKUs,
/// allocations and rated usage, kept in one SQLite file.</summary>
/// <remarks>
/// <para>Open one store per database file and share it across threads; several processes may open the same file
/// at once. Every call takes the acting <see cref="Principal"/> and checks its level before it reads or writes.
/// Every write is one transaction: it either happens whole or leaves the store exactly as it was.</para>
/// <para>Errors are the sealed subclasses of <see cref="AllocationsException"/>; no <c>SqliteException</c> escapes.
/// Decisions (a reservation that does not fit, a record that was already there) come back as result values.</para>
/// </remarks>
public sealed partial class AllocationStore : IDisposable
{
    private readonly IStorageEngine engine;
    private readonly CatalogueCache catalogue = new();
    private readonly Transactions tx;
    private SlurmSyncService slurm = null!; // set by AttachHost, which every open calls
    private Duration? defaultHoldExpiry;
    private Duration periodEndAlertLead;

    private AllocationStore(IStorageEngine engine, IClock clock)
    {
        this.engine = engine;
        tx = new Transactions(engine, clock, catalogue);
    }

    /// <summary>Gets where the store lives: the full path of its file, or <c>:memory:</c>.</summary>
    public string Location => engine.Location;

    internal IStorageEngine Engine => engine;

    /// <summary>Gets the compiled rate schedules shared by this store's transactions, validated by the catalogue version.</summary>
    internal CatalogueCache Catalogue => catalogue;

    /// <summary>Opens the store in a SQLite file, creating the file when it is missing and upgrading an older schema.</summary>
    /// <param name="path">The database file's path.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>The open store.</returns>
    /// <exception cref="InvalidInputException">The path is empty or holds a NUL character (field <c>path</c>); the
    /// <see cref="AllocationStoreOptions.BusyTimeout"/> is negative or over <see cref="int.MaxValue"/> milliseconds (field
    /// <c>BusyTimeout</c>); the clock's instant lies outside 1900-01-01 to 2200-01-01 (field <c>Clock</c>); the
    /// <see cref="AllocationStoreOptions.DefaultHoldExpiry"/> is zero or negative (field <c>DefaultHoldExpiry</c>).</exception>
    /// <exception cref="StoreUnavailableException">The file is not an Allocations database, is damaged, is read-only, or
    /// comes from a newer version of the library; the file is left untouched.</exception>
    public static Task<AllocationStore> OpenAsync(string path, AllocationStoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(path) || path == SqliteStorageEngine.MemoryPath)
        {
            throw new InvalidInputException("path", path, "a file path is required (use OpenInMemoryAsync for a store in memory)");
        }
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw new InvalidInputException("path", path, "a file path must not contain a NUL character");
        }
        return OpenWith(SqliteStorageEngineFactory.Instance, path, options, cancellationToken);
    }

#pragma warning disable RS0026 // Two overloads with the same optional tail, told apart by their first parameter's type.
    /// <summary>Opens the store in a PostgreSQL database, creating its tables when the database (its current schema)
    /// holds none and upgrading an older schema. Many processes on many hosts may open the same database at once; every
    /// guarantee of a file store holds across them.</summary>
    /// <param name="connectionString">An Npgsql connection string (<c>Host=…;Database=…;Username=…;Password=…</c>) or a
    /// <c>postgres://user:password@host:port/database</c> URI.</param>
    /// <param name="options">Options; null for the defaults. <see cref="AllocationStoreOptions.BusyTimeout"/> bounds
    /// each wait for a row another writer holds; <see cref="AllocationStoreOptions.DurableWrites"/> false lets a commit
    /// return before the server has flushed it.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>The open store.</returns>
    /// <exception cref="InvalidInputException">The connection string is empty or malformed (field
    /// <c>connectionString</c>, its text not repeated); an option breaks its rule, as for <see cref="OpenAsync"/>.</exception>
    /// <exception cref="StoreUnavailableException">The server cannot be reached or refuses the login (the message names the
    /// host and the reason, never the password); the database holds another application's tables or a newer schema, which
    /// are left untouched.</exception>
    public static async Task<AllocationStore> OpenPostgresAsync(string connectionString, AllocationStoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidInputException("connectionString", connectionString ?? "", "a PostgreSQL connection string is required");
        }
        var (settingsOptions, clock, busyMs) = Prepare(options, cancellationToken);
        var dataSource = Storage.Postgres.PostgresStorageEngineFactory.CreateDataSource(connectionString);
        var engine = await Storage.Postgres.PostgresStorageEngineFactory.OpenAsync(
            dataSource, ownsDataSource: true, new StorageSettings(connectionString, settingsOptions.DurableWrites, busyMs), cancellationToken).ConfigureAwait(false);
        return Attach(engine, clock, settingsOptions);
    }

    /// <summary>Opens the store in the database of a data source the host built (its pooling, TLS and authentication
    /// settings are used as they are); see <see cref="OpenPostgresAsync(string, AllocationStoreOptions?, CancellationToken)"/>.
    /// The data source stays the host's: disposing the store does not dispose it.</summary>
    /// <param name="dataSource">The data source.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>The open store.</returns>
    /// <exception cref="StoreUnavailableException">As for the connection-string overload.</exception>
    public static async Task<AllocationStore> OpenPostgresAsync(Npgsql.NpgsqlDataSource dataSource, AllocationStoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var (settingsOptions, clock, busyMs) = Prepare(options, cancellationToken);
        var engine = await Storage.Postgres.PostgresStorageEngineFactory.OpenAsync(
            dataSource, ownsDataSource: false, new StorageSettings(dataSource.ConnectionString, settingsOptions.DurableWrites, busyMs), cancellationToken).ConfigureAwait(false);
        return Attach(engine, clock, settingsOptions);
    }

#pragma warning restore RS0026

    /// <summary>Opens a private store in memory, gone when disposed: for tests and trials.</summary>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>The open store.</returns>
    /// <exception cref="InvalidInputException">An option breaks its rule, as for <see cref="OpenAsync"/>.</exception>
    public static Task<AllocationStore> OpenInMemoryAsync(AllocationStoreOptions? options = null, CancellationToken cancellationToken = default) =>
        OpenWith(SqliteStorageEngineFactory.Instance, SqliteStorageEngine.MemoryPath, options, cancellationToken);

    /// <summary>Opens a file store synchronously: what <see cref="OpenAsync"/> does, for the container's factory.</summary>
    internal static AllocationStore OpenSynchronously(string path, AllocationStoreOptions options)
    {
        if (string.IsNullOrWhiteSpace(path) || path == SqliteStorageEngine.MemoryPath)
        {
            throw new InvalidInputException("path", path, "a file path is required");
        }
        // A SQLite engine opens without waiting on I/O it could await, so this does not block on a pending task.
        return OpenWith(SqliteStorageEngineFactory.Instance, path, options, CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>Opens the store on the engine <paramref name="factory"/> opens. Options and the clock are checked
    /// first, synchronously; an engine that opens synchronously (SQLite) also throws its refusals synchronously.</summary>
    private static Task<AllocationStore> OpenWith(IStorageEngineFactory factory, string location, AllocationStoreOptions? options, CancellationToken cancellationToken)
    {
        var (checkedOptions, clock, busyMs) = Prepare(options, cancellationToken);
        var opening = factory.OpenAsync(new StorageSettings(location, checkedOptions.DurableWrites, busyMs, checkedOptions.PageCacheMegabytes * 1024), cancellationToken);
        return opening.IsCompletedSuccessfully ? Task.FromResult(Attach(opening.Result, clock, checkedOptions)) : AttachAsync(opening, clock, checkedOptions);
    }

    /// <summary>Checks the options and the clock before any engine opens.</summary>
    private static (AllocationStoreOptions Options, IClock Clock, int BusyMs) Prepare(AllocationStoreOptions? options, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        options ??= new AllocationStoreOptions();
        var busyMs = BusyTimeoutMilliseconds(options.BusyTimeout);
#pragma warning disable RS0030 // The system clock is the documented default when the host injects none.
        var clock = options.Clock ?? SystemClock.Instance;
#pragma warning restore RS0030
        InstantCodec.ToNs(clock.GetCurrentInstant(), "Clock"); // a clock outside the supported range is refused now, not at the first write
        if (options.PageCacheMegabytes is < 1 or > AllocationStoreOptions.MaxPageCacheMegabytes)
        {
            throw new InvalidInputException("PageCacheMegabytes", options.PageCacheMegabytes.ToString(System.Globalization.CultureInfo.InvariantCulture), $"must be between 1 and {AllocationStoreOptions.MaxPageCacheMegabytes}");
        }
        if (options.DefaultHoldExpiry is { } holdExpiry && holdExpiry <= Duration.Zero)
        {
            throw new InvalidInputException("DefaultHoldExpiry", holdExpiry.ToString(), "must be positive (null for holds that never expire)");
        }
        if (options.PeriodEndAlertLead < Duration.Zero)
        {
            throw new InvalidInputException("PeriodEndAlertLead", options.PeriodEndAlertLead.ToString(), "must not be negative (zero for no alert before a period ends)");
        }
        return (options, clock, busyMs);
    }

    private static async Task<AllocationStore> AttachAsync(ValueTask<IStorageEngine> opening, IClock clock, AllocationStoreOptions options) =>
        Attach(await opening.ConfigureAwait(false), clock, options);

    private static AllocationStore Attach(IStorageEngine engine, IClock clock, AllocationStoreOptions options)
    {
        try
        {
            Journal.FigureHistoryRebuild.RunIfPending(engine, InstantCodec.ToNs(clock.GetCurrentInstant(), "Clock"));
            var store = new AllocationStore(engine, clock) { defaultHoldExpiry = options.DefaultHoldExpiry, periodEndAlertLead = options.PeriodEndAlertLead };
            store.AttachHost(options);
            return store;
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    /// <summary>The busy timeout in whole milliseconds (rounded up).</summary>
    private static int BusyTimeoutMilliseconds(Duration timeout)
    {
        if (timeout < Duration.Zero)
        {
            throw new InvalidInputException("BusyTimeout", timeout.ToString(), "must not be negative");
        }
        if (timeout > MaxBusyTimeout)
        {
            throw new InvalidInputException("BusyTimeout", timeout.ToString(), $"must be at most {MaxBusyTimeout} ({int.MaxValue:N0} ms)");
        }
        var ticks = timeout.BclCompatibleTicks;
        return (int)((ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond);
    }

    private static readonly Duration MaxBusyTimeout = Duration.FromMilliseconds(int.MaxValue);

    /// <summary>Closes the store and releases its file handles.</summary>
    public void Dispose()
    {
        engine.Dispose();
        telemetry.Dispose();
    }
}
