using System.Text.Json;

namespace Allocations.Storage;

internal sealed partial class SqliteSession
{
    /// <summary>Org-admin answers of this transaction. Inside one transaction the answer can only change through this
    /// session's own AddOrgAdmin/RemoveOrgAdmin, which clear it; so a table of 10,000 allocations asks once, not
    /// 10,000 times.</summary>
    private readonly Dictionary<(long OrgId, string UserId), bool> orgAdminMemo = [];

    private bool MemoIsOrgAdmin(long orgId, string userId, Func<bool> query)
    {
        if (!orgAdminMemo.TryGetValue((orgId, userId), out var isAdmin))
        {
            isAdmin = query();
            orgAdminMemo[(orgId, userId)] = isAdmin;
        }
        return isAdmin;
    }

    private SqliteSession ForgetOrgAdmins()
    {
        orgAdminMemo.Clear();
        return this;
    }

    public long CatalogueVersion() => One<long>("SELECT version FROM catalogue_version WHERE id = 1");

    // The ids and keys travel as one JSON array parameter, expanded by json_each: one statement, any count, still
    // fully parameterized. The IN (...) term on external_key lets SQLite use the partial unique index.
    public IReadOnlyList<AllocationRow> GetAllocations(IReadOnlyList<long> allocationIds) =>
        allocationIds.Count == 0
            ? []
            : Many<AllocationRow>(
                $"SELECT {AllocationColumns} FROM allocations a JOIN units u ON u.id = a.unit_id WHERE a.id IN (SELECT value FROM json_each(@ids))",
                new { ids = JsonSerializer.Serialize(allocationIds) });

    public IReadOnlyList<EventRow> FindEventsByKeys(long orgId, IReadOnlyList<string> externalKeys) =>
        externalKeys.Count == 0
            ? []
            : Many<EventRow>(
                $"SELECT {EventColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id " +
                "WHERE e.org_id = @orgId AND e.external_key IN (SELECT value FROM json_each(@keys))",
                new { orgId, keys = JsonSerializer.Serialize(externalKeys) });
}
