namespace Allocations.Storage;

/// <summary>A storage engine: runs units of work in transactions. SQLite is the one implementation; a server engine
/// would implement the same two interfaces and nothing above Storage would change.</summary>
internal interface IStorageEngine : IDisposable
{
    /// <summary>Gets the path or name of the store, for messages.</summary>
    string Location { get; }

    /// <summary>Runs <paramref name="work"/> in a read transaction (a consistent snapshot).</summary>
    Task<T> ReadAsync<T>(Func<IStorageSession, T> work, CancellationToken cancellationToken);

    /// <summary>Runs <paramref name="work"/> as one atomic unit of a write transaction that no other writer shares
    /// concurrently; commits when it returns, rolls back when it throws. Durable once the returned task completes.
    /// Concurrent calls may share one transaction and its commit (each in a savepoint of its own, in order, each
    /// seeing the writes of those before it): what must happen only once the work is committed goes through
    /// <see cref="IStorageSession.OnCommitted"/>.</summary>
    Task<T> WriteAsync<T>(Func<IStorageSession, T> work, CancellationToken cancellationToken);

    /// <summary>As <see cref="WriteAsync{T}(Func{IStorageSession, T}, CancellationToken)"/>, for work that awaits:
    /// it runs to completion before the next call of its group starts.</summary>
    Task<T> WriteAsync<T>(Func<IStorageSession, ValueTask<T>> work, CancellationToken cancellationToken);
}

/// <summary>The operations of one transaction, in storage terms (rows and raw integers). All SQL lives behind it.</summary>
internal partial interface IStorageSession
{
    CancellationToken CancellationToken { get; }

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

    /// <summary>Stores the organization's sums of event amounts and USD amounts.</summary>
    void SetOrgUsageSums(long orgId, long amount, long usd);

    /// <summary>Recomputes the organization's sums from its events (after events were removed in bulk), saturating at
    /// the largest amount when they would not be representable.</summary>
    void RecountOrgUsageSums(long orgId);

    IReadOnlyList<SegmentRow> ListSegments(long eventId);

    void DeleteEvent(long eventId);

    long CountEvents(long allocationId);

    // Verification
    IReadOnlyList<EventSumRow> SumEventsByAllocation(long orgId);

    IReadOnlyList<(long EventId, long AllocationId, long Amount, long SegmentSum)> FindSegmentMismatches(long orgId);

    // Slurm importer state (watermark and run lock)
    SlurmStateRow? GetSlurmState(long orgId, string cluster);

    void PutSlurmState(SlurmStateRow row);
}
