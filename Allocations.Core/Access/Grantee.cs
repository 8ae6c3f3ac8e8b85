using Allocations.Exceptions;
using Allocations.Utility;

namespace Allocations.Access;

/// <summary>Who a grant is for: one group of the organization, or the whole organization.</summary>
/// <remarks>An organization-wide grant applies to every member of the organization: its admins and every member of
/// any of its groups. The default value is not a valid grantee.</remarks>
public readonly struct Grantee : IEquatable<Grantee>
{
    private const string OrganizationMarker = "\u0000organization";
    private readonly string? group;

    private Grantee(string group) => this.group = group;

    /// <summary>Gets the grantee that stands for every member of the organization.</summary>
    public static Grantee Organization { get; } = new(OrganizationMarker);

    /// <summary>Gets whether this is the organization-wide grantee.</summary>
    public bool IsOrganization => group == OrganizationMarker;

    /// <summary>Gets the group's name, or null for the organization-wide grantee.</summary>
    public string? GroupName => IsOrganization ? null : group;

    internal bool IsValid => group is not null;

    /// <summary>Creates the grantee of a group.</summary>
    /// <param name="name">The group's name (1 to 200 printable characters, trimmed).</param>
    /// <returns>The grantee.</returns>
    /// <exception cref="InvalidInputException">The name is empty, too long or has control characters.</exception>
    public static Grantee Group(string name) => new(Preconditions.CheckName(name, "group"));

    /// <inheritdoc />
    public bool Equals(Grantee other) => string.Equals(group, other.group, StringComparison.OrdinalIgnoreCase);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Grantee other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => group is null ? 0 : StringComparer.OrdinalIgnoreCase.GetHashCode(group);

    /// <inheritdoc />
    public override string ToString() => IsOrganization ? "organization" : "group:" + group;

    /// <summary>Compares two grantees (group names ignoring case).</summary>
    /// <param name="left">The first grantee.</param>
    /// <param name="right">The second grantee.</param>
    /// <returns>True when both are the same grantee.</returns>
    public static bool operator ==(Grantee left, Grantee right) => left.Equals(right);

    /// <summary>Compares two grantees (group names ignoring case).</summary>
    /// <param name="left">The first grantee.</param>
    /// <param name="right">The second grantee.</param>
    /// <returns>True when they are different grantees.</returns>
    public static bool operator !=(Grantee left, Grantee right) => !left.Equals(right);
}

/// <summary>A grant in force on an allocation.</summary>
public sealed class Grant
{
    /// <summary>Initializes a grant.</summary>
    /// <param name="allocation">The allocation the grant is stored on.</param>
    /// <param name="grantee">The group, or the whole organization.</param>
    /// <param name="level">Read, Use or Admin.</param>
    /// <param name="inherited">Whether it holds through the parent.</param>
    /// <param name="grantedAt">When it was granted or last changed.</param>
    /// <param name="grantedBy">Who granted or last changed it.</param>
    internal Grant(Domain.AllocationId allocation, Grantee grantee, AccessLevel level, bool inherited, NodaTime.Instant grantedAt, string grantedBy)
    {
        Allocation = allocation;
        Grantee = grantee;
        Level = level;
        Inherited = inherited;
        GrantedAt = grantedAt;
        GrantedBy = grantedBy;
    }

    /// <summary>Gets the allocation the grant is stored on: the allocation asked about, or its parent when the grant is
    /// inherited.</summary>
    public Domain.AllocationId Allocation { get; }

    /// <summary>Gets the group, or the whole organization.</summary>
    public Grantee Grantee { get; }

    /// <summary>Gets the level: Read, Use or Admin.</summary>
    public AccessLevel Level { get; }

    /// <summary>Gets whether the grant is on the parent and holds on the child through it.</summary>
    public bool Inherited { get; }

    /// <summary>Gets when it was granted or last changed.</summary>
    public NodaTime.Instant GrantedAt { get; }

    /// <summary>Gets who granted or last changed it.</summary>
    public string GrantedBy { get; }

    /// <summary>Returns the grantee, the level and where it is stored.</summary>
    /// <returns>Such as <c>group:physics Use on allocation:7 (inherited)</c>.</returns>
    public override string ToString() => $"{Grantee} {Level} on {Allocation}{(Inherited ? " (inherited)" : "")}";
}

/// <summary>A group of an organization with its members.</summary>
public sealed class GroupInfo
{
    /// <summary>Initializes a group.</summary>
    /// <param name="name">The group's name.</param>
    /// <param name="members">The user ids of its members, in ordinal order.</param>
    internal GroupInfo(string name, IReadOnlyList<string> members)
    {
        Name = name;
        Members = members;
    }

    /// <summary>Gets the group's name, unique in the organization ignoring case.</summary>
    public string Name { get; }

    /// <summary>Gets the user ids of its members, in ordinal order.</summary>
    public IReadOnlyList<string> Members { get; }

    /// <summary>Returns the name and the member count.</summary>
    /// <returns>Such as <c>physics (3 members)</c>.</returns>
    public override string ToString() => $"{Name} ({Members.Count} members)";
}
