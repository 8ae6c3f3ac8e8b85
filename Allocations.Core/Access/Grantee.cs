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
/// <param name="Allocation">The allocation the grant is stored on: the allocation asked about, or its parent when the
/// grant is inherited.</param>
/// <param name="Grantee">The group, or the whole organization.</param>
/// <param name="Level">Read, Use or Admin.</param>
/// <param name="Inherited">True when the grant is on the parent and holds on the child through it.</param>
/// <param name="GrantedAt">When it was granted or last changed.</param>
/// <param name="GrantedBy">Who granted or last changed it.</param>
public sealed record Grant(Domain.AllocationId Allocation, Grantee Grantee, AccessLevel Level, bool Inherited, NodaTime.Instant GrantedAt, string GrantedBy);

/// <summary>A group of an organization with its members.</summary>
/// <param name="Name">The group's name, unique in the organization ignoring case.</param>
/// <param name="Members">The user ids of its members, in ordinal order.</param>
public sealed record GroupInfo(string Name, IReadOnlyList<string> Members);
