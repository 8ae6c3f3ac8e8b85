using Allocations.Domain;
using Allocations.Exceptions;
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
    private readonly IClock clock;

    private AllocationStore(IStorageEngine engine, IClock clock)
    {
        this.engine = engine;
        this.clock = clock;
    }

    /// <summary>Gets where the store lives: the full path of its file, or <c>:memory:</c>.</summary>
    public string Location => engine.Location;

    /// <summary>Opens the store in a SQLite file, creating the file when it is missing and upgrading an older schema.</summary>
    /// <param name="path">The database file's path.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>The open store.</returns>
    /// <exception cref="InvalidInputException">The path is empty or holds a NUL character (field <c>path</c>); the
    /// <see cref="AllocationStoreOptions.BusyTimeout"/> is negative or over <see cref="int.MaxValue"/> milliseconds (field
    /// <c>BusyTimeout</c>); the clock's instant lies outside 1900-01-01 to 2200-01-01 (field <c>Clock</c>).</exception>
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
        return Task.FromResult(Open(path, options, cancellationToken));
    }

    /// <summary>Opens a private store in memory, gone when disposed: for tests and trials.</summary>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>The open store.</returns>
    /// <exception cref="InvalidInputException">An option breaks its rule, as for <see cref="OpenAsync"/>.</exception>
    public static Task<AllocationStore> OpenInMemoryAsync(AllocationStoreOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(Open(SqliteStorageEngine.MemoryPath, options, cancellationToken));

    /// <summary>Opens a file store synchronously: what <see cref="OpenAsync"/> does, for the container's factory.</summary>
    internal static AllocationStore OpenSynchronously(string path, AllocationStoreOptions options)
    {
        if (string.IsNullOrWhiteSpace(path) || path == SqliteStorageEngine.MemoryPath)
        {
            throw new InvalidInputException("path", path, "a file path is required");
        }
        return Open(path, options, CancellationToken.None);
    }

    private static AllocationStore Open(string path, AllocationStoreOptions? options, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        options ??= new AllocationStoreOptions();
        var busyMs = BusyTimeoutMilliseconds(options.BusyTimeout);
#pragma warning disable RS0030 // The system clock is the documented default when the host injects none.
        var clock = options.Clock ?? SystemClock.Instance;
#pragma warning restore RS0030
        ClockNs(clock); // a clock outside the supported range is refused now, not at the first write
        if (options.PageCacheMegabytes is < 1 or > AllocationStoreOptions.MaxPageCacheMegabytes)
        {
            throw new InvalidInputException("PageCacheMegabytes", options.PageCacheMegabytes.ToString(System.Globalization.CultureInfo.InvariantCulture), $"must be between 1 and {AllocationStoreOptions.MaxPageCacheMegabytes}");
        }
        var engine = SqliteStorageEngine.Open(path, options.DurableWrites, busyMs);
        engine.PageCacheKiB = options.PageCacheMegabytes * 1024;
        var store = new AllocationStore(engine, clock);
        store.AttachHost(options, engine);
        return store;
    }

    /// <summary>The busy timeout in whole milliseconds (rounded up), as SQLite's <c>busy_timeout</c> takes it.</summary>
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

    /// <summary>The clock's instant in the store's encoding; the clock is checked at every use (a host's clock can
    /// move).</summary>
    private static long ClockNs(IClock clock) => InstantCodec.ToNs(clock.GetCurrentInstant(), "Clock");

    /// <summary>Closes the store and releases its file handles.</summary>
    public void Dispose()
    {
        engine.Dispose();
        telemetry.Dispose();
    }

    private long NowNs() => ClockNs(clock);

    internal IStorageEngine Engine => engine;
}
