using Allocations.Rating;
using Allocations.Storage;

namespace Allocations.Recording;

/// <summary>Compiled SKU schedules and unit price schedules kept by a store across transactions, so that a batch
/// does not re-read and re-compile the catalogue on every call.</summary>
/// <remarks>
/// <para>Every entry is tagged with the catalogue version it was read under, and is only served to a transaction
/// that read the same version. Migration 0005 bumps the version by trigger, in the writing transaction, on every
/// insert, update or delete of a unit, SKU or rate rule — whichever process or code path makes it — so equal
/// versions mean an equal catalogue. A transaction reads the version once (one indexed row).</para>
/// <para>The cache is only ever moved and filled from what a transaction read once that transaction has committed
/// (through <see cref="IStorageSession.OnCommitted"/>): a write that changes the catalogue and then rolls back (alone
/// in its group, or with its transaction) leaves the cache as it was, so a version number that never committed can
/// never carry entries into a later transaction that commits the same number with other content.</para>
/// <para>Thread-safe: one lock around small dictionaries; the compiled schedules are immutable.</para>
/// </remarks>
internal sealed class CatalogueCache
{
    private readonly Lock gate = new();
    private long version = -1;
    private Dictionary<(long OrgId, string Key), (CompiledSku Row, RateSchedule Schedule)> skus = [];
    private Dictionary<long, RateSchedule?> prices = [];

    /// <summary>Moves the cache to a newer version read by <paramref name="session"/>, dropping every entry, once the
    /// session has committed; an older version (a reader on an older snapshot) leaves it alone and simply misses.</summary>
    internal void Observe(IStorageSession session, long currentVersion) => session.OnCommitted(() => Observe(currentVersion));

    /// <summary>Keeps a SKU's compiled schedule read by <paramref name="session"/> at <paramref name="atVersion"/>,
    /// once the session has committed.</summary>
    internal void PutSku(IStorageSession session, long atVersion, long orgId, string key, (CompiledSku Row, RateSchedule Schedule) entry) =>
        session.OnCommitted(() => PutSku(atVersion, orgId, key, entry));

    /// <summary>Keeps a unit's price schedule read by <paramref name="session"/> at <paramref name="atVersion"/>, once
    /// the session has committed.</summary>
    internal void PutPrices(IStorageSession session, long atVersion, long unitId, RateSchedule? schedule) =>
        session.OnCommitted(() => PutPrices(atVersion, unitId, schedule));

    private void Observe(long currentVersion)
    {
        lock (gate)
        {
            if (currentVersion > version)
            {
                version = currentVersion;
                skus = [];
                prices = [];
            }
        }
    }

    internal bool TryGetSku(long atVersion, long orgId, string key, out (CompiledSku Row, RateSchedule Schedule) entry)
    {
        lock (gate)
        {
            if (atVersion == version && skus.TryGetValue((orgId, key), out entry))
            {
                return true;
            }
        }
        entry = default;
        return false;
    }

    private void PutSku(long atVersion, long orgId, string key, (CompiledSku Row, RateSchedule Schedule) entry)
    {
        lock (gate)
        {
            if (atVersion == version)
            {
                skus[(orgId, key)] = entry;
            }
        }
    }

    internal bool TryGetPrices(long atVersion, long unitId, out RateSchedule? schedule)
    {
        lock (gate)
        {
            if (atVersion == version && prices.TryGetValue(unitId, out schedule))
            {
                return true;
            }
        }
        schedule = null;
        return false;
    }

    private void PutPrices(long atVersion, long unitId, RateSchedule? schedule)
    {
        lock (gate)
        {
            if (atVersion == version)
            {
                prices[unitId] = schedule;
            }
        }
    }
}
