using NodaTime;

namespace Allocations.Domain;

/// <summary>How a SKU's quantity turns into an amount.</summary>
public enum RateBasis
{
    /// <summary>The quantity is a level held over time (cores, nodes, GB): amount = quantity × hours × rate.</summary>
    PerHour = 1,

    /// <summary>The quantity is already consumed units: amount = quantity × rate, spread over the event's interval
    /// in proportion to time where the interval crosses rate boundaries.</summary>
    PerUnit = 2,
}

/// <summary>The state of a usage event.</summary>
public enum UsageStatus
{
    /// <summary>In flight or pending: counts toward Estimated.</summary>
    Estimated = 1,

    /// <summary>Final: counts toward Used.</summary>
    Confirmed = 2,
}

/// <summary>An organization: the tenant that owns units, SKUs and allocations.</summary>
/// <remarks>A snapshot read from the store; compare organizations by <see cref="Id"/>.</remarks>
public sealed class Organization
{
    /// <summary>Initializes a snapshot.</summary>
    /// <param name="id">The organization's id.</param>
    /// <param name="name">Its name.</param>
    internal Organization(OrganizationId id, string name)
    {
        Id = id;
        Name = name;
    }

    /// <summary>Gets the organization's id.</summary>
    public OrganizationId Id { get; }

    /// <summary>Gets its name, unique in the store ignoring case.</summary>
    public string Name { get; }

    /// <summary>Returns the id and the name.</summary>
    /// <returns>Such as <c>org:1 'Physics'</c>.</returns>
    public override string ToString() => $"{Id} '{Name}'";
}

/// <summary>A unit allocations are measured in.</summary>
/// <remarks>Two units are equal when their code and precision are.</remarks>
public sealed class UnitInfo : IEquatable<UnitInfo>
{
    /// <summary>Initializes a unit.</summary>
    /// <param name="code">The unit's code.</param>
    /// <param name="displayPrecision">Decimal places shown for amounts in this unit.</param>
    internal UnitInfo(UnitCode code, int displayPrecision)
    {
        Code = code;
        DisplayPrecision = displayPrecision;
    }

    /// <summary>Gets the unit's code, unique in its organization.</summary>
    public UnitCode Code { get; }

    /// <summary>Gets the decimal places shown for amounts in this unit (0 to 6); amounts are stored with six.</summary>
    public int DisplayPrecision { get; }

    /// <inheritdoc />
    public bool Equals(UnitInfo? other) => other is not null && Code == other.Code && DisplayPrecision == other.DisplayPrecision;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as UnitInfo);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Code, DisplayPrecision);

    /// <summary>Returns the code and the precision.</summary>
    /// <returns>Such as <c>core-hours (2 decimals)</c>.</returns>
    public override string ToString() => $"{Code} ({DisplayPrecision} decimals)";

    /// <summary>Compares two units for equality.</summary>
    /// <param name="left">The first unit.</param>
    /// <param name="right">The second unit.</param>
    /// <returns>True when both are null or equal.</returns>
    public static bool operator ==(UnitInfo? left, UnitInfo? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two units for inequality.</summary>
    /// <param name="left">The first unit.</param>
    /// <param name="right">The second unit.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(UnitInfo? left, UnitInfo? right) => !(left == right);
}

/// <summary>A billable resource type of one unit.</summary>
/// <remarks>Two SKUs are equal when their code, unit and basis are.</remarks>
public sealed class SkuInfo : IEquatable<SkuInfo>
{
    /// <summary>Initializes a SKU.</summary>
    /// <param name="code">The SKU's code.</param>
    /// <param name="unit">The unit its rates convert into.</param>
    /// <param name="basis">How its quantity turns into an amount.</param>
    internal SkuInfo(SkuCode code, UnitCode unit, RateBasis basis)
    {
        Code = code;
        Unit = unit;
        Basis = basis;
    }

