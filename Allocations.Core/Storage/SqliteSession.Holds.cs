namespace Allocations.Storage;

/// <summary>Holds that expire. Every query names <c>status = 1 AND expires_ns &lt;= $now</c>, which implies the
/// condition of the partial index <c>ix_usage_events_hold_expiry</c> (migration 0012), so it walks only the holds
/// that carry an expiry, by allocation, never an allocation's other events.</summary>
internal sealed partial class SqliteSession
{
    public (long Own, long Tree) SumExpiredHolds(long allocationId, long nowNs) =>
        Run(
            "SELECT COALESCE(SUM(CASE WHEN e.allocation_id = $id THEN e.amount END), 0), COALESCE(SUM(e.amount), 0) FROM usage_events e " +
            "WHERE e.status = 1 AND e.expires_ns <= $now " +
            "AND (e.allocation_id = $id OR e.allocation_id IN (SELECT c.id FROM allocations c WHERE c.parent_id = $id))",
            ["$id", "$now"],
            [allocationId, nowNs],
            command =>
            {
                using var reader = command.ExecuteReader();
                reader.Read();
                return (reader.GetInt64(0), reader.GetInt64(1));
            });

    public IReadOnlyDictionary<long, long> SumExpiredHoldsByAllocation(long orgId, long nowNs) =>
        Run(
            "SELECT e.allocation_id, SUM(e.amount) FROM usage_events e " +
            "WHERE e.status = 1 AND e.expires_ns <= $now AND e.allocation_id IN (SELECT a.id FROM allocations a WHERE a.org_id = $org) " +
            "GROUP BY e.allocation_id",
            ["$org", "$now"],
            [orgId, nowNs],
            command =>
            {
                using var reader = command.ExecuteReader();
                var sums = new Dictionary<long, long>();
                while (reader.Read())
                {
                    sums[reader.GetInt64(0)] = reader.GetInt64(1);
                }
                return sums;
            });

    public IReadOnlyList<EventRow> ListExpiredHolds(long orgId, long nowNs, long afterId, int limit) =>
        Run(
            $"SELECT {EventColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id " +
            "WHERE e.status = 1 AND e.expires_ns <= $now AND e.allocation_id IN (SELECT a.id FROM allocations a WHERE a.org_id = $org) " +
            "AND e.id > $after ORDER BY e.id LIMIT $limit",
            ["$org", "$now", "$after", "$limit"],
            [orgId, nowNs, afterId, limit],
            command =>
            {
                using var reader = command.ExecuteReader();
                var rows = new List<EventRow>();
                while (reader.Read())
                {
                    rows.Add(StoredRows.Map(reader, ToEventRow));
                }
                return rows;
            });

    public void SetHoldExpiry(long eventId, long? expiresNs) =>
        Run(
            "UPDATE usage_events SET expires_ns = $expires WHERE id = $id",
            ["$expires", "$id"],
            [(object?)expiresNs ?? DBNull.Value, eventId],
            command => command.ExecuteNonQuery());
}
