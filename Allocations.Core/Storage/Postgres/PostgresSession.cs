using System.Data;
using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace Allocations.Storage.Postgres;

/// <summary>One PostgreSQL transaction. Every statement takes its values as bound parameters. The writes of the
/// recording hot path (events, segments, figures, journal entries) are buffered and sent together, as one batch of
/// array-parameter statements, before the next read and at commit: one round trip per group, none per event. Ids of
/// buffered rows come from their sequences in blocks, so an insert needs no round trip to learn its id.</summary>
/// <remarks>In a write transaction (READ COMMITTED), every allocation row read is read <c>FOR UPDATE</c> together with
/// its parent, in id order: the figures a writer reads are the current ones and stay so until it commits, whether the
/// service reads them before or after <see cref="LockAllocationsAsync"/>.</remarks>
internal sealed partial class PostgresSession : IStorageSession
{
    private const string AllocationColumns = SqliteSession.AllocationColumns;

    private const string EventColumns = SqliteSession.EventColumns;

    private const int MaxIdBlock = 1024;

    /// <summary>From how many buffered events a flush sends events and segments by COPY rather than by INSERT.</summary>
    private const int CopyThreshold = 256;

    private readonly NpgsqlConnection connection;
    private readonly NpgsqlTransaction transaction;
    private readonly bool write;
    private readonly HashSet<long> lockedAllocations = [];

    /// <summary>The allocation rows this write transaction has read under its row locks and not written since: what a
    /// read of them would return again until the commit, so a second read of them is answered from here.</summary>
    private readonly Dictionary<long, AllocationRow> lockedRows = [];
    private readonly List<EventRow> pendingEvents = [];
    private readonly List<(long EventId, int Seq, SegmentRow Segment)> pendingSegments = [];

    /// <summary>The single segment a buffered event stores in its own row (schema version 3), by event id.</summary>
    private readonly Dictionary<long, (long RuleId, long Rate)> pendingInline = [];
    private readonly Dictionary<long, (long OwnUsed, long OwnEstimated, long Used, long Estimated)> pendingFigures = [];
    private readonly Dictionary<long, (long Amount, long Usd)> pendingSums = [];
    private readonly Queue<long> eventIds = new();
    private int eventIdBlock = 1;

    internal PostgresSession(NpgsqlConnection connection, NpgsqlTransaction transaction, bool write, CancellationToken cancellationToken)
    {
        this.connection = connection;
        this.transaction = transaction;
        this.write = write;
        CancellationToken = cancellationToken;
    }

    public CancellationToken CancellationToken { get; }

    private CommandDefinition Cmd(string sql, object? parameters = null, bool buffered = true) =>
        new(sql, parameters, transaction, flags: buffered ? CommandFlags.Buffered : CommandFlags.None, cancellationToken: CancellationToken);

    private T? One<T>(string sql, object? parameters = null)
    {
        Flush();
        return connection.QueryFirstOrDefault<T>(Cmd(sql, parameters));
    }

    private IReadOnlyList<T> Many<T>(string sql, object? parameters = null)
    {
        Flush();
        return connection.Query<T>(Cmd(sql, parameters)).AsList();
    }

    private IEnumerable<T> Stream<T>(string sql, object? parameters = null)
    {
        Flush();
        return connection.Query<T>(Cmd(sql, parameters, buffered: false));
    }

    private int Exec(string sql, object? parameters = null)
    {
        Flush();
        return connection.Execute(Cmd(sql, parameters));
    }

    private long InsertReturningId(string sql, object parameters) =>
        One<long>(sql + " RETURNING id", parameters);

    // Concurrency
    public async ValueTask LockAllocationsAsync(IReadOnlyList<long> allocationIds, bool withParents = false)
    {
        for (var i = 1; i < allocationIds.Count; i++)
        {
            if (allocationIds[i] <= allocationIds[i - 1])
            {
                throw new Exceptions.InternalErrorException(PostgresStorageEngine.Describe(connection), $"allocations locked out of order ({allocationIds[i - 1]} then {allocationIds[i]}); they are locked in ascending id order, each once");
            }
        }
        var ids = allocationIds.ToArray();
        if (!withParents && ids.All(lockedAllocations.Contains))
        {
            return;
        }
        Flush();
        // One statement, the rows (and their parents) locked in id order, and read: the writer reads them next. The ids
        // form one array (the parents read first, once), so the rows are found through the primary key: an OR with a
        // subquery is planned as a scan of the table, which a table of often-updated rows makes slow, under the locks
        // of every other writer.
        var locked = await connection.QueryAsync<AllocationRow>(Cmd(
            $"SELECT {AllocationColumns} FROM allocations a JOIN units u ON u.id = a.unit_id WHERE a.id = ANY(" +
            (withParents ? "@ids || ARRAY(SELECT p.parent_id FROM allocations p WHERE p.id = ANY(@ids) AND p.parent_id IS NOT NULL)" : "@ids") +
            ") ORDER BY a.id FOR UPDATE OF a",
            new { ids })).ConfigureAwait(false);
        foreach (var row in locked)
        {
            lockedAllocations.Add(row.Id);
            lockedRows[row.Id] = row;
        }
    }

    public async ValueTask LockImporterAsync(long orgId, string importer, string key)
    {
        Flush();
        var digest = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{importer}\n{key}"));
        var objectKey = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(digest);
        // The two-key form: (organization, importer and key), in a space apart from the one-key locks.
        await connection.ExecuteAsync(Cmd("SELECT pg_advisory_xact_lock(@classKey, @objectKey)", new { classKey = unchecked((int)orgId), objectKey })).ConfigureAwait(false);
    }

