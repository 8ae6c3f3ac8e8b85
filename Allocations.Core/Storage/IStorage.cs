using Microsoft.Extensions.Logging;

namespace Allocations.Storage;

/// <summary>A storage engine: runs units of work in transactions. The rules every engine keeps are written down in
/// <c>Storage/README.md</c>; SQLite is the one implementation today.</summary>
internal interface IStorageEngine : IDisposable
{
    /// <summary>Gets the path or name of the store, for messages.</summary>
    string Location { get; }

    /// <summary>Gets the schema steps the open applied (committed), with how long each took, for the store to log.</summary>
    IReadOnlyList<(int Version, long ElapsedMs)> AppliedMigrations { get; }

    /// <summary>Sets where the engine logs lock waits and timeouts.</summary>
    ILogger Logger { set; }

    /// <summary>Runs <paramref name="work"/> in a read transaction (a consistent snapshot); nothing it does is kept.</summary>
    ValueTask<T> ReadAsync<T>(Func<IStorageSession, ValueTask<T>> work, CancellationToken cancellationToken);

    /// <summary>Runs <paramref name="work"/> as one atomic unit of a write transaction; commits when it returns, rolls
    /// back when it throws. Durable once the returned task completes. An engine may run concurrent calls in one
    /// transaction with one commit (each in a savepoint of its own, in order, each seeing the writes of those before
    /// it, a failing one rolled back alone): what must happen only once the work is committed goes through
    /// <see cref="IStorageSession.OnCommitted"/>. Other writers may run at the same time on an engine that
    /// allows it: what the work reads and then changes must be locked first (see
    /// <see cref="IStorageSession.LockAllocationsAsync"/> and <see cref="IStorageSession.LockImporterAsync"/>).</summary>
    ValueTask<T> WriteAsync<T>(Func<IStorageSession, ValueTask<T>> work, CancellationToken cancellationToken);

    /// <summary>Runs work that awaits nothing in a read transaction; see the asynchronous form.</summary>
    Task<T> ReadAsync<T>(Func<IStorageSession, T> work, CancellationToken cancellationToken) =>
        ReadAsync(session => ValueTask.FromResult(work(session)), cancellationToken).AsTask();

    /// <summary>Runs work that awaits nothing in a write transaction; see the asynchronous form.</summary>
    Task<T> WriteAsync<T>(Func<IStorageSession, T> work, CancellationToken cancellationToken) =>
        WriteAsync(session => ValueTask.FromResult(work(session)), cancellationToken).AsTask();
}

/// <summary>Opens the engine of one kind of database: what the store opens from.</summary>
internal interface IStorageEngineFactory
{
    /// <summary>Opens (creating when missing, and upgrading an older schema) the store at <paramref name="settings"/>'s
    /// location. A location that is not a store of this library, or of a newer schema, is refused with
    /// <see cref="Exceptions.StoreUnavailableException"/> before anything is written to it.</summary>
    ValueTask<IStorageEngine> OpenAsync(StorageSettings settings, CancellationToken cancellationToken);
}

/// <summary>What an engine is opened with, in engine-neutral terms.</summary>
/// <param name="Location">Where the store lives: a file path, <c>:memory:</c>, or a server engine's connection string.</param>
/// <param name="DurableWrites">Whether a commit waits until it survives a power loss (not only a process crash).</param>
/// <param name="BusyTimeoutMs">How long a write waits for a lock another writer holds before it gives up.</param>
/// <param name="PageCacheKiB">How much memory each connection may use to cache database pages, in KiB.</param>
internal sealed record StorageSettings(string Location, bool DurableWrites, int BusyTimeoutMs, int PageCacheKiB = 2048);

/// <summary>The operations of one transaction, in storage terms (rows and raw integers). All SQL lives behind it.</summary>
internal partial interface IStorageSession
{
    CancellationToken CancellationToken { get; }

    // Concurrency
    /// <summary>Locks the named allocations' rows (their figures and total) for the rest of the transaction, and their
    /// parents' rows too when <paramref name="withParents"/> is set: every lock in ascending id order, so that two
    /// writers never wait on each other in a cycle. The ids come in ascending order, each once, in one call per
    /// transaction. Called before the figures of those allocations are read to be changed.</summary>
    ValueTask LockAllocationsAsync(IReadOnlyList<long> allocationIds, bool withParents = false);

