namespace Allocations.Storage;

// Row shapes of access control and the journal.
#pragma warning disable SA1649, SA1402 // one file for the plain row carriers

internal sealed class GroupRow
{
    public long Id { get; set; }

    public long OrgId { get; set; }

    public string Name { get; set; } = "";
}

internal sealed class GrantRow
{
    public long Id { get; set; }

    public long AllocationId { get; set; }

    public long? GroupId { get; set; }

    public string? GroupName { get; set; }

    public int Level { get; set; }

    public long GrantedNs { get; set; }

    public string GrantedBy { get; set; } = "";
}

/// <summary>One stored grant: a level on an allocation held by a group, or organization-wide (no group).</summary>
internal readonly record struct GrantFact(long AllocationId, long? GroupId, int Level);

internal sealed class JournalRow
{
    public long Id { get; set; }

    public long OrgId { get; set; }

    public long? AllocationId { get; set; }

    public long AtNs { get; set; }

    public string Actor { get; set; } = "";

    public string Action { get; set; } = "";

    public string Target { get; set; } = "";

    public string? Before { get; set; }

    public string? After { get; set; }

    public byte[] PrevHash { get; set; } = [];

    public byte[] Hash { get; set; } = [];
}
