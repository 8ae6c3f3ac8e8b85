using System.Text;
using Dapper;
using Npgsql;

namespace Allocations.Storage.Postgres;

/// <summary>Groups, grants, the journal and the reporting queries.</summary>
internal sealed partial class PostgresSession
{
    private const string GrantColumns = SqliteSession.GrantColumns;

    private const string JournalColumns = SqliteSession.JournalColumns;

    private const string MyGroups = SqliteSession.MyGroups;

    /// <summary>Per organization written in this transaction: its locked head, and journal ids taken from the sequence
    /// while holding the head's lock (so that one organization's ids increase in commit order).</summary>
    private readonly Dictionary<long, JournalState> journal = [];
    private readonly List<JournalRow> pendingJournal = [];
    private readonly List<(long AllocationId, long JournalId)> pendingParts = [];

    private sealed class JournalState
    {
        public byte[]? Head { get; set; }

        public bool Dirty { get; set; }

        public Queue<long> Ids { get; } = new();

        public int Block { get; set; } = 4;

        /// <summary>Gets or sets the organization's usage sums as this transaction has them (null: no row).</summary>
        public (long Amount, long Usd)? Sums { get; set; }

        /// <summary>Gets or sets whether <see cref="Sums"/> is known (it is not after a recount, until read again).</summary>
        public bool SumsKnown { get; set; }
    }

    // Groups and members
    public long InsertGroup(long orgId, string name, string nameKey, long createdNs) =>
        InsertReturningId("INSERT INTO groups (org_id, name, name_key, created_ns) VALUES (@orgId, @name, @nameKey, @createdNs)", new { orgId, name, nameKey, createdNs });

    public GroupRow? FindGroup(long orgId, string nameKey) =>
        One<GroupRow>("SELECT id AS Id, org_id AS OrgId, name AS Name FROM groups WHERE org_id = @orgId AND name_key = @nameKey", new { orgId, nameKey });

    public IReadOnlyList<GroupRow> ListGroups(long orgId) =>
        Many<GroupRow>("SELECT id AS Id, org_id AS OrgId, name AS Name FROM groups WHERE org_id = @orgId ORDER BY name_key COLLATE \"C\"", new { orgId });

    public IReadOnlyList<(long GroupId, string UserId)> ListGroupMembers(long orgId) =>
        Many<(long, string)>(
            "SELECT m.group_id, m.user_id FROM group_members m JOIN groups gr ON gr.id = m.group_id WHERE gr.org_id = @orgId ORDER BY m.group_id, m.user_id COLLATE \"C\"",
            new { orgId });

    public bool AddGroupMember(long groupId, string userId) =>
        Exec("INSERT INTO group_members (group_id, user_id) VALUES (@groupId, @userId) ON CONFLICT DO NOTHING", new { groupId, userId }) > 0;

    public bool RemoveGroupMember(long groupId, string userId) =>
        Exec("DELETE FROM group_members WHERE group_id = @groupId AND user_id = @userId", new { groupId, userId }) > 0;

    public void DeleteGroup(long groupId) => Exec("DELETE FROM groups WHERE id = @groupId", new { groupId });

    public IReadOnlyList<long> ListUserGroupIds(long orgId, string userId) =>
        Many<long>(MyGroups + " ORDER BY m.group_id", new { orgId, userId });

    // Grants
    public GrantRow? FindGrant(long allocationId, long? groupId) =>
        One<GrantRow>(
            $"SELECT {GrantColumns} FROM grants g LEFT JOIN groups gr ON gr.id = g.group_id " +
            "WHERE g.allocation_id = @allocationId AND COALESCE(g.group_id, 0) = COALESCE(@groupId::bigint, 0)",
            new { allocationId, groupId });

    public void InsertGrant(long allocationId, long? groupId, int level, long grantedNs, string grantedBy) =>
        Exec(
            "INSERT INTO grants (allocation_id, group_id, level, granted_ns, granted_by) VALUES (@allocationId, @groupId, @level, @grantedNs, @grantedBy)",
            new { allocationId, groupId, level, grantedNs, grantedBy });

    public void UpdateGrant(long grantId, int level, long grantedNs, string grantedBy) =>
        Exec("UPDATE grants SET level = @level, granted_ns = @grantedNs, granted_by = @grantedBy WHERE id = @grantId", new { grantId, level, grantedNs, grantedBy });

    public void DeleteGrant(long grantId) => Exec("DELETE FROM grants WHERE id = @grantId", new { grantId });

    public IReadOnlyList<GrantRow> ListGrants(long allocationId) =>
        Many<GrantRow>(
            $"SELECT {GrantColumns} FROM grants g LEFT JOIN groups gr ON gr.id = g.group_id WHERE g.allocation_id = @allocationId " +
            "ORDER BY g.group_id IS NOT NULL, gr.name_key COLLATE \"C\"",
            new { allocationId });