    /// <summary>Takes an importer's advisory lock for one organization and key (a Slurm cluster) for the rest of the
    /// transaction, so that reading its state row and writing it back is one step for every writer.</summary>
    ValueTask LockImporterAsync(long orgId, string importer, string key);

    // Organizations and admins
    long InsertOrganization(string name, string nameKey, long createdNs);

    OrganizationRow? GetOrganization(long orgId);

    bool OrganizationNameExists(string nameKey);

    IReadOnlyList<OrganizationRow> ListOrganizations();

    bool IsOrgAdmin(long orgId, string userId);

    void AddOrgAdmin(long orgId, string userId);

    void RemoveOrgAdmin(long orgId, string userId);

    IReadOnlyList<string> ListOrgAdmins(long orgId);

    // Units, SKUs, rules
    long InsertUnit(long orgId, string code, string codeKey, int displayPrecision);

    UnitRow? FindUnit(long orgId, string codeKey);

    UnitRow? GetUnit(long unitId);

    IReadOnlyList<UnitRow> ListUnits(long orgId);

    long InsertSku(long orgId, string code, string codeKey, long unitId, int basis);

    SkuRow? FindSku(long orgId, string codeKey);

    IReadOnlyList<SkuRow> ListSkus(long orgId);

    long InsertRule(long? skuId, long? unitId, long fromNs, long? toNs, long rate, long createdNs, string createdBy);

    IReadOnlyList<RuleRow> ListSkuRules(long skuId);

    IReadOnlyList<RuleRow> ListUnitPrices(long unitId);

    void SetRuleEnd(long ruleId, long toNs);

    // Allocations
    long InsertAllocation(long orgId, string name, string nameKey, long unitId, long? parentId, long total, long createdNs, string createdBy);

    AllocationRow? GetAllocation(long allocationId);

    bool AllocationNameExists(long orgId, string nameKey);

    IReadOnlyList<AllocationRow> ListAllocations(long orgId);

    IReadOnlyList<AllocationRow> ListChildren(long parentId);

    void SetTotal(long allocationId, long total);

    void SetFigures(long allocationId, long ownUsed, long ownEstimated, long used, long estimated);

    void DeleteAllocation(long allocationId);

    void InsertTotalChange(TotalChangeRow change);

    IReadOnlyList<TotalChangeRow> ListTotalChanges(long allocationId);

    // Usage events
    long InsertEvent(EventRow row);

    void UpdateEvent(EventRow row);

    void InsertSegments(long eventId, IReadOnlyList<SegmentRow> segments);

    void DeleteSegments(long eventId);

    EventRow? GetEvent(long eventId);

    /// <summary>The event recorded under a key by one source (<c>user:&lt;id&gt;</c>, <c>system</c> or <c>slurm</c>).</summary>
    EventRow? FindEventByKey(long orgId, string source, string externalKey);

    /// <summary>The organization's sums of event amounts and of USD amounts, as maintained by every write; null when
    /// no row is stored yet (then both are zero).</summary>
    (long Amount, long Usd)? GetOrgUsageSums(long orgId);

    /// <summary>Adds to the organization's sums of event amounts and USD amounts (a row is created when none is
    /// stored yet). The caller has checked that the sums stay within the amount range.</summary>
    void AddOrgUsageSums(long orgId, long amountDelta, long usdDelta);

    /// <summary>Recomputes the organization's sums from its events (after events were removed in bulk), saturating at
    /// the largest amount when they would not be representable.</summary>
    void RecountOrgUsageSums(long orgId);

    IReadOnlyList<SegmentRow> ListSegments(long eventId);

    void DeleteEvent(long eventId);

    long CountEvents(long allocationId);

    // Verification
    IReadOnlyList<EventSumRow> SumEventsByAllocation(long orgId);

    IReadOnlyList<(long EventId, long AllocationId, long Amount, long SegmentSum)> FindSegmentMismatches(long orgId);

    // Slurm importer state (watermark and run lock): read and written under LockImporterAsync
    SlurmStateRow? GetSlurmState(long orgId, string cluster);

    void PutSlurmState(SlurmStateRow row);
}
