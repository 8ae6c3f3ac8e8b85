namespace Allocations.Storage;

internal sealed partial class SqliteSession
{
    public void DeleteRule(long ruleId) =>
        Exec("DELETE FROM rate_rules WHERE id = @ruleId", new { ruleId });

    public void SetRuleStart(long ruleId, long fromNs) =>
        Exec("UPDATE rate_rules SET from_ns = @fromNs WHERE id = @ruleId", new { ruleId, fromNs });

    // No index leads by SKU: the page walks the events in id order from afterId (the primary key), so paging through
    // a period reads the table once, whatever the page size.
    public IReadOnlyList<EventRow> ListSkuEventsPage(long skuId, long fromNs, long toNs, long afterId, int limit) =>
        Run(
            $"SELECT {EventColumns}{SegmentFormColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id " +
            "WHERE e.id > $after AND e.sku_id = $sku AND e.start_ns < $to AND (e.end_ns > $from OR e.start_ns >= $from) ORDER BY e.id LIMIT $limit",
            ["$after", "$sku", "$to", "$from", "$limit"],
            [afterId, skuId, toNs, fromNs, limit],
            ReadEventRows);

    /// <summary>Reads every row of a query of <see cref="EventColumns"/> then <see cref="SegmentFormColumns"/>, each checked
    /// as <see cref="StoredRows"/> does.</summary>
    private List<EventRow> ReadEventRows(Microsoft.Data.Sqlite.SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var rows = new List<EventRow>();
        var check = new StoredRows.RowCheck();
        while (reader.Read())
        {
            rows.Add(MapEvent(reader, check));
        }
        return rows;
    }
}
