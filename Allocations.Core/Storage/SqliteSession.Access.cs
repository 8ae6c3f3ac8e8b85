using Dapper;
using Microsoft.Data.Sqlite;

namespace Allocations.Storage;

/// <summary>Groups, grants and the journal.</summary>
internal sealed partial class SqliteSession
{
    internal const string GrantColumns =
        "g.id AS Id, g.allocation_id AS AllocationId, g.group_id AS GroupId, gr.name AS GroupName, g.level AS Level, " +
        "g.granted_ns AS GrantedNs, g.granted_by AS GrantedBy";

    internal const string JournalColumns =
        "id AS Id, org_id AS OrgId, allocation_id AS AllocationId, at_ns AS AtNs, actor AS Actor, action AS Action, " +
        "target AS Target, before AS Before, after AS After, prev_hash AS PrevHash, hash AS Hash";

    // The user's groups in one organization; organization-wide grants apply to members of any of them.
    internal const string MyGroups =
        "SELECT m.group_id FROM group_members m JOIN groups gr ON gr.id = m.group_id WHERE m.user_id = @userId AND gr.org_id = @orgId";

    private readonly Dictionary<long, byte[]?> journalHeads = [];
    private long journalNextId;
    private readonly Dictionary<long, long> dirtyHeads = [];
    private bool deferJournalHeads;
    private SqliteCommand? insertJournal;

    // Groups and members
    public long InsertGroup(long orgId, string name, string nameKey, long createdNs) =>
        InsertReturningId("INSERT INTO groups (org_id, name, name_key, created_ns) VALUES (@orgId, @name, @nameKey, @createdNs)", new { orgId, name, nameKey, createdNs });

    public GroupRow? FindGroup(long orgId, string nameKey) =>
        One<GroupRow>("SELECT id AS Id, org_id AS OrgId, name AS Name FROM groups WHERE org_id = @orgId AND name_key = @nameKey", new { orgId, nameKey });

    public IReadOnlyList<GroupRow> ListGroups(long orgId) =>
        Many<GroupRow>("SELECT id AS Id, org_id AS OrgId, name AS Name FROM groups WHERE org_id = @orgId ORDER BY name_key", new { orgId });

    public IReadOnlyList<(long GroupId, string UserId)> ListGroupMembers(long orgId) =>
        Many<(long, string)>(
            "SELECT m.group_id, m.user_id FROM group_members m JOIN groups gr ON gr.id = m.group_id WHERE gr.org_id = @orgId ORDER BY m.group_id, m.user_id",
            new { orgId });

    public bool AddGroupMember(long groupId, string userId) =>
        Exec("INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (@groupId, @userId)", new { groupId, userId }) > 0;

    public bool RemoveGroupMember(long groupId, string userId) =>
        Exec("DELETE FROM group_members WHERE group_id = @groupId AND user_id = @userId", new { groupId, userId }) > 0;

    public void DeleteGroup(long groupId) => Exec("DELETE FROM groups WHERE id = @groupId", new { groupId });

    public IReadOnlyList<long> ListUserGroupIds(long orgId, string userId) =>
        Many<long>(MyGroups + " ORDER BY m.group_id", new { orgId, userId });

    // Grants
    public GrantRow? FindGrant(long allocationId, long? groupId) =>
        One<GrantRow>(
            $"SELECT {GrantColumns} FROM grants g LEFT JOIN groups gr ON gr.id = g.group_id " +
            "WHERE g.allocation_id = @allocationId AND COALESCE(g.group_id, 0) = COALESCE(@groupId, 0)",
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
            "ORDER BY g.group_id IS NOT NULL, gr.name_key",
            new { allocationId });

    public IReadOnlyList<GrantRow> ListGrantsOfGroup(long groupId) =>
        Many<GrantRow>(
            $"SELECT {GrantColumns} FROM grants g LEFT JOIN groups gr ON gr.id = g.group_id WHERE g.group_id = @groupId ORDER BY g.allocation_id",
            new { groupId });

    public IReadOnlyList<GrantFact> ListGrantsOn(IReadOnlyList<long> allocationIds) =>
        allocationIds.Count == 0
            ? []
            : Many<(long, long?, int)>(
                "SELECT allocation_id, group_id, level FROM grants WHERE allocation_id IN (SELECT value FROM json_each(@ids))",
                new { ids = System.Text.Json.JsonSerializer.Serialize(allocationIds) }).Select(r => new GrantFact(r.Item1, r.Item2, r.Item3)).ToList();

    public IReadOnlyList<GrantFact> ListGrantsHeldBy(long orgId, IReadOnlyList<long> groupIds, bool organizationWide) =>
        groupIds.Count == 0 && !organizationWide
            ? []
            : Many<(long, long?, int)>(
                "SELECT g.allocation_id, g.group_id, g.level FROM grants g JOIN allocations a ON a.id = g.allocation_id WHERE a.org_id = @orgId " +
                "AND (g.group_id IN (SELECT value FROM json_each(@groups)) OR (g.group_id IS NULL AND @organizationWide))",
                new { orgId, groups = System.Text.Json.JsonSerializer.Serialize(groupIds), organizationWide }).Select(r => new GrantFact(r.Item1, r.Item2, r.Item3)).ToList();

