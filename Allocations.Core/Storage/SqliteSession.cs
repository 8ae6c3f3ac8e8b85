using Dapper;
using Microsoft.Data.Sqlite;

namespace Allocations.Storage;

/// <summary>One SQLite transaction. Every statement passes the transaction and takes its values as parameters.</summary>
internal sealed partial class SqliteSession : IStorageSession, IDisposable
{
    internal const string AllocationColumns =
        "a.id AS Id, a.org_id AS OrgId, a.name AS Name, a.unit_id AS UnitId, u.code AS UnitCode, a.parent_id AS ParentId, " +
        "a.total AS Total, a.own_used AS OwnUsed, a.own_estimated AS OwnEstimated, a.used AS Used, a.estimated AS Estimated, " +
        "a.created_ns AS CreatedNs, a.period_start_ns AS PeriodStartNs, a.period_end_ns AS PeriodEndNs";

    internal const string EventColumns =
        "e.id AS Id, e.org_id AS OrgId, e.allocation_id AS AllocationId, e.sku_id AS SkuId, s.code AS SkuCode, " +
        "e.quantity AS Quantity, e.start_ns AS StartNs, e.end_ns AS EndNs, e.status AS Status, e.external_key AS ExternalKey, " +
        "e.amount AS Amount, e.usd AS Usd, e.attributes AS Attributes, e.recorded_ns AS RecordedNs, e.recorded_by AS RecordedBy, e.source AS Source, " +
        "e.expires_ns AS ExpiresNs";

    private readonly SqliteConnection connection;
    private readonly SqliteTransaction transaction;

    /// <summary>The rows this connection had changed when the transaction began (see ReadAllocationList).</summary>
    private readonly int changesAtStart;
    private SqliteCommand? insertEvent;
    private long nextEventId;
    private SqliteCommand? insertSegment;
    private List<Action>? committed;

    internal SqliteSession(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        this.connection = connection;
        this.transaction = transaction;
        CancellationToken = cancellationToken;
        changesAtStart = SQLitePCL.raw.sqlite3_total_changes(connection.Handle);
    }

    public CancellationToken CancellationToken { get; private set; }

    internal SqliteConnection Connection => connection;

    /// <summary>Registers work to run once this transaction has committed (at once after a read): a call that rolls
    /// back (alone, to its savepoint, or with its transaction) never runs it.</summary>
    public void OnCommitted(Action action) => (committed ??= []).Add(action);

    /// <summary>Takes the actions the current call registered with <see cref="OnCommitted"/>.</summary>
    internal List<Action>? TakeCommitted()
    {
        var actions = committed;
        committed = null;
        return actions;
    }

    /// <summary>Starts the next call of a group on this transaction: its statements observe its token.</summary>
    internal void BeginCall(CancellationToken cancellationToken)
    {
        CancellationToken = cancellationToken;
        committed = null;
    }

    /// <summary>Ends a call of a group that succeeded: what it deferred to the end of its work (the journal's head
    /// rows) is written now, inside its savepoint, so that a later call's rollback cannot take it along.</summary>
    internal void EndCall()
    {
        if (deferJournalHeads || dirtyHeads.Count > 0)
        {
            WriteJournalHeads();
        }
    }

    /// <summary>Forgets everything this transaction remembers of its own state after a call rolled back to its
    /// savepoint: the next event id, the journal's next sequence and heads with any head write still deferred, the
    /// org-admin answers, and what the call registered to run after the commit. The next call reads them afresh
    /// from the database, where the savepoint's rollback has undone the call's writes.</summary>
    internal void ForgetRolledBackCall()
    {
        committed = null;
        nextEventId = 0;
        journalNextId = 0;
        journalHeads.Clear();
        dirtyHeads.Clear();
        deferJournalHeads = false;
        orgAdminMemo.Clear();
        figureChanges.Clear();
        figuresChanged.Clear();
        storedSegments.Clear();
    }

    internal SqliteTransaction Transaction => transaction;

    private CommandDefinition Cmd(string sql, object? parameters = null) =>
        new(sql, parameters, transaction, cancellationToken: CancellationToken);

    // Reads go through StoredRows, which checks each stored value's type before Dapper maps the row.
    private T? One<T>(string sql, object? parameters = null) => StoredRows.Single<T>(connection, transaction, sql, parameters, CancellationToken);

    private IReadOnlyList<T> Many<T>(string sql, object? parameters = null) => StoredRows.Query<T>(connection, transaction, sql, parameters, CancellationToken);

