using System.Runtime.CompilerServices;
using System.Text;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Allocations.Storage;

/// <summary>Reporting queries. The filter only chooses among fixed SQL fragments; every value (ids, instants, JSON
/// paths built from attribute keys, and attribute values) is a bound parameter.</summary>
internal sealed partial class SqliteSession : IReportQueries
{
    /// <summary>The allocation listing's query: one organization's allocations in id order. The rows are walked as one
    /// range of the table between the organization's first and last id (two seeks of <c>ix_allocations_org</c>), not
    /// fetched one by one through that index, which costs a table seek per row.</summary>
    internal const string AllocationListSql =
        "SELECT a.id, a.name, a.unit_id, u.code, a.parent_id, a.total, a.own_used, a.own_estimated, a.used, a.estimated, a.created_ns, a.period_start_ns, a.period_end_ns " +
        "FROM allocations a JOIN units u ON u.id = a.unit_id " +
        "WHERE a.id BETWEEN (SELECT MIN(id) FROM allocations WHERE org_id = $orgId) AND (SELECT MAX(id) FROM allocations WHERE org_id = $orgId) " +
        "AND +a.org_id = $orgId ORDER BY a.id";

    private static readonly int[] AllocationListTypes =
    [
        SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_TEXT, SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_TEXT,
        SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER,
        SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER,
        SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER,
    ];

    /// <summary>The last allocation list read on each SQLite connection, with what it was read at: see
    /// <see cref="ReadAllocationList"/>.</summary>
    private static readonly ConditionalWeakTable<SQLitePCL.sqlite3, AllocationListSnapshot> AllocationLists = new();

    /// <summary>All allocations of an organization, for listings and the allocation table, reused from this
    /// connection's last read of them when the database cannot have changed since.</summary>
    /// <remarks>
    /// <para>The snapshot is kept per SQLite connection with two counters of that connection: <c>PRAGMA
    /// data_version</c>, which changes whenever any other connection (of this process or another, the library's or
    /// not) has committed a change, and the number of rows this connection itself has changed. The pragma is the
    /// transaction's first read, or comes after it, so it describes the transaction's own snapshot. A snapshot is kept
    /// only when this transaction had changed nothing before the read, so it holds committed rows. When both counters
    /// match, the database is the one the snapshot was read from, and its rows (checked when they were read) are handed
    /// out as fresh copies; otherwise the rows are read again. Any write, anywhere, invalidates every snapshot.</para>
    /// </remarks>
    private List<AllocationRow> ReadAllocationList(long orgId)
    {
        var handle = connection.Handle!;
        long dataVersion;
        using (var pragma = connection.CreateCommand())
        {
            pragma.Transaction = transaction;
            pragma.CommandText = "PRAGMA data_version";
            dataVersion = (long)pragma.ExecuteScalar()!;
        }
        var changes = SQLitePCL.raw.sqlite3_total_changes(handle);
        if (AllocationLists.TryGetValue(handle, out var snapshot) && snapshot.OrgId == orgId && snapshot.DataVersion == dataVersion && snapshot.Changes == changes)
        {
            return snapshot.Copy();
        }
        var rows = ReadAllocationRows(orgId);
        if (changes == changesAtStart)
        {
            // Kept only once the transaction has ended well: a call rolled back to its savepoint keeps nothing.
            var read = new AllocationListSnapshot(orgId, dataVersion, changes, rows);
            OnCommitted(() => AllocationLists.AddOrUpdate(handle, read));
        }
        return rows;
    }

    /// <summary>All allocations of an organization read from the table: every value read by ordinal straight from the
    /// statement and checked to hold its column's declared type (see <see cref="StoredRows.ValueReader"/>). A unit's
    /// code is read (and checked) once per unit: its rows repeat the same units row. The organization is the one the
    /// query selects by.</summary>
    internal List<AllocationRow> ReadAllocationRows(long orgId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = AllocationListSql;
        command.Parameters.AddWithValue("$orgId", orgId);
        CancellationToken.ThrowIfCancellationRequested();
        using var reader = command.ExecuteReader();
        var rows = new List<AllocationRow>();
        StoredRows.ValueReader? values = null;
        long lastUnit = 0;
        string lastCode = "";
        Dictionary<long, string>? units = null;
        while (reader.Read())
        {
            values ??= new StoredRows.ValueReader(reader, AllocationListTypes);
            var unitId = values.Int64(2);
            string code;
            if (rows.Count > 0 && unitId == lastUnit)
            {
                code = lastCode;
            }
            else
            {
                units ??= [];
                if (!units.TryGetValue(unitId, out code!))
                {
                    code = values.Text(3);
                    units[unitId] = code;
                }
                (lastUnit, lastCode) = (unitId, code);
            }
            rows.Add(new AllocationRow
            {
                Id = values.Int64(0),
                OrgId = orgId,
                Name = values.Text(1),
                UnitId = unitId,
                UnitCode = code,
                ParentId = values.NullableInt64(4),
                Total = values.Int64(5),
                OwnUsed = values.Int64(6),
                OwnEstimated = values.Int64(7),
                Used = values.Int64(8),
                Estimated = values.Int64(9),
                CreatedNs = values.Int64(10),
                PeriodStartNs = values.NullableInt64(11),
                PeriodEndNs = values.NullableInt64(12),
            });
        }
        return rows;
    }

