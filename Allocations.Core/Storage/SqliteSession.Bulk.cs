using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Allocations.Storage;

internal sealed partial class SqliteSession
{
    /// <summary>Org-admin answers of this transaction. Inside one transaction the answer can only change through this
    /// session's own AddOrgAdmin/RemoveOrgAdmin, which clear it; so a table of 10,000 allocations asks once, not
    /// 10,000 times.</summary>
    private readonly Dictionary<(long OrgId, string UserId), bool> orgAdminMemo = [];

    private bool MemoIsOrgAdmin(long orgId, string userId)
    {
        if (!orgAdminMemo.TryGetValue((orgId, userId), out var isAdmin))
        {
            isAdmin = Run(
                "SELECT 1 FROM org_admins WHERE org_id = $org AND user_id = $user",
                ["$org", "$user"],
                [orgId, userId],
                command => command.ExecuteScalar() is not null);
            orgAdminMemo[(orgId, userId)] = isAdmin;
        }
        return isAdmin;
    }

    private SqliteCommand? setFigures;

    /// <summary>The event under an external key, through the statement cache when there is one (every keyed single
    /// record asks this).</summary>
    private EventRow? ReadEventByKey(long orgId, string source, string externalKey) =>
        Run(
            $"SELECT {EventColumns}{SegmentFormColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id WHERE e.org_id = $org AND e.source = $source AND e.external_key = $key",
            ["$org", "$source", "$key"],
            [orgId, source, externalKey],
            command =>
            {
                using var reader = command.ExecuteReader();
                return reader.Read() ? MapEvent(reader, new StoredRows.RowCheck()) : null;
            });

    /// <summary>Maps a row of <see cref="EventColumns"/>, in that column order.</summary>
    private static EventRow ToEventRow(SqliteDataReader reader) =>
        new EventRow
        {
            Id = reader.GetInt64(0),
            OrgId = reader.GetInt64(1),
            AllocationId = reader.GetInt64(2),
            SkuId = reader.GetInt64(3),
            SkuCode = reader.GetString(4),
            Quantity = reader.GetInt64(5),
            StartNs = reader.GetInt64(6),
            EndNs = reader.GetInt64(7),
            Status = reader.GetInt32(8),
            ExternalKey = reader.IsDBNull(9) ? null : reader.GetString(9),
            Amount = reader.GetInt64(10),
            Usd = reader.IsDBNull(11) ? null : reader.GetInt64(11),
            Attributes = reader.IsDBNull(12) ? null : reader.GetString(12),
            RecordedNs = reader.GetInt64(13),
            RecordedBy = reader.GetString(14),
            Source = reader.GetString(15),
            ExpiresNs = reader.IsDBNull(16) ? null : reader.GetInt64(16),
        };

    /// <summary>Maps a row of <see cref="AllocationColumns"/>, in that column order.</summary>
    private static AllocationRow ToAllocationRow(SqliteDataReader reader) =>
        new AllocationRow
        {
            Id = reader.GetInt64(0),
            OrgId = reader.GetInt64(1),
            Name = reader.GetString(2),
            UnitId = reader.GetInt64(3),
            UnitCode = reader.GetString(4),
            ParentId = reader.IsDBNull(5) ? null : reader.GetInt64(5),
            Total = reader.GetInt64(6),
            OwnUsed = reader.GetInt64(7),
            OwnEstimated = reader.GetInt64(8),
            Used = reader.GetInt64(9),
            Estimated = reader.GetInt64(10),
            CreatedNs = reader.GetInt64(11),
            PeriodStartNs = reader.IsDBNull(12) ? null : reader.GetInt64(12),
            PeriodEndNs = reader.IsDBNull(13) ? null : reader.GetInt64(13),
        };

    /// <summary>Writes one allocation's figures with a statement prepared once per transaction: a batch flushes up to
    /// one per allocation it touched.</summary>
    private void SetFiguresPrepared(long allocationId, long ownUsed, long ownEstimated, long used, long estimated)
    {
        setFigures ??= Prepare(
            "UPDATE allocations SET own_used = $ownUsed, own_estimated = $ownEstimated, used = $used, estimated = $estimated WHERE id = $id",
            "$ownUsed", "$ownEstimated", "$used", "$estimated", "$id");
        var p = setFigures.Parameters;
        p[0].Value = ownUsed;
        p[1].Value = ownEstimated;
        p[2].Value = used;
        p[3].Value = estimated;
        p[4].Value = allocationId;
        setFigures.ExecuteNonQuery();
    }

