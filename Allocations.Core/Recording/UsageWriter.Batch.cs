using Allocations.Domain;
using Allocations.Storage;

namespace Allocations.Recording;

/// <summary>The batch side of the writer: allocations and idempotency keys of a whole chunk are read in a few
/// set-at-a-time statements before the items are planned one by one, and the catalogue version is read once.</summary>
internal sealed partial class UsageWriter
{
    /// <summary>Keys slice size for one look-up statement.</summary>
    private const int KeysPerQuery = 2_000;

    /// <summary>What this transaction knows about this writer's source's external keys: the event the source now
    /// stores under the key, or null when none is. Filled by <see cref="Prefetch"/> and kept current by every write of this writer.</summary>
    private readonly Dictionary<(long OrgId, string Key), EventRow?> knownKeys = [];

    private long? catalogueVersion;

    /// <summary>Reads the catalogue version once per transaction and lets the shared cache catch up.</summary>
    private long CatalogueVersion()
    {
        if (catalogueVersion is not { } version)
        {
            version = session.CatalogueVersion();
            catalogueVersion = version;
            Catalogue?.Observe(session, version);
        }
        return version;
    }

    /// <summary>Loads the allocations and the events under the external keys that <paramref name="records"/> name,
    /// a few statements for the whole chunk. Throws nothing for bad items: those fail later, in order, when planned,
    /// so the error still names the first offending item. Access is still checked per allocation when planned.</summary>
    internal void Prefetch(IReadOnlyList<UsageRecord> records)
    {
        var missing = new HashSet<long>();
        foreach (var record in records)
        {
            if (record is not null && record.Allocation.Value > 0 && !allocations.ContainsKey(record.Allocation.Value))
            {
                missing.Add(record.Allocation.Value);
            }
        }
        if (missing.Count > 0)
        {
            foreach (var row in session.GetAllocations([.. missing]))
            {
                allocations.TryAdd(row.Id, row);
            }
        }

        var keysByOrg = new Dictionary<long, List<string>>();
        foreach (var record in records)
        {
            if (record?.ExternalKey is { } key && allocations.TryGetValue(record.Allocation.Value, out var allocation)
                && knownKeys.TryAdd((allocation.OrgId, key), null))
            {
                if (!keysByOrg.TryGetValue(allocation.OrgId, out var list))
                {
                    keysByOrg[allocation.OrgId] = list = [];
                }
                list.Add(key);
            }
        }
        foreach (var (orgId, keys) in keysByOrg)
        {
            for (var offset = 0; offset < keys.Count; offset += KeysPerQuery)
            {
                var slice = keys.GetRange(offset, Math.Min(KeysPerQuery, keys.Count - offset));
                foreach (var row in session.FindEventsByKeys(orgId, source, slice))
                {
                    knownKeys[(orgId, row.ExternalKey!)] = row;
                }
            }
        }
    }

    /// <summary>The event stored under a key (as this writer sees it), or null.</summary>
    internal EventRow? Known(long orgId, string key) => FindByKey(orgId, key);

    private EventRow? FindByKey(long orgId, string key) =>
        knownKeys.TryGetValue((orgId, key), out var known) ? known : session.FindEventByKey(orgId, source, key);

    private void RememberKey(EventRow row)
    {
        if (row.ExternalKey is { } key)
        {
            knownKeys[(row.OrgId, key)] = row;
        }
    }

    private void ForgetKey(EventRow row)
    {
        if (row.ExternalKey is { } key)
        {
            knownKeys.Remove((row.OrgId, key));
        }
    }
}