    public IReadOnlyList<EventRow> ListEventPage(long allocationId, EventFilter filter, bool newestFirst, (long StartNs, long Id)? after, int limit)
    {
        var parameters = new DynamicParameters();
        var sql = new StringBuilder($"SELECT {EventColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id WHERE e.allocation_id = @allocationId");
        parameters.Add("allocationId", allocationId);
        if (newestFirst && after is { } bound && filter.ToNs is { } to && bound.StartNs < to)
        {
            // The cursor is then the tighter upper bound on start_ns; leaving out the looser one lets the index range
            // start right at the cursor, so a deep page costs the same as the first.
            filter = filter with { ToNs = null };
        }
        AppendFilter(sql, parameters, filter);
        if (after is { } cursor)
        {
            // Row-value comparison: the index on (allocation_id, start_ns) carries the rowid, so this is a range seek.
            sql.Append(newestFirst ? " AND (e.start_ns, e.id) < (@afterStart, @afterId)" : " AND (e.start_ns, e.id) > (@afterStart, @afterId)");
            parameters.Add("afterStart", cursor.StartNs);
            parameters.Add("afterId", cursor.Id);
        }
        sql.Append(newestFirst ? " ORDER BY e.start_ns DESC, e.id DESC" : " ORDER BY e.start_ns, e.id");
        sql.Append(" LIMIT @limit");
        parameters.Add("limit", limit);
        return Many<EventRow>(sql.ToString(), parameters);
    }