    private IEnumerable<T> Stream<T>(string sql, object? parameters = null) => StoredRows.Stream<T>(connection, transaction, sql, parameters, CancellationToken);

    private int Exec(string sql, object? parameters = null) => connection.Execute(Cmd(sql, parameters));

    private long InsertReturningId(string sql, object parameters) =>
        connection.ExecuteScalar<long>(Cmd(sql + " RETURNING id", parameters));

    // Organizations and admins
    public long InsertOrganization(string name, string nameKey, long createdNs) =>
        InsertReturningId("INSERT INTO organizations (name, name_key, created_ns) VALUES (@name, @nameKey, @createdNs)", new { name, nameKey, createdNs });

    public OrganizationRow? GetOrganization(long orgId) =>
        One<OrganizationRow>("SELECT id AS Id, name AS Name, created_ns AS CreatedNs FROM organizations WHERE id = @orgId", new { orgId });

    public bool OrganizationNameExists(string nameKey) =>
        One<long?>("SELECT 1 FROM organizations WHERE name_key = @nameKey", new { nameKey }) is not null;

    public IReadOnlyList<OrganizationRow> ListOrganizations() =>
        Many<OrganizationRow>("SELECT id AS Id, name AS Name, created_ns AS CreatedNs FROM organizations ORDER BY id");

    public bool IsOrgAdmin(long orgId, string userId) => MemoIsOrgAdmin(orgId, userId);

    public void AddOrgAdmin(long orgId, string userId) =>
        ForgetOrgAdmins().Exec("INSERT OR IGNORE INTO org_admins (org_id, user_id) VALUES (@orgId, @userId)", new { orgId, userId });

    public void RemoveOrgAdmin(long orgId, string userId) =>
        ForgetOrgAdmins().Exec("DELETE FROM org_admins WHERE org_id = @orgId AND user_id = @userId", new { orgId, userId });

    public IReadOnlyList<string> ListOrgAdmins(long orgId) =>
        Many<string>("SELECT user_id FROM org_admins WHERE org_id = @orgId ORDER BY user_id", new { orgId });

    // Units, SKUs, rules
    public long InsertUnit(long orgId, string code, string codeKey, int displayPrecision) =>
        InsertReturningId(
            "INSERT INTO units (org_id, code, code_key, display_precision) VALUES (@orgId, @code, @codeKey, @displayPrecision)",
            new { orgId, code, codeKey, displayPrecision });

    internal const string UnitColumns = "id AS Id, org_id AS OrgId, code AS Code, display_precision AS DisplayPrecision";

    public UnitRow? FindUnit(long orgId, string codeKey) =>
        One<UnitRow>($"SELECT {UnitColumns} FROM units WHERE org_id = @orgId AND code_key = @codeKey", new { orgId, codeKey });

    public UnitRow? GetUnit(long unitId) =>
        One<UnitRow>($"SELECT {UnitColumns} FROM units WHERE id = @unitId", new { unitId });

    public IReadOnlyList<UnitRow> ListUnits(long orgId) =>
        Many<UnitRow>($"SELECT {UnitColumns} FROM units WHERE org_id = @orgId ORDER BY code_key", new { orgId });

    public long InsertSku(long orgId, string code, string codeKey, long unitId, int basis) =>
        InsertReturningId(
            "INSERT INTO skus (org_id, code, code_key, unit_id, basis) VALUES (@orgId, @code, @codeKey, @unitId, @basis)",
            new { orgId, code, codeKey, unitId, basis });

    internal const string SkuColumns =
        "s.id AS Id, s.org_id AS OrgId, s.code AS Code, s.unit_id AS UnitId, u.code AS UnitCode, s.basis AS Basis";

    public SkuRow? FindSku(long orgId, string codeKey) =>
        One<SkuRow>(
            $"SELECT {SkuColumns} FROM skus s JOIN units u ON u.id = s.unit_id WHERE s.org_id = @orgId AND s.code_key = @codeKey",
            new { orgId, codeKey });

    public IReadOnlyList<SkuRow> ListSkus(long orgId) =>
        Many<SkuRow>($"SELECT {SkuColumns} FROM skus s JOIN units u ON u.id = s.unit_id WHERE s.org_id = @orgId ORDER BY s.code_key", new { orgId });

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

