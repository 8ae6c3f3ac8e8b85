using System.Globalization;

namespace Allocations.Domain;

/// <summary>Identifies an organization (a tenant) in a store.</summary>
/// <remarks>The default value (0) identifies no organization.</remarks>
public readonly struct OrganizationId : IEquatable<OrganizationId>
{
    private readonly long value;

    /// <summary>Wraps a raw identifier as returned by <see cref="Value"/>.</summary>
    /// <param name="value">The raw identifier.</param>
    public OrganizationId(long value) => this.value = value;

    /// <summary>Gets the raw identifier.</summary>
    public long Value => value;

    /// <inheritdoc />
    public bool Equals(OrganizationId other) => value == other.value;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is OrganizationId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => value.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => "org:" + value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Compares two identifiers for equality.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns>True when both name the same organization.</returns>
    public static bool operator ==(OrganizationId left, OrganizationId right) => left.Equals(right);

    /// <summary>Compares two identifiers for inequality.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns>True when they name different organizations.</returns>
    public static bool operator !=(OrganizationId left, OrganizationId right) => !left.Equals(right);
}

/// <summary>Identifies an allocation in a store.</summary>
/// <remarks>The default value (0) identifies no allocation.</remarks>
public readonly struct AllocationId : IEquatable<AllocationId>
{
    private readonly long value;

    /// <summary>Wraps a raw identifier as returned by <see cref="Value"/>.</summary>
    /// <param name="value">The raw identifier.</param>
    public AllocationId(long value) => this.value = value;

    /// <summary>Gets the raw identifier.</summary>
    public long Value => value;

    /// <inheritdoc />
    public bool Equals(AllocationId other) => value == other.value;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is AllocationId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => value.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => "allocation:" + value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Compares two identifiers for equality.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns>True when both name the same allocation.</returns>
    public static bool operator ==(AllocationId left, AllocationId right) => left.Equals(right);

    /// <summary>Compares two identifiers for inequality.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns>True when they name different allocations.</returns>
    public static bool operator !=(AllocationId left, AllocationId right) => !left.Equals(right);
}

/// <summary>Identifies a usage event in a store.</summary>
/// <remarks>The default value (0) identifies no event.</remarks>
public readonly struct UsageEventId : IEquatable<UsageEventId>
{
    private readonly long value;

    /// <summary>Wraps a raw identifier as returned by <see cref="Value"/>.</summary>
    /// <param name="value">The raw identifier.</param>
    public UsageEventId(long value) => this.value = value;

    /// <summary>Gets the raw identifier.</summary>
    public long Value => value;

    /// <inheritdoc />
    public bool Equals(UsageEventId other) => value == other.value;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is UsageEventId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => value.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => "event:" + value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Compares two identifiers for equality.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns>True when both name the same event.</returns>
    public static bool operator ==(UsageEventId left, UsageEventId right) => left.Equals(right);

    /// <summary>Compares two identifiers for inequality.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns>True when they name different events.</returns>
    public static bool operator !=(UsageEventId left, UsageEventId right) => !left.Equals(right);
}