    // Organizations and admins
    public long InsertOrganization(string name, string nameKey, long createdNs)
    {
        var id = InsertReturningId("INSERT INTO organizations (name, name_key, created_ns) VALUES (@name, @nameKey, @createdNs)", new { name, nameKey, createdNs });
        Exec(
            "INSERT INTO journal_heads (org_id, hash) VALUES (@id, NULL); INSERT INTO org_usage_sums (org_id, amount_sum, usd_sum) VALUES (@id, 0, 0)",
            new { id });
        return id;
    }

    public OrganizationRow? GetOrganization(long orgId) =>
        One<OrganizationRow>("SELECT id AS Id, name AS Name, created_ns AS CreatedNs FROM organizations WHERE id = @orgId", new { orgId });

    public bool OrganizationNameExists(string nameKey) =>
        One<long?>("SELECT 1::bigint FROM organizations WHERE name_key = @nameKey", new { nameKey }) is not null;

    public IReadOnlyList<OrganizationRow> ListOrganizations() =>
        Many<OrganizationRow>("SELECT id AS Id, name AS Name, created_ns AS CreatedNs FROM organizations ORDER BY id");

    public bool IsOrgAdmin(long orgId, string userId) =>
        One<long?>("SELECT 1::bigint FROM org_admins WHERE org_id = @orgId AND user_id = @userId", new { orgId, userId }) is not null;

    public void AddOrgAdmin(long orgId, string userId) =>
        Exec("INSERT INTO org_admins (org_id, user_id) VALUES (@orgId, @userId) ON CONFLICT DO NOTHING", new { orgId, userId });

    public void RemoveOrgAdmin(long orgId, string userId) =>
        Exec("DELETE FROM org_admins WHERE org_id = @orgId AND user_id = @userId", new { orgId, userId });

    public IReadOnlyList<string> ListOrgAdmins(long orgId) =>
        Many<string>("SELECT user_id FROM org_admins WHERE org_id = @orgId ORDER BY user_id COLLATE \"C\"", new { orgId });

    // Units, SKUs, rules
    private const string UnitColumns = SqliteSession.UnitColumns;

    public long InsertUnit(long orgId, string code, string codeKey, int displayPrecision) =>
        InsertReturningId(
            "INSERT INTO units (org_id, code, code_key, display_precision) VALUES (@orgId, @code, @codeKey, @displayPrecision)",
            new { orgId, code, codeKey, displayPrecision });

    public UnitRow? FindUnit(long orgId, string codeKey) =>
        One<UnitRow>($"SELECT {UnitColumns} FROM units WHERE org_id = @orgId AND code_key = @codeKey", new { orgId, codeKey });

    public UnitRow? GetUnit(long unitId) =>
        One<UnitRow>($"SELECT {UnitColumns} FROM units WHERE id = @unitId", new { unitId });

    public IReadOnlyList<UnitRow> ListUnits(long orgId) =>
        Many<UnitRow>($"SELECT {UnitColumns} FROM units WHERE org_id = @orgId ORDER BY code_key COLLATE \"C\"", new { orgId });

    public long InsertSku(long orgId, string code, string codeKey, long unitId, int basis) =>
        InsertReturningId(
            "INSERT INTO skus (org_id, code, code_key, unit_id, basis) VALUES (@orgId, @code, @codeKey, @unitId, @basis)",
            new { orgId, code, codeKey, unitId, basis });

    private const string SkuColumns = SqliteSession.SkuColumns;

    public SkuRow? FindSku(long orgId, string codeKey) =>
        One<SkuRow>(
            $"SELECT {SkuColumns} FROM skus s JOIN units u ON u.id = s.unit_id WHERE s.org_id = @orgId AND s.code_key = @codeKey",
            new { orgId, codeKey });

    public IReadOnlyList<SkuRow> ListSkus(long orgId) =>
        Many<SkuRow>($"SELECT {SkuColumns} FROM skus s JOIN units u ON u.id = s.unit_id WHERE s.org_id = @orgId ORDER BY s.code_key COLLATE \"C\"", new { orgId });

    public long InsertRule(long? skuId, long? unitId, long fromNs, long? toNs, long rate, long createdNs, string createdBy) =>
        InsertReturningId(
            "INSERT INTO rate_rules (sku_id, unit_id, from_ns, to_ns, rate, created_ns, created_by) " +
            "VALUES (@skuId, @unitId, @fromNs, @toNs, @rate, @createdNs, @createdBy)",
            new { skuId, unitId, fromNs, toNs, rate, createdNs, createdBy });

    public IReadOnlyList<RuleRow> ListSkuRules(long skuId) =>
        Many<RuleRow>("SELECT id AS Id, from_ns AS FromNs, to_ns AS ToNs, rate AS Rate FROM rate_rules WHERE sku_id = @skuId ORDER BY from_ns", new { skuId });

    public IReadOnlyList<RuleRow> ListUnitPrices(long unitId) =>
        Many<RuleRow>("SELECT id AS Id, from_ns AS FromNs, to_ns AS ToNs, rate AS Rate FROM rate_rules WHERE unit_id = @unitId ORDER BY from_ns", new { unitId });

    public void SetRuleEnd(long ruleId, long toNs) =>
        Exec("UPDATE rate_rules SET to_ns = @toNs WHERE id = @ruleId", new { ruleId, toNs });

    public long CatalogueVersion() =>
        One<long?>("SELECT version FROM catalogue_version WHERE id = 1") ?? throw new StoredRowException("catalogue_version", "1", "the row is missing");