    // Allocations
    public long InsertAllocation(long orgId, string name, string nameKey, long unitId, long? parentId, long total, long createdNs, string createdBy)
    {
        var id = InsertReturningId(
            "INSERT INTO allocations (org_id, name, name_key, unit_id, parent_id, total, created_ns, created_by) " +
            "VALUES (@orgId, @name, @nameKey, @unitId, @parentId, @total, @createdNs, @createdBy)",
            new { orgId, name, nameKey, unitId, parentId, total, createdNs, createdBy });
        FiguresTouched(id);
        return id;
    }

    public AllocationRow? GetAllocation(long allocationId) => ReadAllocation(allocationId);

    public bool AllocationNameExists(long orgId, string nameKey) =>
        One<long?>("SELECT 1 FROM allocations WHERE org_id = @orgId AND name_key = @nameKey", new { orgId, nameKey }) is not null;

    public IReadOnlyList<AllocationRow> ListAllocations(long orgId) => ReadAllocationList(orgId);

    public IReadOnlyList<AllocationRow> ListChildren(long parentId) =>
        Many<AllocationRow>($"SELECT {AllocationColumns} FROM allocations a JOIN units u ON u.id = a.unit_id WHERE a.parent_id = @parentId ORDER BY a.id", new { parentId });

    public void SetTotal(long allocationId, long total)
    {
        NoteFiguresBefore(allocationId);
        Exec("UPDATE allocations SET total = @total WHERE id = @allocationId", new { allocationId, total });
        NoteFiguresSet(allocationId, total: total);
        FiguresTouched(allocationId);
    }

    public void SetFigures(long allocationId, long ownUsed, long ownEstimated, long used, long estimated)
    {
        NoteFiguresBefore(allocationId);
        SetFiguresPrepared(allocationId, ownUsed, ownEstimated, used, estimated);
        NoteFiguresSet(allocationId, used: used, estimated: estimated);
        FiguresTouched(allocationId);
    }