    public IReadOnlyList<GrantRow> ListGrantsOfGroup(long groupId) =>
        Many<GrantRow>(
            $"SELECT {GrantColumns} FROM grants g LEFT JOIN groups gr ON gr.id = g.group_id WHERE g.group_id = @groupId ORDER BY g.allocation_id",
            new { groupId });

    public IReadOnlyList<GrantFact> ListGrantsOn(IReadOnlyList<long> allocationIds) =>
        allocationIds.Count == 0
            ? []
            : Many<(long, long?, int)>(
                "SELECT allocation_id, group_id, level FROM grants WHERE allocation_id = ANY(@ids)",
                new { ids = allocationIds.ToArray() }).Select(r => new GrantFact(r.Item1, r.Item2, r.Item3)).ToList();

    public IReadOnlyList<GrantFact> ListGrantsHeldBy(long orgId, IReadOnlyList<long> groupIds, bool organizationWide) =>
        groupIds.Count == 0 && !organizationWide
            ? []
            : Many<(long, long?, int)>(
                "SELECT g.allocation_id, g.group_id, g.level FROM grants g JOIN allocations a ON a.id = g.allocation_id WHERE a.org_id = @orgId " +
                "AND (g.group_id = ANY(@groups) OR (g.group_id IS NULL AND @organizationWide))",
                new { orgId, groups = groupIds.ToArray(), organizationWide }).Select(r => new GrantFact(r.Item1, r.Item2, r.Item3)).ToList();

    // Journal
    /// <summary>Locks the organization's head row for the rest of the transaction, once: every writer of the
    /// organization's chain (and of its events' ids and usage sums) holds it from its first such write to its commit.
    /// FOR UPDATE returns the newest committed head, also in a transaction that began before it was committed.</summary>
    private JournalState LockHead(long orgId, int eventIdsWanted = 0)
    {
        if (journal.TryGetValue(orgId, out var state))
        {
            return state;
        }
        Flush();
        // One round trip: the head row created if missing and locked, the usage sums row locked and read, a first block
        // of journal ids and, for the first event, of event ids; all taken while the head is locked.
        using var batch = new NpgsqlBatch(connection, transaction);
        var create = new NpgsqlBatchCommand("INSERT INTO journal_heads (org_id, hash) SELECT $1, NULL WHERE EXISTS (SELECT 1 FROM organizations WHERE id = $1) ON CONFLICT DO NOTHING");
        Add(create, orgId);
        batch.BatchCommands.Add(create);
        var head = new NpgsqlBatchCommand("SELECT hash FROM journal_heads WHERE org_id = $1 FOR UPDATE");
        Add(head, orgId);
        batch.BatchCommands.Add(head);
        var sums = new NpgsqlBatchCommand(write
            ? "SELECT amount_sum, usd_sum FROM org_usage_sums WHERE org_id = $1 FOR UPDATE"
            : "SELECT amount_sum, usd_sum FROM org_usage_sums WHERE org_id = $1");
        Add(sums, orgId);
        batch.BatchCommands.Add(sums);
        state = new JournalState();
        var journalIds = new NpgsqlBatchCommand("SELECT nextval('journal_id_seq') FROM generate_series(1, $1)");
        Add(journalIds, state.Block);
        batch.BatchCommands.Add(journalIds);
        if (eventIdsWanted > 0)
        {
            var events = new NpgsqlBatchCommand("SELECT nextval('usage_events_id_seq') FROM generate_series(1, $1)");
            Add(events, eventIdsWanted);
            batch.BatchCommands.Add(events);
        }
        using (var reader = batch.ExecuteReader())
        {
            if (reader.Read())
            {
                state.Head = reader.IsDBNull(0) ? null : (byte[])reader.GetValue(0);
            }
            reader.NextResult();
            if (reader.Read())
            {
                state.Sums = (reader.GetInt64(0), reader.GetInt64(1));
            }
            state.SumsKnown = true;
            reader.NextResult();
            while (reader.Read())
            {
                state.Ids.Enqueue(reader.GetInt64(0));
            }
            state.Block = Math.Min(MaxIdBlock, state.Block * 4);
            if (eventIdsWanted > 0)
            {
                reader.NextResult();
                while (reader.Read())
                {
                    eventIds.Enqueue(reader.GetInt64(0));
                }
            }
        }
        journal[orgId] = state;
        return state;
    }

    public (long NextId, byte[]? Head) JournalTail(long orgId)
    {
        var state = LockHead(orgId);
        if (state.Ids.Count == 0)
        {
            // Taken while the head is locked: one organization's journal ids increase in commit order.
            foreach (var id in connection.Query<long>(Cmd("SELECT nextval('journal_id_seq') FROM generate_series(1, @n)", new { n = state.Block })))
            {
                state.Ids.Enqueue(id);
            }
            state.Block = Math.Min(MaxIdBlock, state.Block * 4);
        }
        return (state.Ids.Peek(), state.Head);
    }