    // Allocations
    public long InsertAllocation(long orgId, string name, string nameKey, long unitId, long? parentId, long total, long createdNs, string createdBy)
    {
        var id = InsertReturningId(
            "INSERT INTO allocations (org_id, name, name_key, unit_id, parent_id, total, created_ns, created_by) " +
            "VALUES (@orgId, @name, @nameKey, @unitId, @parentId, @total, @createdNs, @createdBy)",
            new { orgId, name, nameKey, unitId, parentId, total, createdNs, createdBy });
        lockedAllocations.Add(id); // a row this transaction inserted is its own until it commits
        historyDue.Add(id);
        if (write)
        {
            tracked[id] = (orgId, name, total, 0, 0);
        }
        return id;
    }

    public AllocationRow? GetAllocation(long allocationId) =>
        GetAllocations([allocationId]).FirstOrDefault();

    public IReadOnlyList<AllocationRow> GetAllocations(IReadOnlyList<long> allocationIds)
    {
        if (allocationIds.Count == 0)
        {
            return [];
        }
        var ids = allocationIds.ToArray();
        if (!write)
        {
            return Many<AllocationRow>($"SELECT {AllocationColumns} FROM allocations a JOIN units u ON u.id = a.unit_id WHERE a.id = ANY(@ids)", new { ids });
        }
        // In a write: the allocations and their parents, locked in id order (see the class remarks); rows this
        // transaction read under its locks and has not written since are as they were read.
        if (ids.All(id => lockedRows.TryGetValue(id, out var held) && (held.ParentId is not { } parent || lockedAllocations.Contains(parent))))
        {
            var known = new List<AllocationRow>(ids.Length);
            foreach (var id in ids.Distinct().Order())
            {
                var row = lockedRows[id];
                Track(row);
                known.Add(row.Copy());
            }
            return known;
        }
        var rows = Many<AllocationRow>(
            $"SELECT {AllocationColumns} FROM allocations a JOIN units u ON u.id = a.unit_id " +
            "WHERE a.id = ANY(@ids || ARRAY(SELECT p.parent_id FROM allocations p WHERE p.id = ANY(@ids) AND p.parent_id IS NOT NULL)) ORDER BY a.id FOR UPDATE OF a",
            new { ids });
        foreach (var row in rows)
        {
            lockedAllocations.Add(row.Id);
            if (!pendingFigures.ContainsKey(row.Id))
            {
                Track(row); // locked: current until the commit, but for this transaction's own writes, followed from here
                lockedRows[row.Id] = row.Copy();
            }
        }
        var wanted = new HashSet<long>(ids);
        return rows.Where(r => wanted.Contains(r.Id)).ToList();
    }

    public bool AllocationNameExists(long orgId, string nameKey) =>
        One<long?>("SELECT 1::bigint FROM allocations WHERE org_id = @orgId AND name_key = @nameKey", new { orgId, nameKey }) is not null;