    public void DeleteAllocation(long allocationId)
    {
        Exec("DELETE FROM allocations WHERE id = @allocationId", new { allocationId });
        ForgetFigureChanges(allocationId);
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

    // Usage events: the two inserts on the recording hot path reuse prepared commands for the whole transaction.
    public long InsertEvent(EventRow row) => InsertEventRow(row, inline: null);

    /// <summary>Inserts the event row, with <paramref name="inline"/> as its single segment in the row's own columns
    /// when given (see <see cref="Inlines"/>).</summary>
    private long InsertEventRow(EventRow row, SegmentRow? inline)
    {
        // Ids are assigned here: the transaction reads the next id once (past every id ever handed out, as
        // AUTOINCREMENT guarantees) and counts on, so the events of one transaction get consecutive ids and the
        // INSERT needs no RETURNING.
        if (nextEventId == 0)
        {
            nextEventId = Run(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'usage_events'), 0), COALESCE((SELECT MAX(id) FROM usage_events), 0)) + 1",
                [],
                [],
                command => (long)command.ExecuteScalar()!);
        }
        if (insertEvent is null)
        {
            insertEvent = Prepare(
                "INSERT INTO usage_events (id, org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, external_key, amount, usd, attributes, recorded_ns, recorded_by, source, seg_rule_id, seg_rate, expires_ns) " +
                "VALUES ($id, $org, $alloc, $sku, $qty, $start, $end, $status, $key, $amount, $usd, $attrs, $recNs, $recBy, $src, $segRule, $segRate, $expires)",
                "$id", "$org", "$alloc", "$sku", "$qty", "$start", "$end", "$status", "$key", "$amount", "$usd", "$attrs", "$recNs", "$recBy", "$src", "$segRule", "$segRate", "$expires");
        }
        var id = nextEventId;
        var p = insertEvent.Parameters;
        p[0].Value = id;
        p[1].Value = row.OrgId;
        p[2].Value = row.AllocationId;
        p[3].Value = row.SkuId;
        p[4].Value = row.Quantity;
        p[5].Value = row.StartNs;
        p[6].Value = row.EndNs;
        p[7].Value = row.Status;
        p[8].Value = (object?)row.ExternalKey ?? DBNull.Value;
        p[9].Value = row.Amount;
        p[10].Value = (object?)row.Usd ?? DBNull.Value;
        p[11].Value = (object?)row.Attributes ?? DBNull.Value;
        p[12].Value = row.RecordedNs;
        p[13].Value = row.RecordedBy;
        p[14].Value = row.Source;
        p[15].Value = inline is null ? DBNull.Value : inline.RuleId;
        p[16].Value = inline is null ? DBNull.Value : inline.Rate;
        p[17].Value = (object?)row.ExpiresNs ?? DBNull.Value;
        insertEvent.ExecuteNonQuery();
        nextEventId = id + 1;
        return id;
    }

    public void UpdateEvent(EventRow row) =>
        ForgetSegmentForm(row.Id).Run(
            "UPDATE usage_events SET allocation_id = $alloc, sku_id = $sku, quantity = $qty, start_ns = $start, end_ns = $end, " +
            "status = $status, amount = $amount, usd = $usd, attributes = $attrs, recorded_ns = $recNs, recorded_by = $recBy, expires_ns = $expires WHERE id = $id",
            ["$alloc", "$sku", "$qty", "$start", "$end", "$status", "$amount", "$usd", "$attrs", "$recNs", "$recBy", "$expires", "$id"],
            [row.AllocationId, row.SkuId, row.Quantity, row.StartNs, row.EndNs, row.Status, row.Amount, (object?)row.Usd ?? DBNull.Value,
                (object?)row.Attributes ?? DBNull.Value, row.RecordedNs, row.RecordedBy, (object?)row.ExpiresNs ?? DBNull.Value, row.Id],
            command => command.ExecuteNonQuery());

    public void InsertSegments(long eventId, IReadOnlyList<SegmentRow> segments)
    {
        storedSegments.Remove(eventId);
        if (insertSegment is null)
        {
            insertSegment = Prepare(
                "INSERT INTO event_segments (event_id, seq, start_ns, end_ns, rule_id, rate, amount) VALUES ($e, $seq, $s, $t, $rule, $rate, $amount)",
                "$e", "$seq", "$s", "$t", "$rule", "$rate", "$amount");
        }
        var p = insertSegment.Parameters;
        for (var i = 0; i < segments.Count; i++)
        {
            var s = segments[i];
            p[0].Value = eventId;
            p[1].Value = i;
            p[2].Value = s.StartNs;
            p[3].Value = s.EndNs;
            p[4].Value = s.RuleId;
            p[5].Value = s.Rate;
            p[6].Value = s.Amount;
            insertSegment.ExecuteNonQuery();
        }
    }

    public void DeleteSegments(long eventId)
    {
        storedSegments[eventId] = null; // none in the row, none in event_segments
        Run("DELETE FROM event_segments WHERE event_id = $e", ["$e"], [eventId], command => command.ExecuteNonQuery());
        Run("UPDATE usage_events SET seg_rule_id = NULL, seg_rate = NULL WHERE id = $e AND seg_rule_id IS NOT NULL", ["$e"], [eventId], command => command.ExecuteNonQuery());
    }

    public EventRow? GetEvent(long eventId) =>
        Run(
            $"SELECT {EventColumns}{SegmentFormColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id WHERE e.id = $id",
            ["$id"],
            [eventId],
            command =>
            {
                using var reader = command.ExecuteReader();
                return reader.Read() ? MapEvent(reader, new StoredRows.RowCheck()) : null;
            });

    public EventRow? FindEventByKey(long orgId, string source, string externalKey) => ReadEventByKey(orgId, source, externalKey);

    public (long Amount, long Usd)? GetOrgUsageSums(long orgId) =>
        Run(
            "SELECT amount_sum, usd_sum FROM org_usage_sums WHERE org_id = $org",
            ["$org"],
            [orgId],
            command =>
            {
                using var reader = command.ExecuteReader();
                return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : ((long, long)?)null;
            });

    public void AddOrgUsageSums(long orgId, long amountDelta, long usdDelta) =>
        Run(
            "INSERT INTO org_usage_sums (org_id, amount_sum, usd_sum) VALUES ($org, $amount, $usd) " +
            "ON CONFLICT (org_id) DO UPDATE SET amount_sum = amount_sum + excluded.amount_sum, usd_sum = usd_sum + excluded.usd_sum",
            ["$org", "$amount", "$usd"],
            [orgId, amountDelta, usdDelta],
            command => command.ExecuteNonQuery());

    // The sums are taken in two 32-bit halves, which cannot overflow for fewer than 2^31 events, then joined, or
    // saturated at the largest integer when the whole does not fit (the same statement as migration 0007).
    public void RecountOrgUsageSums(long orgId) =>
        Exec(
            "INSERT INTO org_usage_sums (org_id, amount_sum, usd_sum) " +
            "SELECT o.id, " +
            "CASE WHEN COALESCE(h.ahi, 0) + (COALESCE(h.alo, 0) >> 32) >= 2147483648 THEN 9223372036854775807 " +
            "ELSE (COALESCE(h.ahi, 0) + (COALESCE(h.alo, 0) >> 32)) * 4294967296 + (COALESCE(h.alo, 0) & 4294967295) END, " +
            "CASE WHEN COALESCE(h.uhi, 0) + (COALESCE(h.ulo, 0) >> 32) >= 2147483648 THEN 9223372036854775807 " +
            "ELSE (COALESCE(h.uhi, 0) + (COALESCE(h.ulo, 0) >> 32)) * 4294967296 + (COALESCE(h.ulo, 0) & 4294967295) END " +
            "FROM organizations o LEFT JOIN (SELECT org_id, SUM(amount >> 32) AS ahi, SUM(amount & 4294967295) AS alo, " +
            "SUM(COALESCE(usd, 0) >> 32) AS uhi, SUM(COALESCE(usd, 0) & 4294967295) AS ulo FROM usage_events WHERE org_id = @orgId GROUP BY org_id) h " +
            "ON h.org_id = o.id WHERE o.id = @orgId " +
            "ON CONFLICT (org_id) DO UPDATE SET amount_sum = excluded.amount_sum, usd_sum = excluded.usd_sum",
            new { orgId });

    public IReadOnlyList<SegmentRow> ListSegments(long eventId)
    {
        if (storedSegments.TryGetValue(eventId, out var known))
        {
            return known is null ? ReadSegmentRows(eventId) : [Copy(known)];
        }
        return ReadInlineSegment(eventId) is { } inline ? [inline] : ReadSegmentRows(eventId);
    }

    private List<SegmentRow> ReadSegmentRows(long eventId) =>
        Run(
            "SELECT event_id, seq, start_ns, end_ns, rule_id, rate, amount FROM event_segments WHERE event_id = $e ORDER BY seq",
            ["$e"],
            [eventId],
            command =>
            {
                using var reader = command.ExecuteReader();
                var segments = new List<SegmentRow>();
                var check = new StoredRows.RowCheck();
                while (reader.Read())
                {
                    segments.Add(check.Map(reader, ToSegmentRow));
                }
                return segments;
            });

    public void DeleteEvent(long eventId)
    {
        storedSegments.Remove(eventId);
        Run("DELETE FROM usage_events WHERE id = $id", ["$id"], [eventId], command => command.ExecuteNonQuery());
    }

    public long CountEvents(long allocationId) =>
        One<long>("SELECT COUNT(*) FROM usage_events WHERE allocation_id = @allocationId", new { allocationId });

    // Verification: SUM over INTEGER raises an error on overflow rather than wrapping.
    public IReadOnlyList<EventSumRow> SumEventsByAllocation(long orgId) =>
        Many<EventSumRow>(
            "SELECT allocation_id AS AllocationId, status AS Status, SUM(amount) AS Total, COUNT(*) AS Count FROM usage_events " +
            "WHERE org_id = @orgId GROUP BY allocation_id, status",
            new { orgId });

    // An event whose single segment is stored in its own row (seg_rule_id set) has that segment's amount by
    // construction; an edit of its amount is one of the figures check finds.
    public IReadOnlyList<(long EventId, long AllocationId, long Amount, long SegmentSum)> FindSegmentMismatches(long orgId) =>
        Many<(long, long, long, long)>(
            "SELECT e.id, e.allocation_id, e.amount, COALESCE((SELECT SUM(g.amount) FROM event_segments g WHERE g.event_id = e.id), 0) AS segsum " +
            "FROM usage_events e WHERE e.org_id = @orgId AND e.seg_rule_id IS NULL AND e.amount <> COALESCE((SELECT SUM(g.amount) FROM event_segments g WHERE g.event_id = e.id), 0)",
            new { orgId });

    private SqliteCommand Prepare(string sql, params string[] names)
    {
        if (Statements is { } cache)
        {
            return cache.Get(sql, transaction, names);
        }
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in names)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        command.Prepare();
        return command;
    }

    public void Dispose()
    {
        if (Statements is not null)
        {
            return; // the commands belong to the cache, which outlives this transaction
        }
        insertEvent?.Dispose();
        insertSegment?.Dispose();
        insertJournal?.Dispose();
        setFigures?.Dispose();
    }
}
