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
/// <param name="Id">The organization's id.</param>
/// <param name="Name">Its name, unique in the store ignoring case.</param>
public sealed record Organization(OrganizationId Id, string Name);

/// <summary>A unit allocations are measured in.</summary>
/// <param name="Code">The unit's code, unique in its organization.</param>
/// <param name="DisplayPrecision">Decimal places shown for amounts in this unit (0 to 6); amounts are stored with six.</param>
public sealed record UnitInfo(UnitCode Code, int DisplayPrecision);

/// <summary>A billable resource type of one unit.</summary>
/// <param name="Code">The SKU's code, unique in its organization.</param>
/// <param name="Unit">The unit its rates convert into.</param>
/// <param name="Basis">How its quantity turns into an amount.</param>
public sealed record SkuInfo(SkuCode Code, UnitCode Unit, RateBasis Basis);

/// <summary>One period of a rate schedule: from <see cref="EffectiveFrom"/> (inclusive) to
/// <see cref="EffectiveTo"/> (exclusive; null for open-ended), the rate is <see cref="Rate"/>.</summary>
/// <param name="Id">The rule's id, stored with every segment rated by it.</param>
/// <param name="EffectiveFrom">The first instant the rule is in force.</param>
/// <param name="EffectiveTo">The first instant it is no longer in force, or null when open-ended.</param>
/// <param name="Rate">The rate in force.</param>
public sealed record RateRule(long Id, Instant EffectiveFrom, Instant? EffectiveTo, Rate Rate)
{
    /// <summary>Gets the rule's period as a NodaTime interval (its end null when open-ended).</summary>
    public Interval Period => new(EffectiveFrom, EffectiveTo);
}
