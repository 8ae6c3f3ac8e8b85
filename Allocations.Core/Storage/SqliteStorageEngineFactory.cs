namespace Allocations.Storage;

/// <summary>Opens SQLite stores: a database file, or a private database in memory (<c>:memory:</c>).</summary>
internal sealed class SqliteStorageEngineFactory : IStorageEngineFactory
{
    internal static readonly SqliteStorageEngineFactory Instance = new();

    /// <summary>Opens the store synchronously: opening a SQLite file does not wait on the network.</summary>
    internal static IStorageEngine Open(StorageSettings settings)
    {
        var engine = SqliteStorageEngine.Open(settings.Location, settings.DurableWrites, settings.BusyTimeoutMs);
        engine.PageCacheKiB = settings.PageCacheKiB;
        return engine;
    }

    public ValueTask<IStorageEngine> OpenAsync(StorageSettings settings, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Open(settings));
    }
}