    public IReadOnlyList<SegmentRow> ListSegmentsOf(IReadOnlyList<long> eventIds)
    {
        if (eventIds.Count == 0)
        {
            return [];
        }
        // Single segments stored in their event rows, then the rows of event_segments of the other events.
        var ids = new { ids = "[" + string.Join(',', eventIds.Select(id => id.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]" };
        var segments = new List<SegmentRow>(Many<SegmentRow>(
            "SELECT id AS EventId, 0 AS Seq, start_ns AS StartNs, end_ns AS EndNs, seg_rule_id AS RuleId, seg_rate AS Rate, amount AS Amount " +
            "FROM usage_events WHERE id IN (SELECT value FROM json_each(@ids)) AND seg_rule_id IS NOT NULL",
            ids));
        segments.AddRange(Many<SegmentRow>(
            "SELECT g.event_id AS EventId, g.seq AS Seq, g.start_ns AS StartNs, g.end_ns AS EndNs, g.rule_id AS RuleId, g.rate AS Rate, g.amount AS Amount " +
            "FROM event_segments g JOIN usage_events e ON e.id = g.event_id AND e.seg_rule_id IS NULL " +
            "WHERE g.event_id IN (SELECT value FROM json_each(@ids)) ORDER BY g.event_id, g.seq",
            ids));
        return segments;
    }

    public IEnumerable<ReportSegmentRow> StreamReportSegments(IReadOnlyList<long> allocationIds, EventFilter filter)
    {
        foreach (var (sql, parameters) in ReportSegmentsCommands(allocationIds, filter, SpanClassesPresent()))
        {
            foreach (var row in ReadReportSegments(sql, parameters, attributes: filter.ReadAttributes))
            {
                yield return row;
            }
        }
    }

    /// <summary>The number of span classes (see migration 0011).</summary>
    internal const int SpanClasses = 6;

    /// <summary>An event's span class, as the index <c>ix_usage_events_allocation_span</c> computes it: the class of an
    /// event whose end − start is under 2^(32 + 6c) ns is c; 5 for longer ones.</summary>
    internal const string SpanClassSql =
        "(CASE WHEN e.end_ns - e.start_ns < 4294967296 THEN 0 WHEN e.end_ns - e.start_ns < 274877906944 THEN 1 " +
        "WHEN e.end_ns - e.start_ns < 17592186044416 THEN 2 WHEN e.end_ns - e.start_ns < 1125899906842624 THEN 3 " +
        "WHEN e.end_ns - e.start_ns < 72057594037927936 THEN 4 ELSE 5 END)";

    /// <summary>The longest span of class <paramref name="spanClass"/> (exclusive), for every class but the last.</summary>
    internal static long SpanClassLimit(int spanClass) => 1L << (32 + (6 * spanClass));

    /// <summary>Which span classes hold any event in the file: one seek each, so that a report skips the empty
    /// classes instead of seeking every allocation in them.</summary>
    private bool[] SpanClassesPresent()
    {
        var present = new bool[SpanClasses];
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT EXISTS (SELECT 1 FROM usage_events e INDEXED BY ix_usage_events_allocation_span WHERE {SpanClassSql} = $class)";
        var parameter = command.Parameters.Add("$class", SqliteType.Integer);
        for (var c = 0; c < SpanClasses; c++)
        {
            parameter.Value = c;
            present[c] = command.ExecuteScalar() is long and not 0;
        }
        return present;
    }

    /// <summary>The queries behind <see cref="StreamReportSegments"/>: one per span class present, each reading the
    /// allocations' events of that class through <c>ix_usage_events_allocation_span</c> (one index seek per allocation).
    /// With a period start, an event of class c can overlap the period only when it starts after
    /// from − 2^(32 + 6c) (it is shorter than that) and before the period's end, so each seek is a range bounded on
    /// both sides, and "end after the period's start" is checked in the index: a period's report reads the events that
    /// overlap it and, per class, at most the index entries of one class span before it, however long the history.
    /// Each query runs in index order, which keeps each event's segments together without a sort. An event whose single
    /// segment is stored in its row is one result row with no segment columns (the join's key is null for it, so SQLite
    /// skips the seek into event_segments); the others join their segment rows.</summary>
    /// <remarks>The index is named because the planner, without statistics, could take the (allocation_id, start_ns)
    /// index, which bounds only the start.</remarks>
    internal static List<(string Sql, DynamicParameters Parameters)> ReportSegmentsCommands(IReadOnlyList<long> allocationIds, EventFilter filter, bool[]? present = null)
    {
        var ids = "[" + string.Join(',', allocationIds.Select(id => id.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
        var commands = new List<(string, DynamicParameters)>();
        for (var c = 0; c < SpanClasses; c++)
        {
            if (present is not null && !present[c])
            {
                continue;
            }
            var parameters = new DynamicParameters();
            var sql = new StringBuilder(
                "SELECT e.id, e.allocation_id, e.sku_id, s.code, e.status, e.start_ns, e.end_ns, e.usd, e.attributes, g.start_ns, g.end_ns, g.amount, e.amount, e.seg_rule_id " +
                "FROM usage_events e INDEXED BY ix_usage_events_allocation_span JOIN skus s ON s.id = e.sku_id " +
                "LEFT JOIN event_segments g ON g.event_id = (CASE WHEN e.seg_rule_id IS NULL THEN e.id END) " +
                $"WHERE {SpanClassSql} = @spanClass AND e.allocation_id IN (SELECT value FROM json_each(@allocationIds)) " +
                "AND (e.seg_rule_id IS NOT NULL OR g.event_id IS NOT NULL)");
            parameters.Add("spanClass", c);
            parameters.Add("allocationIds", ids);
            if (filter.FromNs is { } from && c < SpanClasses - 1)
            {
                // Implied by the overlap test AppendFilter writes (the event is shorter than the class limit), but stated
                // as a range on the index's third column so that the seek starts there.
                sql.Append(" AND e.start_ns > @spanFromNs");
                parameters.Add("spanFromNs", from - SpanClassLimit(c));
            }
            AppendFilter(sql, parameters, filter);
            sql.Append(" ORDER BY e.allocation_id, e.start_ns, e.end_ns, e.id, g.seq");
            commands.Add((sql.ToString(), parameters));
        }
        return commands;
    }

    private static readonly int[] ReportSegmentTypes =
    [
        SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_TEXT,
        SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER,
        SQLitePCL.raw.SQLITE_TEXT, SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER,
        SQLitePCL.raw.SQLITE_INTEGER, SQLitePCL.raw.SQLITE_INTEGER,
    ];

    /// <summary>Streams the rows of one report query, each value read by ordinal and checked to hold its column's
    /// declared type (see <see cref="StoredRows.ValueReader"/>). An event's own columns are read once, at its first
    /// segment (its other segments repeat the same event row), a SKU's code once per SKU, and the attributes only
    /// when the report groups by them. One row object is filled and yielded again for every segment: the consumer
    /// copies what it keeps.</summary>
    private IEnumerable<ReportSegmentRow> ReadReportSegments(string sql, DynamicParameters parameters, bool attributes)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in parameters.ParameterNames)
        {
            command.Parameters.AddWithValue("@" + name, parameters.Get<object>(name));
        }
        CancellationToken.ThrowIfCancellationRequested();
        using var reader = command.ExecuteReader();
        StoredRows.ValueReader? values = null;
        var skuCodes = new Dictionary<long, string>();
        var row = new ReportSegmentRow();
        var currentEvent = long.MinValue;
        while (reader.Read())
        {
            values ??= new StoredRows.ValueReader(reader, ReportSegmentTypes);
            var eventId = values.Int64(0);
            if (eventId != currentEvent)
            {
                currentEvent = eventId;
                row.EventId = eventId;
                row.AllocationId = values.Int64(1);
                var skuId = values.Int64(2);
                if (row.SkuId != skuId || row.SkuCode.Length == 0)
                {
                    if (!skuCodes.TryGetValue(skuId, out var code))
                    {
                        code = values.Text(3);
                        skuCodes.Add(skuId, code);
                    }
                    row.SkuId = skuId;
                    row.SkuCode = code;
                }
                row.Status = values.Int32(4);
                row.EventStartNs = values.Int64(5);
                row.EventEndNs = values.Int64(6);
                row.Usd = values.NullableInt64(7);
                row.Attributes = attributes ? values.NullableText(8) : null;
            }
            if (values.NullableInt64(13) is null)
            {
                row.StartNs = values.Int64(9);
                row.EndNs = values.Int64(10);
                row.Amount = values.Int64(11);
            }
            else
            {
                // The event's single segment, stored in its row: the event's interval and amount.
                row.StartNs = row.EventStartNs;
                row.EndNs = row.EventEndNs;
                row.Amount = values.Int64(12);
            }
            yield return row;
        }
    }

    /// <summary>Appends the filter's terms (shared with the PostgreSQL engine, which writes its own attribute term
    /// through <paramref name="attributeTerm"/>: the builder, the parameters, the pair's index, its key and value).</summary>
    internal static void AppendFilter(StringBuilder sql, DynamicParameters parameters, EventFilter filter, Action<StringBuilder, DynamicParameters, int, string, string>? attributeTerm = null)
    {
        if (filter.ToNs is { } to)
        {
            sql.Append(" AND e.start_ns < @toNs");
            parameters.Add("toNs", to);
        }
        if (filter.FromNs is { } from)
        {
            sql.Append(" AND (e.end_ns > @fromNs OR e.start_ns >= @fromNs)");
            parameters.Add("fromNs", from);
        }
        if (filter.SkuId is { } sku)
        {
            sql.Append(" AND e.sku_id = @skuId");
            parameters.Add("skuId", sku);
        }
        if (filter.Status is { } status)
        {
            sql.Append(" AND e.status = @status");
            parameters.Add("status", status);
        }
        for (var i = 0; i < filter.Attributes.Count; i++)
        {
            var (key, value) = filter.Attributes[i];
            if (attributeTerm is not null)
            {
                attributeTerm(sql, parameters, i, key, value);
                continue;
            }
            var p = "attrPath" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var v = "attrValue" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            sql.Append(" AND json_extract(e.attributes, @").Append(p).Append(") = @").Append(v);
            parameters.Add(p, "$.\"" + key + "\""); // the key as a quoted JSON path label, itself a bound parameter
            parameters.Add(v, value);
        }
    }
}

/// <summary>One organization's allocation rows as read at a data version and change count of one connection; the rows
/// are copies no caller holds, handed out as copies.</summary>
internal sealed class AllocationListSnapshot
{
    private readonly AllocationRow[] rows;

    internal AllocationListSnapshot(long orgId, long dataVersion, int changes, List<AllocationRow> read)
    {
        OrgId = orgId;
        DataVersion = dataVersion;
        Changes = changes;
        rows = new AllocationRow[read.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = read[i].Copy();
        }
    }

    internal long OrgId { get; }

    internal long DataVersion { get; }

    internal int Changes { get; }

    internal List<AllocationRow> Copy()
    {
        var copy = new List<AllocationRow>(rows.Length);
        foreach (var row in rows)
        {
            copy.Add(row.Copy());
        }
        return copy;
    }

}