    /// <summary>Gets the SKU's code, unique in its organization.</summary>
    public SkuCode Code { get; }

    /// <summary>Gets the unit its rates convert into.</summary>
    public UnitCode Unit { get; }

    /// <summary>Gets how its quantity turns into an amount.</summary>
    public RateBasis Basis { get; }

    /// <inheritdoc />
    public bool Equals(SkuInfo? other) => other is not null && Code == other.Code && Unit == other.Unit && Basis == other.Basis;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as SkuInfo);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Code, Unit, Basis);

    /// <summary>Returns the code, unit and basis.</summary>
    /// <returns>Such as <c>CPU_HOUR core-hours PerHour</c>.</returns>
    public override string ToString() => $"{Code} {Unit} {Basis}";

    /// <summary>Compares two SKUs for equality.</summary>
    /// <param name="left">The first SKU.</param>
    /// <param name="right">The second SKU.</param>
    /// <returns>True when both are null or equal.</returns>
    public static bool operator ==(SkuInfo? left, SkuInfo? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two SKUs for inequality.</summary>
    /// <param name="left">The first SKU.</param>
    /// <param name="right">The second SKU.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(SkuInfo? left, SkuInfo? right) => !(left == right);
}

/// <summary>One period of a rate schedule: from <see cref="EffectiveFrom"/> (inclusive) to
/// <see cref="EffectiveTo"/> (exclusive; null for open-ended), the rate is <see cref="Rate"/>.</summary>
/// <remarks>Two rules are equal when every property is.</remarks>
public sealed class RateRule : IEquatable<RateRule>
{
    /// <summary>Initializes a rule.</summary>
    /// <param name="id">The rule's id, stored with every segment rated by it.</param>
    /// <param name="effectiveFrom">The first instant the rule is in force.</param>
    /// <param name="effectiveTo">The first instant it is no longer in force, or null when open-ended.</param>
    /// <param name="rate">The rate in force.</param>
    public RateRule(long id, Instant effectiveFrom, Instant? effectiveTo, Rate rate)
    {
        Id = id;
        EffectiveFrom = effectiveFrom;
        EffectiveTo = effectiveTo;
        Rate = rate;
    }

    /// <summary>Gets the rule's id, stored with every segment rated by it.</summary>
    public long Id { get; }

    /// <summary>Gets the first instant the rule is in force.</summary>
    public Instant EffectiveFrom { get; }

    /// <summary>Gets the first instant it is no longer in force, or null when open-ended.</summary>
    public Instant? EffectiveTo { get; }

    /// <summary>Gets the rate in force.</summary>
    public Rate Rate { get; }

    /// <summary>Gets the rule's period as a NodaTime interval (its end null when open-ended).</summary>
    public Interval Period => new(EffectiveFrom, EffectiveTo);

    /// <inheritdoc />
    public bool Equals(RateRule? other) =>
        other is not null && Id == other.Id && EffectiveFrom == other.EffectiveFrom && EffectiveTo == other.EffectiveTo && Rate == other.Rate;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as RateRule);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Id, EffectiveFrom, EffectiveTo, Rate);

    /// <summary>Returns the id, the period and the rate.</summary>
    /// <returns>Such as <c>rule 3 [2025-11-01T00:00:00Z, open) 1.000000000</c>.</returns>
    public override string ToString() => $"rule {Id} [{EffectiveFrom}, {(EffectiveTo is { } to ? to.ToString() : "open")}) {Rate}";

    /// <summary>Compares two rules for equality.</summary>
    /// <param name="left">The first rule.</param>
    /// <param name="right">The second rule.</param>
    /// <returns>True when both are null or every property is equal.</returns>
    public static bool operator ==(RateRule? left, RateRule? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two rules for inequality.</summary>
    /// <param name="left">The first rule.</param>
    /// <param name="right">The second rule.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(RateRule? left, RateRule? right) => !(left == right);
}