    public void InsertJournal(JournalRow row)
    {
        if (!journal.TryGetValue(row.OrgId, out var state) || state.Ids.Count == 0 || state.Ids.Peek() != row.Id)
        {
            throw new Exceptions.InternalErrorException(PostgresStorageEngine.Describe(connection), $"journal entry {row.Id} was not the one JournalTail handed out");
        }
        state.Ids.Dequeue();
        state.Head = row.Hash;
        state.Dirty = true;
        pendingJournal.Add(row);
    }

    // The head rows and entries are buffered until the next flush in any case (before the next read and at commit).
    public void DeferJournalHeads()
    {
    }

    public void WriteJournalHeads()
    {
    }

    private bool JournalDirty => journal.Values.Any(s => s.Dirty);

    public void InsertJournalParts(long journalId, IReadOnlyList<long> allocationIds)
    {
        foreach (var allocationId in allocationIds)
        {
            pendingParts.Add((allocationId, journalId));
        }
    }

    public IReadOnlyList<(long JournalId, long AllocationId)> ListJournalParts(long orgId) =>
        Many<(long, long)>(
            "SELECT p.journal_id, p.allocation_id FROM journal_parts p JOIN journal j ON j.id = p.journal_id WHERE j.org_id = @orgId ORDER BY p.journal_id, p.allocation_id",
            new { orgId });

    private void AddJournalWrites(NpgsqlBatch batch)
    {
        if (pendingJournal.Count > 0)
        {
            var j = pendingJournal;
            var command = new NpgsqlBatchCommand();
            command.CommandText =
                "INSERT INTO journal (id, org_id, allocation_id, at_ns, actor, action, target, before, after, prev_hash, hash) " +
                "SELECT v.id, v.org_id, v.allocation_id, v.at_ns, v.actor, v.action, v.target, v.before, v.after, ($10::bytea[])[v.n], ($11::bytea[])[v.n] " +
                "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) " +
                "WITH ORDINALITY AS v(id, org_id, allocation_id, at_ns, actor, action, target, before, after, n)";
            Add(command, j.Select(r => r.Id).ToArray());
            Add(command, j.Select(r => r.OrgId).ToArray());
            Add(command, j.Select(r => r.AllocationId).ToArray());
            Add(command, j.Select(r => r.AtNs).ToArray());
            Add(command, j.Select(r => r.Actor).ToArray());
            Add(command, j.Select(r => r.Action).ToArray());
            Add(command, j.Select(r => r.Target).ToArray());
            Add(command, j.Select(r => r.Before).ToArray());
            Add(command, j.Select(r => r.After).ToArray());
            Add(command, j.Select(r => r.PrevHash).ToArray());
            Add(command, j.Select(r => r.Hash).ToArray());
            batch.BatchCommands.Add(command);
            pendingJournal.Clear();
        }
        if (pendingParts.Count > 0)
        {
            var command = new NpgsqlBatchCommand("INSERT INTO journal_parts (allocation_id, journal_id) SELECT * FROM unnest($1::bigint[], $2::bigint[])");
            Add(command, pendingParts.Select(p => p.AllocationId).ToArray());
            Add(command, pendingParts.Select(p => p.JournalId).ToArray());
            batch.BatchCommands.Add(command);
            pendingParts.Clear();
        }
        foreach (var (orgId, state) in journal)
        {
            if (state.Dirty)
            {
                var command = new NpgsqlBatchCommand("UPDATE journal_heads SET hash = $1 WHERE org_id = $2");
                Add(command, state.Head);
                Add(command, orgId);
                batch.BatchCommands.Add(command);
                state.Dirty = false;
            }
        }
    }

    public IReadOnlyList<JournalRow> ListJournal(long orgId, long? allocationId, long afterId, int limit) =>
        allocationId is { } id
            ? Many<JournalRow>(
                $"SELECT {JournalColumns} FROM journal WHERE org_id = @orgId AND id > @afterId " +
                "AND (allocation_id = @id OR id IN (SELECT journal_id FROM journal_parts WHERE allocation_id = @id AND journal_id > @afterId)) ORDER BY id LIMIT @limit",
                new { orgId, id, afterId, limit })
            : Many<JournalRow>(
                $"SELECT {JournalColumns} FROM journal WHERE org_id = @orgId AND id > @afterId ORDER BY id LIMIT @limit",
                new { orgId, afterId, limit });

    public long JournalLegacyLastSequence() => 0; // every PostgreSQL store writes encoded actors from its first entry

