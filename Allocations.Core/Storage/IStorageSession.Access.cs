namespace Allocations.Storage;

/// <summary>The storage operations of access control (groups, members, grants) and of the journal.</summary>
internal partial interface IStorageSession
{
    // Groups and members
    long InsertGroup(long orgId, string name, string nameKey, long createdNs);

    GroupRow? FindGroup(long orgId, string nameKey);

    IReadOnlyList<GroupRow> ListGroups(long orgId);

    IReadOnlyList<(long GroupId, string UserId)> ListGroupMembers(long orgId);

    bool AddGroupMember(long groupId, string userId);

    bool RemoveGroupMember(long groupId, string userId);

    void DeleteGroup(long groupId);

    /// <summary>The ids of the organization's groups the user is a member of.</summary>
    IReadOnlyList<long> ListUserGroupIds(long orgId, string userId);

    // Grants
    GrantRow? FindGrant(long allocationId, long? groupId);

    void InsertGrant(long allocationId, long? groupId, int level, long grantedNs, string grantedBy);

    void UpdateGrant(long grantId, int level, long grantedNs, string grantedBy);

    void DeleteGrant(long grantId);

    /// <summary>The grants on one allocation, organization-wide first, then by group name.</summary>
    IReadOnlyList<GrantRow> ListGrants(long allocationId);

    IReadOnlyList<GrantRow> ListGrantsOfGroup(long groupId);

    /// <summary>The grants stored on the given allocations, as plain facts (who holds which level where); what they
    /// mean for a principal is decided above Storage, by <see cref="Access.AccessRule"/>.</summary>
    IReadOnlyList<GrantFact> ListGrantsOn(IReadOnlyList<long> allocationIds);

    /// <summary>The grants on the organization's allocations held by one of <paramref name="groupIds"/>, and the
    /// organization-wide ones when <paramref name="organizationWide"/> is set.</summary>
    IReadOnlyList<GrantFact> ListGrantsHeldBy(long orgId, IReadOnlyList<long> groupIds, bool organizationWide);

    // Journal
    /// <summary>The id the next journal entry takes (the journal's sequence row) and the hash of the organization's last
    /// entry (its head row; null before the first); read once per transaction and then kept up to date by
    /// <see cref="InsertJournal"/>, which advances both rows in the same transaction.</summary>
    (long NextId, byte[]? Head) JournalTail(long orgId);

    void InsertJournal(JournalRow row);

    /// <summary>Keeps the head and sequence rows in memory from now on, for a writer that appends many entries in the
    /// transaction; it must call <see cref="WriteJournalHeads"/> before the transaction ends.</summary>
    void DeferJournalHeads();

    /// <summary>Writes the head rows of the organizations appended to and the sequence row, and stops deferring.</summary>
    void WriteJournalHeads();

    /// <summary>Lists the allocations a <c>usage.batch</c> entry spanning several allocations has a part for, so that
    /// each allocation's journal finds it.</summary>
    void InsertJournalParts(long journalId, IReadOnlyList<long> allocationIds);

    /// <summary>The (entry, allocation) pairs of the organization's batch entries, in entry order.</summary>
    IReadOnlyList<(long JournalId, long AllocationId)> ListJournalParts(long orgId);

    IReadOnlyList<JournalRow> ListJournal(long orgId, long? allocationId, long afterId, int limit);

    /// <summary>Streams the organization's entries in order until <paramref name="visit"/> returns false.</summary>
    void ScanJournal(long orgId, Func<JournalRow, bool> visit, long? beforeId = null);

    /// <summary>The last journal sequence written before actors were encoded (<c>user:&lt;id&gt;</c> or
    /// <c>system</c>); those rows hold a bare user id or <c>system</c>. Zero for a store created encoded.</summary>
    long JournalLegacyLastSequence();
}