    private SqliteSession ForgetOrgAdmins()
    {
        orgAdminMemo.Clear();
        return this;
    }

    /// <summary>Gets the long-lived statement cache of the engine's write connection; null for a one-off connection.</summary>
    internal StatementCache? Statements { get; init; }

    public long CatalogueVersion() => Run("SELECT version FROM catalogue_version WHERE id = 1", [], [], c =>
    {
        using var reader = c.ExecuteReader();
        return reader.Read() ? StoredRows.Map(reader, r => r.GetInt64(0)) : throw new StoredRowException("catalogue_version", "1", "the row is missing");
    });

    /// <summary>Runs a statement: prepared once and kept when the session has a statement cache, otherwise compiled
    /// for this one use.</summary>
    private T Run<T>(string sql, string[] names, object[] values, Func<SqliteCommand, T> use)
    {
        if (Statements is { } cache)
        {
            var cached = cache.Get(sql, transaction, names);
            Bind(cached, values);
            return use(cached);
        }
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in names)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        Bind(command, values);
        return use(command);

        static void Bind(SqliteCommand command, object[] values)
        {
            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters[i].Value = values[i];
            }
        }
    }

    private AllocationRow? ReadAllocation(long allocationId) =>
        Run(
            $"SELECT {AllocationColumns} FROM allocations a JOIN units u ON u.id = a.unit_id WHERE a.id = $id",
            ["$id"],
            [allocationId],
            command =>
            {
                using var reader = command.ExecuteReader();
                return reader.Read() ? StoredRows.Map(reader, ToAllocationRow) : null;
            });

    // The ids and keys travel as one JSON array parameter, expanded by json_each: one statement, any count, still
    // fully parameterized. The IN (...) term on external_key lets SQLite use the partial unique index.
    public IReadOnlyList<AllocationRow> GetAllocations(IReadOnlyList<long> allocationIds) =>
        allocationIds.Count == 0
            ? []
            : Run(
                $"SELECT {AllocationColumns} FROM allocations a JOIN units u ON u.id = a.unit_id WHERE a.id IN (SELECT value FROM json_each($ids))",
                ["$ids"],
                [JsonSerializer.Serialize(allocationIds)],
                command =>
                {
                    using var reader = command.ExecuteReader();
                    var rows = new List<AllocationRow>();
                    var check = new StoredRows.RowCheck();
                    while (reader.Read())
                    {
                        rows.Add(check.Map(reader, ToAllocationRow));
                    }
                    return rows;
                });

    public IReadOnlyList<EventRow> FindEventsByKeys(long orgId, string source, IReadOnlyList<string> externalKeys) =>
        externalKeys.Count == 0
            ? []
            : Run(
                $"SELECT {EventColumns}{SegmentFormColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id " +
                "WHERE e.org_id = $org AND e.source = $source AND e.external_key IN (SELECT value FROM json_each($keys))",
                ["$org", "$source", "$keys"],
                [orgId, source, JsonSerializer.Serialize(externalKeys)],
                ReadEventRows);

    public bool AddFigures(long allocationId, long ownUsedDelta, long ownEstimatedDelta, long usedDelta, long estimatedDelta) =>
        FiguresTouchedThen(allocationId).Run(
            // SQLite turns an integer sum that overflows into a REAL: the typeof() test catches it.
            "UPDATE allocations SET own_used = own_used + $ou, own_estimated = own_estimated + $oe, used = used + $u, estimated = estimated + $e " +
            "WHERE id = $id RETURNING typeof(own_used) = 'integer' AND typeof(own_estimated) = 'integer' AND typeof(used) = 'integer' AND typeof(estimated) = 'integer', used, estimated, total, org_id, name",
            ["$ou", "$oe", "$u", "$e", "$id"],
            [ownUsedDelta, ownEstimatedDelta, usedDelta, estimatedDelta, allocationId],
            command =>
            {
                using var reader = command.ExecuteReader();
                if (!reader.Read())
                {
                    throw new StoredRowException("allocations", allocationId.ToString(System.Globalization.CultureInfo.InvariantCulture), "the row is missing");
                }
                if (reader.GetInt64(0) != 1)
                {
                    return false;
                }
                var used = reader.GetInt64(1);
                var estimated = reader.GetInt64(2);
                Int128 consumed = (Int128)used + estimated;
                if (consumed < long.MinValue || consumed > long.MaxValue)
                {
                    return false;
                }
                NoteFiguresAfter(allocationId, reader.GetInt64(4), reader.GetString(5), reader.GetInt64(3), used, estimated, usedDelta, estimatedDelta);
                return true;
            });

    public IReadOnlyList<(EventRow Row, List<SegmentRow> Segments)> ReadEventsForDigest(long orgId, long firstId, long lastId)
    {
        var events = Run(
            "SELECT id, org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by, source, seg_rule_id, seg_rate " +
            "FROM usage_events WHERE id BETWEEN $first AND $last AND org_id = $org ORDER BY id",
            ["$first", "$last", "$org"],
            [firstId, lastId, orgId],
            command =>
            {
                using var reader = command.ExecuteReader();
                var rows = new List<(EventRow Row, List<SegmentRow> Segments)>();
                while (reader.Read())
                {
                    var row = new EventRow
                    {
                        Id = reader.GetInt64(0),
                        OrgId = reader.GetInt64(1),
                        AllocationId = reader.GetInt64(2),
                        SkuId = reader.GetInt64(3),
                        Quantity = reader.GetInt64(4),
                        StartNs = reader.GetInt64(5),
                        EndNs = reader.GetInt64(6),
                        Status = reader.GetInt32(7),
                        ExternalKey = reader.IsDBNull(8) ? null : reader.GetString(8),
                        Amount = reader.GetInt64(9),
                        Usd = reader.IsDBNull(10) ? null : reader.GetInt64(10),
                        Attributes = reader.IsDBNull(11) ? null : reader.GetString(11),
                        RecordedNs = reader.GetInt64(12),
                        RecordedBy = reader.IsDBNull(13) ? "" : reader.GetString(13),
                        Source = reader.IsDBNull(14) ? "" : reader.GetString(14),
                    };
                    // A single segment stored in the event row is the same segment as a row of event_segments would be.
                    List<SegmentRow> segments = reader.IsDBNull(15)
                        ? []
                        : [InlineSegment(row, reader.GetInt64(15), reader.IsDBNull(16) ? throw NullInlineRate(row.Id) : reader.GetInt64(16))];
                    rows.Add((row, segments));
                }
                return rows;
            });
        if (events.Count == 0)
        {
            return events;
        }
        var byId = new Dictionary<long, List<SegmentRow>>(events.Count);
        foreach (var (row, segments) in events)
        {
            if (segments.Count == 0)
            {
                byId[row.Id] = segments; // rows of event_segments of an event whose row holds its segment are not its segments
            }
        }
        Run(
            "SELECT event_id, seq, start_ns, end_ns, rule_id, rate, amount FROM event_segments WHERE event_id BETWEEN $first AND $last ORDER BY event_id, seq",
            ["$first", "$last"],
            [firstId, lastId],
            command =>
            {
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    if (byId.TryGetValue(reader.GetInt64(0), out var segments))
                    {
                        segments.Add(ToSegmentRow(reader));
                    }
                }
                return 0;
            });
        return events;
    }

    private static StoredRowException NullInlineRate(long eventId) =>
        new("usage_events", eventId.ToString(System.Globalization.CultureInfo.InvariantCulture), "column seg_rate is null where seg_rule_id is set");

    /// <summary>Maps a row of (event_id, seq, start_ns, end_ns, rule_id, rate, amount).</summary>
    private static SegmentRow ToSegmentRow(SqliteDataReader reader) =>
        new SegmentRow
        {
            EventId = reader.GetInt64(0),
            Seq = reader.GetInt32(1),
            StartNs = reader.GetInt64(2),
            EndNs = reader.GetInt64(3),
            RuleId = reader.GetInt64(4),
            Rate = reader.GetInt64(5),
            Amount = reader.GetInt64(6),
        };
}