    public void ScanJournal(long orgId, Func<JournalRow, bool> visit, long? beforeId = null)
    {
        var rows = Stream<JournalRow>(
            $"SELECT {JournalColumns} FROM journal WHERE org_id = @orgId AND id < @beforeId ORDER BY id",
            new { orgId, beforeId = beforeId ?? long.MaxValue });
        foreach (var row in rows)
        {
            if (!visit(row))
            {
                return;
            }
        }
    }

    // Reporting
    public IReadOnlyList<EventRow> ListEventPage(long allocationId, EventFilter filter, bool newestFirst, (long StartNs, long Id)? after, int limit)
    {
        var parameters = new DynamicParameters();
        var sql = new StringBuilder($"SELECT {EventColumns} FROM usage_events e JOIN skus s ON s.id = e.sku_id WHERE e.allocation_id = @allocationId");
        parameters.Add("allocationId", allocationId);
        AppendFilter(sql, parameters, filter);
        if (after is { } cursor)
        {
            sql.Append(newestFirst ? " AND (e.start_ns, e.id) < (@afterStart, @afterId)" : " AND (e.start_ns, e.id) > (@afterStart, @afterId)");
            parameters.Add("afterStart", cursor.StartNs);
            parameters.Add("afterId", cursor.Id);
        }
        sql.Append(newestFirst ? " ORDER BY e.start_ns DESC, e.id DESC" : " ORDER BY e.start_ns, e.id");
        sql.Append(" LIMIT @limit");
        parameters.Add("limit", limit);
        return Many<EventRow>(sql.ToString(), parameters);
    }

    public IReadOnlyList<SegmentRow> ListSegmentsOf(IReadOnlyList<long> eventIds) =>
        eventIds.Count == 0
            ? []
            : Many<SegmentRow>(SegmentsOfEventsSql, new { ids = eventIds.ToArray() });

    /// <summary>Streams the segments one span class at a time (see migration 1's <c>ix_usage_events_allocation_span</c>):
    /// with a period start, an event of class c can overlap the period only when it starts after from − 2^(32 + 6c),
    /// so each class's read is a start range bounded on both sides, whatever the history before and after the period.
    /// Each event's segments come together and in order.</summary>
    public IEnumerable<ReportSegmentRow> StreamReportSegments(IReadOnlyList<long> allocationIds, EventFilter filter)
    {
        var ids = allocationIds.ToArray();
        for (var c = 0; c < SqliteSession.SpanClasses; c++)
        {
            var parameters = new DynamicParameters();
            var sql = new StringBuilder(
                "SELECT e.id AS EventId, e.allocation_id AS AllocationId, e.sku_id AS SkuId, s.code AS SkuCode, e.status AS Status, e.start_ns AS EventStartNs, " +
                "e.end_ns AS EventEndNs, e.usd AS Usd, " + (filter.ReadAttributes ? "e.attributes" : "NULL::text") + " AS Attributes, " +
                // A single segment stored in the event's row is the event's interval and amount; other events' segments
                // are rows of event_segments (none are joined for an event whose row holds its segment).
                "COALESCE(g.start_ns, e.start_ns) AS StartNs, COALESCE(g.end_ns, e.end_ns) AS EndNs, COALESCE(g.amount, e.amount) AS Amount " +
                "FROM usage_events e JOIN skus s ON s.id = e.sku_id LEFT JOIN event_segments g ON g.event_id = e.id AND e.seg_rule_id IS NULL " +
                $"WHERE {SqliteSession.SpanClassSql} = @spanClass AND e.allocation_id = ANY(@allocationIds) AND (e.seg_rule_id IS NOT NULL OR g.event_id IS NOT NULL)");
            parameters.Add("spanClass", c);
            parameters.Add("allocationIds", ids);
            if (filter.FromNs is { } from && c < SqliteSession.SpanClasses - 1)
            {
                sql.Append(" AND e.start_ns > @spanFromNs");
                parameters.Add("spanFromNs", from - SqliteSession.SpanClassLimit(c));
            }
            AppendFilter(sql, parameters, filter);
            sql.Append(" ORDER BY e.allocation_id, e.start_ns, e.end_ns, e.id, COALESCE(g.seq, 0)");
            foreach (var row in Stream<ReportSegmentRow>(sql.ToString(), parameters))
            {
                yield return row;
            }
        }
    }

    private static void AppendFilter(StringBuilder sql, DynamicParameters parameters, EventFilter filter) =>
        SqliteSession.AppendFilter(sql, parameters, filter, static (sql, parameters, i, key, value) =>
        {
            var k = "attrKey" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var v = "attrValue" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            // A JSONB lookup by key: the attribute must be a JSON string equal to the value.
            sql.Append(" AND (e.attributes::jsonb -> @").Append(k).Append("::text) = to_jsonb(@").Append(v).Append("::text)");
            parameters.Add(k, key);
            parameters.Add(v, value);
        });
}