    // Journal: the next sequence (journal_sequence) and each organization's head (journal_heads) are read once per
    // transaction, followed in memory, and advanced in the same transaction by every append; writes are serialized
    // by the write lock, which a server engine replaces by locking these rows (SELECT ... FOR UPDATE).
    public (long NextId, byte[]? Head) JournalTail(long orgId)
    {
        if (journalNextId == 0)
        {
            journalNextId = Run(
                "SELECT next_sequence FROM journal_sequence WHERE id = 1",
                [],
                [],
                command =>
                {
                    using var reader = command.ExecuteReader();
                    return reader.Read() ? StoredRows.Map(reader, r => r.GetInt64(0)) : throw new StoredRowException("journal_sequence", "1", "the row is missing");
                });
        }
        if (!journalHeads.TryGetValue(orgId, out var head))
        {
            head = Run(
                "SELECT head_hash FROM journal_heads WHERE org_id = $org",
                ["$org"],
                [orgId],
                command =>
                {
                    using var reader = command.ExecuteReader();
                    return reader.Read() ? StoredRows.Map(reader, r => (byte[])r.GetValue(0)) : null;
                });
            journalHeads[orgId] = head;
        }
        return (journalNextId, head);
    }

    public void InsertJournal(JournalRow row)
    {
        if (insertJournal is null)
        {
            insertJournal = Prepare(
                "INSERT INTO journal (id, org_id, allocation_id, at_ns, actor, action, target, before, after, prev_hash, hash) " +
                "VALUES ($id, $org, $alloc, $at, $actor, $action, $target, $before, $after, $prev, $hash)",
                "$id", "$org", "$alloc", "$at", "$actor", "$action", "$target", "$before", "$after", "$prev", "$hash");
        }
        var p = insertJournal.Parameters;
        p[0].Value = row.Id;
        p[1].Value = row.OrgId;
        p[2].Value = (object?)row.AllocationId ?? DBNull.Value;
        p[3].Value = row.AtNs;
        p[4].Value = row.Actor;
        p[5].Value = row.Action;
        p[6].Value = row.Target;
        p[7].Value = (object?)row.Before ?? DBNull.Value;
        p[8].Value = (object?)row.After ?? DBNull.Value;
        p[9].Value = row.PrevHash;
        p[10].Value = row.Hash;
        insertJournal.ExecuteNonQuery();
        journalNextId = row.Id + 1;
        journalHeads[row.OrgId] = row.Hash;
        dirtyHeads[row.OrgId] = row.Id;
        if (!deferJournalHeads)
        {
            WriteJournalHeads();
        }
    }

    public void DeferJournalHeads() => deferJournalHeads = true;

    public void WriteJournalHeads()
    {
        deferJournalHeads = false;
        if (dirtyHeads.Count == 0)
        {
            return;
        }
        foreach (var (orgId, lastId) in dirtyHeads)
        {
            Run(
                "INSERT INTO journal_heads (org_id, last_sequence, head_hash) VALUES ($org, $id, $hash) " +
                "ON CONFLICT (org_id) DO UPDATE SET last_sequence = excluded.last_sequence, head_hash = excluded.head_hash",
                ["$org", "$id", "$hash"],
                [orgId, lastId, journalHeads[orgId]!],
                command => command.ExecuteNonQuery());
        }
        dirtyHeads.Clear();
        Run(
            "UPDATE journal_sequence SET next_sequence = $next WHERE id = 1",
            ["$next"],
            [journalNextId],
            command => command.ExecuteNonQuery());
    }

    public void InsertJournalParts(long journalId, IReadOnlyList<long> allocationIds)
    {
        foreach (var allocationId in allocationIds)
        {
            Run(
                "INSERT INTO journal_parts (allocation_id, journal_id) VALUES ($alloc, $id)",
                ["$alloc", "$id"],
                [allocationId, journalId],
                command => command.ExecuteNonQuery());
        }
    }

    public IReadOnlyList<(long JournalId, long AllocationId)> ListJournalParts(long orgId) =>
        Many<(long, long)>(
            "SELECT p.journal_id, p.allocation_id FROM journal_parts p JOIN journal j ON j.id = p.journal_id WHERE j.org_id = @orgId ORDER BY p.journal_id, p.allocation_id",
            new { orgId });

    public IReadOnlyList<JournalRow> ListJournal(long orgId, long? allocationId, long afterId, int limit) =>
        allocationId is { } id
            ? Many<JournalRow>(
                $"SELECT {JournalColumns} FROM journal WHERE org_id = @orgId AND id > @afterId " +
                "AND (allocation_id = @id OR id IN (SELECT journal_id FROM journal_parts WHERE allocation_id = @id AND journal_id > @afterId)) ORDER BY id LIMIT @limit",
                new { orgId, id, afterId, limit })
            : Many<JournalRow>(
                $"SELECT {JournalColumns} FROM journal WHERE org_id = @orgId AND id > @afterId ORDER BY id LIMIT @limit",
                new { orgId, afterId, limit });

    public long JournalLegacyLastSequence() =>
        One<long?>("SELECT last_sequence FROM journal_legacy WHERE id = 1") ?? 0;

    public void ScanJournal(long orgId, Func<JournalRow, bool> visit, long? beforeId = null)
    {
        var rows = Stream<JournalRow>($"SELECT {JournalColumns} FROM journal WHERE org_id = @orgId AND (@beforeId IS NULL OR id < @beforeId) ORDER BY id", new { orgId, beforeId });
        foreach (var row in rows)
        {
            if (!visit(row))
            {
                return;
            }
        }
    }
}