    /// <summary>All allocations of an organization, in id order, read by ordinal (the allocation table and listings
    /// read thousands): the unit codes come from one read of the organization's units, not a join per row.</summary>
    public IReadOnlyList<AllocationRow> ListAllocations(long orgId)
    {
        Flush();
        CancellationToken.ThrowIfCancellationRequested();
        var units = new Dictionary<long, string>();
        using (var command = new NpgsqlCommand("SELECT id, code FROM units WHERE org_id = $1", connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = orgId });
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                units[reader.GetInt64(0)] = reader.GetString(1);
            }
        }
        var rows = new List<AllocationRow>();
        using (var command = new NpgsqlCommand(
            "SELECT id, name, unit_id, parent_id, total, own_used, own_estimated, used, estimated, created_ns, period_start_ns, period_end_ns " +
            "FROM allocations WHERE org_id = $1 ORDER BY id",
            connection,
            transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = orgId });
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var unitId = reader.GetInt64(2);
                rows.Add(new AllocationRow
                {
                    Id = reader.GetInt64(0),
                    OrgId = orgId,
                    Name = reader.GetString(1),
                    UnitId = unitId,
                    UnitCode = units.TryGetValue(unitId, out var code) ? code : "",
                    ParentId = reader.IsDBNull(3) ? null : reader.GetInt64(3),
                    Total = reader.GetInt64(4),
                    OwnUsed = reader.GetInt64(5),
                    OwnEstimated = reader.GetInt64(6),
                    Used = reader.GetInt64(7),
                    Estimated = reader.GetInt64(8),
                    CreatedNs = reader.GetInt64(9),
                    PeriodStartNs = reader.IsDBNull(10) ? null : reader.GetInt64(10),
                    PeriodEndNs = reader.IsDBNull(11) ? null : reader.GetInt64(11),
                });
            }
        }
        // A unit of another organization (the schema does not forbid it): its code read on its own.
        foreach (var row in rows)
        {
            if (row.UnitCode.Length == 0 && !units.ContainsKey(row.UnitId))
            {
                units[row.UnitId] = GetUnit(row.UnitId)?.Code ?? throw new StoredRowException("allocations", row.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), $"its unit {row.UnitId} does not exist");
            }
            if (row.UnitCode.Length == 0)
            {
                row.UnitCode = units[row.UnitId];
            }
        }
        return rows;
    }

    public IReadOnlyList<AllocationRow> ListChildren(long parentId) =>
        Many<AllocationRow>($"SELECT {AllocationColumns} FROM allocations a JOIN units u ON u.id = a.unit_id WHERE a.parent_id = @parentId ORDER BY a.id", new { parentId });

    public void SetTotal(long allocationId, long total)
    {
        lockedRows.Remove(allocationId);
        NoteAbsolute(allocationId);
        Exec("UPDATE allocations SET total = @total WHERE id = @allocationId", new { allocationId, total });
        if (tracked.TryGetValue(allocationId, out var current))
        {
            tracked[allocationId] = current with { Total = total };
        }
    }

    // Absolute figures (an allocation's deletion moves its parent's): written now, after the buffered deltas.
    public void SetFigures(long allocationId, long ownUsed, long ownEstimated, long used, long estimated)
    {
        lockedRows.Remove(allocationId);
        NoteAbsolute(allocationId);
        Exec(
            "UPDATE allocations SET own_used = @ownUsed, own_estimated = @ownEstimated, used = @used, estimated = @estimated WHERE id = @allocationId",
            new { allocationId, ownUsed, ownEstimated, used, estimated });
        if (tracked.TryGetValue(allocationId, out var current))
        {
            tracked[allocationId] = current with { Used = used, Estimated = estimated };
        }
    }

    /// <summary>Buffers the deltas, summed per allocation, for the next flush. The writer has checked the sums in memory
    /// against figures read under the row locks, which no other writer can move before the commit; the flush's update
    /// checks them again in exact arithmetic and fails the transaction, naming the allocation, if they do not fit.</summary>
    public bool AddFigures(long allocationId, long ownUsedDelta, long ownEstimatedDelta, long usedDelta, long estimatedDelta)
    {
        lockedRows.Remove(allocationId);
        if (pendingFigures.TryGetValue(allocationId, out var d))
        {
            // Two halves of one delta past the range are added separately by the writer; their sum may not fit a long,
            // so such a pair is sent as it is.
            try
            {
                d = (checked(d.OwnUsed + ownUsedDelta), checked(d.OwnEstimated + ownEstimatedDelta), checked(d.Used + usedDelta), checked(d.Estimated + estimatedDelta));
            }
            catch (OverflowException)
            {
                Flush();
                d = (ownUsedDelta, ownEstimatedDelta, usedDelta, estimatedDelta);
            }
        }
        else
        {
            d = (ownUsedDelta, ownEstimatedDelta, usedDelta, estimatedDelta);
        }
        pendingFigures[allocationId] = d;
        NoteDelta(allocationId, usedDelta, estimatedDelta);
        return true;
    }

    public void DeleteAllocation(long allocationId)
    {
        lockedRows.Remove(allocationId);
        // The allocation's events and their segments first: they hold no foreign key to it (schema version 3).
        Exec(
            "DELETE FROM event_segments WHERE event_id IN (SELECT id FROM usage_events WHERE allocation_id = @allocationId); " +
            "DELETE FROM usage_events WHERE allocation_id = @allocationId; " +
            "DELETE FROM allocations WHERE id = @allocationId",
            new { allocationId });
        tracked.Remove(allocationId);
        changes.Remove(allocationId);
        historyDue.Remove(allocationId);
    }

    public void InsertTotalChange(TotalChangeRow change) =>
        Exec(
            "INSERT INTO total_changes (allocation_id, old_total, new_total, actor, at_ns, reason) " +
            "VALUES (@AllocationId, @OldTotal, @NewTotal, @Actor, @AtNs, @Reason)",
            change);

    public IReadOnlyList<TotalChangeRow> ListTotalChanges(long allocationId) =>
        Many<TotalChangeRow>(
            "SELECT allocation_id AS AllocationId, old_total AS OldTotal, new_total AS NewTotal, actor AS Actor, at_ns AS AtNs, reason AS Reason " +
            "FROM total_changes WHERE allocation_id = @allocationId ORDER BY id",
            new { allocationId });

    // Usage events
    public long InsertEvent(EventRow row)
    {
        // The organization's journal head is locked before its events take ids: so no other writer of the organization
        // takes ids between this transaction's first and last, and the id range a batch entry records holds this
        // transaction's events of the organization alone (other organizations' events may lie between; the digests
        // read one organization's).
        if (!journal.ContainsKey(row.OrgId))
        {
            eventIds.Clear(); // taken before this organization's head was locked: another of its writers may follow them
        }
        var fetch = eventIds.Count == 0;
        LockHead(row.OrgId, fetch ? eventIdBlock : 0);
        if (eventIds.Count == 0)
        {
            foreach (var id in connection.Query<long>(Cmd("SELECT nextval('usage_events_id_seq') FROM generate_series(1, @n)", new { n = eventIdBlock })))
            {
                eventIds.Enqueue(id);
            }
        }
        if (fetch)
        {
            eventIdBlock = Math.Min(MaxIdBlock, eventIdBlock * 4);
        }
        var copy = Copy(row);
        copy.Id = eventIds.Dequeue();
        pendingEvents.Add(copy);
        return copy.Id;
    }

    private static EventRow Copy(EventRow row) => new()
    {
        Id = row.Id,
        OrgId = row.OrgId,
        AllocationId = row.AllocationId,
        SkuId = row.SkuId,
        SkuCode = row.SkuCode,
        Quantity = row.Quantity,
        StartNs = row.StartNs,
        EndNs = row.EndNs,
        Status = row.Status,
        ExternalKey = row.ExternalKey,
        Amount = row.Amount,
        Usd = row.Usd,
        Attributes = row.Attributes,
        RecordedNs = row.RecordedNs,
        RecordedBy = row.RecordedBy,
        Source = row.Source,
        ExpiresNs = row.ExpiresNs,
    };

    public void UpdateEvent(EventRow row) =>
        Exec(
            "UPDATE usage_events SET allocation_id = @AllocationId, sku_id = @SkuId, quantity = @Quantity, start_ns = @StartNs, end_ns = @EndNs, " +
            "status = @Status, amount = @Amount, usd = @Usd, attributes = @Attributes, recorded_ns = @RecordedNs, recorded_by = @RecordedBy, expires_ns = @ExpiresNs WHERE id = @Id",
            row);

    public void InsertSegments(long eventId, IReadOnlyList<SegmentRow> segments)
    {
        for (var i = 0; i < segments.Count; i++)
        {
            pendingSegments.Add((eventId, i, segments[i]));
        }
    }

    public void DeleteSegments(long eventId) =>
        Exec(
            "DELETE FROM event_segments WHERE event_id = @eventId; " +
            "UPDATE usage_events SET seg_rule_id = NULL, seg_rate = NULL WHERE id = @eventId AND seg_rule_id IS NOT NULL",
            new { eventId });

    /// <summary>Inserts the event, its single segment in its own row when it spans the event with its whole amount
    /// (see <see cref="SqliteSession.Inlines"/>), its segments as rows otherwise.</summary>
    public long InsertRatedEvent(EventRow row, IReadOnlyList<SegmentRow> segments)
    {
        var id = InsertEvent(row);
        if (SqliteSession.Inlines(row, segments))
        {
            pendingInline[id] = (segments[0].RuleId, segments[0].Rate);
        }
        else
        {
            InsertSegments(id, segments);
        }
        return id;
    }

    /// <summary>Rewrites the event and its segments in one round trip: the row (with its single segment, or none),
    /// then the segment rows it no longer has, then any new ones with the next flush.</summary>
    public void RewriteRatedEvent(EventRow row, IReadOnlyList<SegmentRow> segments)
    {
        var inline = SqliteSession.Inlines(row, segments) ? segments[0] : null;
        Exec(
            "UPDATE usage_events SET allocation_id = @AllocationId, sku_id = @SkuId, quantity = @Quantity, start_ns = @StartNs, end_ns = @EndNs, " +
            "status = @Status, amount = @Amount, usd = @Usd, attributes = @Attributes, recorded_ns = @RecordedNs, recorded_by = @RecordedBy, expires_ns = @ExpiresNs, " +
            "seg_rule_id = @SegRuleId, seg_rate = @SegRate WHERE id = @Id; " +
            "DELETE FROM event_segments WHERE event_id = @Id",
            new
            {
                row.AllocationId, row.SkuId, row.Quantity, row.StartNs, row.EndNs, row.Status, row.Amount, row.Usd, row.Attributes,
                row.RecordedNs, row.RecordedBy, row.ExpiresNs, SegRuleId = inline?.RuleId, SegRate = inline?.Rate, row.Id,
            });
        if (inline is null)
        {
            InsertSegments(row.Id, segments);
        }
    }

    /// <summary>The segments of events, from their rows (a single segment stored there: the event's interval and amount)
    /// and from event_segments, by event and in order.</summary>
    private const string SegmentsOfEventsSql =
        "SELECT e.id AS EventId, 0 AS Seq, e.start_ns AS StartNs, e.end_ns AS EndNs, e.seg_rule_id AS RuleId, e.seg_rate AS Rate, e.amount AS Amount " +
        "FROM usage_events e WHERE e.id = ANY(@ids) AND e.seg_rule_id IS NOT NULL " +
        "UNION ALL " +
        "SELECT g.event_id, g.seq, g.start_ns, g.end_ns, g.rule_id, g.rate, g.amount FROM event_segments g WHERE g.event_id = ANY(@ids) " +
        "ORDER BY 1, 2";

    public EventRow? GetEvent(long eventId) =>
        One<EventRow>($"SELECT {EventColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id WHERE e.id = @eventId", new { eventId });

    public EventRow? FindEventByKey(long orgId, string source, string externalKey) =>
        One<EventRow>(
            $"SELECT {EventColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id WHERE e.org_id = @orgId AND e.source = @source AND e.external_key = @externalKey",
            new { orgId, source, externalKey });

    public IReadOnlyList<EventRow> FindEventsByKeys(long orgId, string source, IReadOnlyList<string> externalKeys) =>
        externalKeys.Count == 0
            ? []
            // One probe of the key index per key (a lateral lookup, which the planner cannot turn into a scan), whatever
            // the statistics say: with stale ones (a table that grew since its last ANALYZE), "external_key = ANY(keys)"
            // or a plain join with the keys is planned as a filter or a hash over every event of the source, which costs
            // the batch's keys times the source's events.
            : Many<EventRow>(
                $"SELECT {EventColumns} FROM unnest(@keys) AS k(key) CROSS JOIN LATERAL " +
                "(SELECT * FROM usage_events x WHERE x.org_id = @orgId AND x.source = @source AND x.external_key = k.key LIMIT 1) e " +
                "JOIN skus s ON s.id = e.sku_id",
                new { orgId, source, keys = externalKeys.ToArray() });

    public (long Amount, long Usd)? GetOrgUsageSums(long orgId)
    {
        // In a write the row is locked with the organization's journal head (the lock order of every writer): the
        // sums are bounded, moved and written back by one writer at a time.
        if (write)
        {
            var state = LockHead(orgId);
            if (!state.SumsKnown)
            {
                var fresh = Many<(long, long)>("SELECT amount_sum, usd_sum FROM org_usage_sums WHERE org_id = @orgId", new { orgId });
                state.Sums = fresh.Count == 0 ? null : fresh[0];
                state.SumsKnown = true;
            }
            return state.Sums;
        }
        var rows = Many<(long, long)>("SELECT amount_sum, usd_sum FROM org_usage_sums WHERE org_id = @orgId", new { orgId });
        return rows.Count == 0 ? null : rows[0];
    }

    public void AddOrgUsageSums(long orgId, long amountDelta, long usdDelta)
    {
        var d = pendingSums.GetValueOrDefault(orgId);
        // The writer keeps both sums within the amount range, so each delta between two of its states fits.
        pendingSums[orgId] = (checked(d.Amount + amountDelta), checked(d.Usd + usdDelta));
        if (journal.TryGetValue(orgId, out var state) && state.SumsKnown)
        {
            var sums = state.Sums ?? (0, 0);
            state.Sums = (checked(sums.Amount + amountDelta), checked(sums.Usd + usdDelta));
        }
    }

    // SUM over BIGINT is NUMERIC in PostgreSQL, exact at any size: saturated at the largest amount before the cast.
    public void RecountOrgUsageSums(long orgId)
    {
        if (journal.TryGetValue(orgId, out var state))
        {
            state.SumsKnown = false;
        }
        RecountSums(orgId);
    }

    private void RecountSums(long orgId) =>
        Exec( // Exec flushes the buffered deltas first, so the recount replaces them

            "INSERT INTO org_usage_sums (org_id, amount_sum, usd_sum) " +
            "SELECT o.id, LEAST(COALESCE((SELECT SUM(amount) FROM usage_events WHERE org_id = o.id), 0), 9223372036854775807)::bigint, " +
            "LEAST(COALESCE((SELECT SUM(COALESCE(usd, 0)) FROM usage_events WHERE org_id = o.id), 0), 9223372036854775807)::bigint " +
            "FROM organizations o WHERE o.id = @orgId " +
            "ON CONFLICT (org_id) DO UPDATE SET amount_sum = excluded.amount_sum, usd_sum = excluded.usd_sum",
            new { orgId });

    public IReadOnlyList<SegmentRow> ListSegments(long eventId) =>
        Many<SegmentRow>(SegmentsOfEventsSql, new { ids = new[] { eventId } });

    public void DeleteEvent(long eventId) =>
        Exec("DELETE FROM event_segments WHERE event_id = @eventId; DELETE FROM usage_events WHERE id = @eventId", new { eventId });

    public long CountEvents(long allocationId) =>
        One<long>("SELECT COUNT(*) FROM usage_events WHERE allocation_id = @allocationId", new { allocationId });

    // Verification: the cast to BIGINT fails (22003) when a sum is past the range, as SQLite's SUM does.
    public IReadOnlyList<EventSumRow> SumEventsByAllocation(long orgId) =>
        Many<EventSumRow>(
            "SELECT allocation_id AS AllocationId, status AS Status, SUM(amount)::bigint AS Total, COUNT(*) AS Count FROM usage_events " +
            "WHERE org_id = @orgId GROUP BY allocation_id, status",
            new { orgId });

    public IReadOnlyList<(long EventId, long AllocationId, long Amount, long SegmentSum)> FindSegmentMismatches(long orgId) =>
        Many<(long, long, long, long)>(
            "SELECT e.id, e.allocation_id, e.amount, COALESCE((SELECT SUM(g.amount) FROM event_segments g WHERE g.event_id = e.id), 0)::bigint AS segsum " +
            // An event whose single segment is in its own row has that segment's amount by construction.
            "FROM usage_events e WHERE e.org_id = @orgId AND e.seg_rule_id IS NULL AND e.amount <> COALESCE((SELECT SUM(g.amount) FROM event_segments g WHERE g.event_id = e.id), 0)",
            new { orgId });

    // Slurm importer state
    public SlurmStateRow? GetSlurmState(long orgId, string cluster) =>
        One<SlurmStateRow>(
            "SELECT org_id AS OrgId, cluster AS Cluster, watermark_ns AS WatermarkNs, last_run_ns AS LastRunNs, " +
            "lock_owner AS LockOwner, lock_expires_ns AS LockExpiresNs FROM slurm_sync_state WHERE org_id = @orgId AND cluster = @cluster",
            new { orgId, cluster });

    public void PutSlurmState(SlurmStateRow row) =>
        Exec(
            "INSERT INTO slurm_sync_state (org_id, cluster, watermark_ns, last_run_ns, lock_owner, lock_expires_ns) " +
            "VALUES (@OrgId, @Cluster, @WatermarkNs, @LastRunNs, @LockOwner, @LockExpiresNs) " +
            "ON CONFLICT (org_id, cluster) DO UPDATE SET watermark_ns = excluded.watermark_ns, last_run_ns = excluded.last_run_ns, " +
            "lock_owner = excluded.lock_owner, lock_expires_ns = excluded.lock_expires_ns",
            row);

    public IReadOnlyList<(EventRow Row, List<SegmentRow> Segments)> ReadEventsForDigest(long orgId, long firstId, long lastId)
    {
        var events = Many<EventRow>(
            "SELECT id AS Id, org_id AS OrgId, allocation_id AS AllocationId, sku_id AS SkuId, quantity AS Quantity, start_ns AS StartNs, end_ns AS EndNs, " +
            "status AS Status, external_key AS ExternalKey, amount AS Amount, usd AS Usd, attributes AS Attributes, recorded_ns AS RecordedNs, " +
            "recorded_by AS RecordedBy, source AS Source FROM usage_events WHERE id BETWEEN @firstId AND @lastId AND org_id = @orgId ORDER BY id",
            new { orgId, firstId, lastId });
        // The single segments stored in the events' own rows.
        var inline = Many<(long Id, long RuleId, long? Rate)>(
            "SELECT id, seg_rule_id, seg_rate FROM usage_events WHERE id BETWEEN @firstId AND @lastId AND org_id = @orgId AND seg_rule_id IS NOT NULL",
            new { orgId, firstId, lastId }).ToDictionary(r => r.Id, r => (r.RuleId, r.Rate));
        var rows = new List<(EventRow Row, List<SegmentRow> Segments)>(events.Count);
        if (events.Count == 0)
        {
            return rows;
        }
        var byId = new Dictionary<long, List<SegmentRow>>(events.Count);
        foreach (var row in events)
        {
            var segments = new List<SegmentRow>();
            if (inline.TryGetValue(row.Id, out var stored))
            {
                segments.Add(SqliteSession.InlineSegment(row, stored.RuleId, stored.Rate ?? throw new StoredRowException("usage_events", row.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "column seg_rate is null where seg_rule_id is set")));
            }
            byId[row.Id] = segments;
            rows.Add((row, segments));
        }
        foreach (var segment in Stream<SegmentRow>(
            "SELECT g.event_id AS EventId, g.seq AS Seq, g.start_ns AS StartNs, g.end_ns AS EndNs, g.rule_id AS RuleId, g.rate AS Rate, g.amount AS Amount " +
            "FROM event_segments g JOIN usage_events e ON e.id = g.event_id WHERE g.event_id BETWEEN @firstId AND @lastId AND e.org_id = @orgId ORDER BY g.event_id, g.seq",
            new { orgId, firstId, lastId }))
        {
            byId[segment.EventId].Add(segment);
        }
        return rows;
    }

    // PostgreSQL enforces every column's declared type: no stored value can differ from it.
    public IReadOnlyList<StoredRowDamageRow> FindStoredRowDamage(long orgId, string? table = null) => [];

    /// <summary>Sends the buffered writes, as one batch: events, their segments, figures, journal entries and heads.</summary>
    internal void Flush()
    {
        if (pendingEvents.Count == 0 && pendingSegments.Count == 0 && pendingFigures.Count == 0 && pendingSums.Count == 0 && pendingJournal.Count == 0 && pendingParts.Count == 0 && pendingHistory.Count == 0 && !JournalDirty)
        {
            return;
        }
        if (pendingEvents.Count >= CopyThreshold)
        {
            CopyPendingRows();
        }
        using var batch = new NpgsqlBatch(connection, transaction);
        if (pendingEvents.Count > 0)
        {
            var e = pendingEvents;
            var command = new NpgsqlBatchCommand(
                "INSERT INTO usage_events (id, org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by, source, expires_ns, seg_rule_id, seg_rate) " +
                "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::integer[], $9::text[], $10::bigint[], $11::bigint[], $12::text[], $13::bigint[], $14::text[], $15::text[], $16::bigint[], $17::bigint[], $18::bigint[])");
            Add(command, e.Select(r => r.Id).ToArray());
            Add(command, e.Select(r => r.OrgId).ToArray());
            Add(command, e.Select(r => r.AllocationId).ToArray());
            Add(command, e.Select(r => r.SkuId).ToArray());
            Add(command, e.Select(r => r.Quantity).ToArray());
            Add(command, e.Select(r => r.StartNs).ToArray());
            Add(command, e.Select(r => r.EndNs).ToArray());
            Add(command, e.Select(r => r.Status).ToArray());
            Add(command, e.Select(r => r.ExternalKey).ToArray());
            Add(command, e.Select(r => r.Amount).ToArray());
            Add(command, e.Select(r => r.Usd).ToArray());
            Add(command, e.Select(r => r.Attributes).ToArray());
            Add(command, e.Select(r => r.RecordedNs).ToArray());
            Add(command, e.Select(r => r.RecordedBy).ToArray());
            Add(command, e.Select(r => r.Source).ToArray());
            Add(command, e.Select(r => r.ExpiresNs).ToArray());
            Add(command, e.Select(r => pendingInline.TryGetValue(r.Id, out var inline) ? inline.RuleId : (long?)null).ToArray());
            Add(command, e.Select(r => pendingInline.TryGetValue(r.Id, out var inline) ? inline.Rate : (long?)null).ToArray());
            batch.BatchCommands.Add(command);
        }
        if (pendingSegments.Count > 0)
        {
            var s = pendingSegments;
            var command = new NpgsqlBatchCommand(
                "INSERT INTO event_segments (event_id, seq, start_ns, end_ns, rule_id, rate, amount) " +
                "SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])");
            Add(command, s.Select(r => r.EventId).ToArray());
            Add(command, s.Select(r => r.Seq).ToArray());
            Add(command, s.Select(r => r.Segment.StartNs).ToArray());
            Add(command, s.Select(r => r.Segment.EndNs).ToArray());
            Add(command, s.Select(r => r.Segment.RuleId).ToArray());
            Add(command, s.Select(r => r.Segment.Rate).ToArray());
            Add(command, s.Select(r => r.Segment.Amount).ToArray());
            batch.BatchCommands.Add(command);
        }
        NpgsqlBatchCommand? figures = null;
        long[]? figureIds = null;
        if (pendingFigures.Count > 0)
        {
            var f = pendingFigures.OrderBy(p => p.Key).ToList();
            // Deltas, never absolute values: the sums are checked in NUMERIC, so a figure that would leave the 64-bit
            // range leaves the row unchanged (and missing from the returned ids) instead of raising an error.
            figures = new NpgsqlBatchCommand(
                "UPDATE allocations a SET own_used = a.own_used + v.ou, own_estimated = a.own_estimated + v.oe, used = a.used + v.u, estimated = a.estimated + v.e " +
                "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS v(id, ou, oe, u, e) WHERE a.id = v.id " +
                "AND a.own_used::numeric + v.ou BETWEEN -9223372036854775808 AND 9223372036854775807 " +
                "AND a.own_estimated::numeric + v.oe BETWEEN -9223372036854775808 AND 9223372036854775807 " +
                "AND a.used::numeric + v.u BETWEEN -9223372036854775808 AND 9223372036854775807 " +
                "AND a.estimated::numeric + v.e BETWEEN -9223372036854775808 AND 9223372036854775807 " +
                "AND a.used::numeric + v.u + a.estimated + v.e BETWEEN -9223372036854775808 AND 9223372036854775807 RETURNING a.id");
            figureIds = f.Select(p => p.Key).ToArray();
            Add(figures, figureIds);
            Add(figures, f.Select(p => p.Value.OwnUsed).ToArray());
            Add(figures, f.Select(p => p.Value.OwnEstimated).ToArray());
            Add(figures, f.Select(p => p.Value.Used).ToArray());
            Add(figures, f.Select(p => p.Value.Estimated).ToArray());
            batch.BatchCommands.Add(figures);
        }
        if (pendingSums.Count > 0)
        {
            var sums = pendingSums.OrderBy(p => p.Key).ToList();
            var command = new NpgsqlBatchCommand(
                "INSERT INTO org_usage_sums (org_id, amount_sum, usd_sum) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) " +
                "ON CONFLICT (org_id) DO UPDATE SET amount_sum = org_usage_sums.amount_sum + excluded.amount_sum, usd_sum = org_usage_sums.usd_sum + excluded.usd_sum");
            Add(command, sums.Select(p => p.Key).ToArray());
            Add(command, sums.Select(p => p.Value.Amount).ToArray());
            Add(command, sums.Select(p => p.Value.Usd).ToArray());
            batch.BatchCommands.Add(command);
        }
        AddHistoryWrites(batch);
        AddJournalWrites(batch);
        pendingEvents.Clear();
        pendingInline.Clear();
        pendingSegments.Clear();
        pendingFigures.Clear();
        pendingSums.Clear();
        if (figures is null)
        {
            batch.ExecuteNonQuery();
            return;
        }
        var updated = new HashSet<long>();
        using (var reader = batch.ExecuteReader())
        {
            do
            {
                while (reader.Read())
                {
                    updated.Add(reader.GetInt64(0));
                }
            }
            while (reader.NextResult());
        }
        if (figureIds!.FirstOrDefault(id => !updated.Contains(id)) is var missing and not 0)
        {
            throw new Exceptions.InvalidInputException("amount", missing.ToString(System.Globalization.CultureInfo.InvariantCulture), $"the figures of allocation {new Domain.AllocationId(missing)} would exceed the amount range");
        }
    }

    /// <summary>Sends the buffered events and segments by binary COPY (a large batch: the cheapest way in).</summary>
    private void CopyPendingRows()
    {
        using (var copy = connection.BeginBinaryImport(
            "COPY usage_events (id, org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by, source, expires_ns, seg_rule_id, seg_rate) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var e in pendingEvents)
            {
                copy.StartRow();
                copy.Write(e.Id, NpgsqlDbType.Bigint);
                copy.Write(e.OrgId, NpgsqlDbType.Bigint);
                copy.Write(e.AllocationId, NpgsqlDbType.Bigint);
                copy.Write(e.SkuId, NpgsqlDbType.Bigint);
                copy.Write(e.Quantity, NpgsqlDbType.Bigint);
                copy.Write(e.StartNs, NpgsqlDbType.Bigint);
                copy.Write(e.EndNs, NpgsqlDbType.Bigint);
                copy.Write(e.Status, NpgsqlDbType.Integer);
                WriteOrNull(copy, e.ExternalKey);
                copy.Write(e.Amount, NpgsqlDbType.Bigint);
                if (e.Usd is { } usd)
                {
                    copy.Write(usd, NpgsqlDbType.Bigint);
                }
                else
                {
                    copy.WriteNull();
                }
                WriteOrNull(copy, e.Attributes);
                copy.Write(e.RecordedNs, NpgsqlDbType.Bigint);
                copy.Write(e.RecordedBy, NpgsqlDbType.Text);
                copy.Write(e.Source, NpgsqlDbType.Text);
                if (e.ExpiresNs is { } expires)
                {
                    copy.Write(expires, NpgsqlDbType.Bigint);
                }
                else
                {
                    copy.WriteNull();
                }
                if (pendingInline.TryGetValue(e.Id, out var inline))
                {
                    copy.Write(inline.RuleId, NpgsqlDbType.Bigint);
                    copy.Write(inline.Rate, NpgsqlDbType.Bigint);
                }
                else
                {
                    copy.WriteNull();
                    copy.WriteNull();
                }
            }
            copy.Complete();
        }
        pendingEvents.Clear();
        pendingInline.Clear();
        using (var copy = connection.BeginBinaryImport("COPY event_segments (event_id, seq, start_ns, end_ns, rule_id, rate, amount) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var (eventId, seq, segment) in pendingSegments)
            {
                copy.StartRow();
                copy.Write(eventId, NpgsqlDbType.Bigint);
                copy.Write(seq, NpgsqlDbType.Integer);
                copy.Write(segment.StartNs, NpgsqlDbType.Bigint);
                copy.Write(segment.EndNs, NpgsqlDbType.Bigint);
                copy.Write(segment.RuleId, NpgsqlDbType.Bigint);
                copy.Write(segment.Rate, NpgsqlDbType.Bigint);
                copy.Write(segment.Amount, NpgsqlDbType.Bigint);
            }
            copy.Complete();
        }
        pendingSegments.Clear();

        static void WriteOrNull(NpgsqlBinaryImporter copy, string? text)
        {
            if (text is null)
            {
                copy.WriteNull();
            }
            else
            {
                copy.Write(text, NpgsqlDbType.Text);
            }
        }
    }

    private static void Add<T>(NpgsqlBatchCommand command, T value) =>
        command.Parameters.Add(new NpgsqlParameter<T> { TypedValue = value });
}
