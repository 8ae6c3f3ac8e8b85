using NodaTime;

namespace Allocations.Domain;

/// <summary>An allocation with its figures, as stored after the last write.</summary>
/// <remarks>
/// <see cref="Used"/> and <see cref="Estimated"/> of a parent include its children's; <see cref="OwnUsed"/> and
/// <see cref="OwnEstimated"/> are the allocation's own events alone. Figures are maintained on every write, so
/// reading them never scans events. A snapshot read from the store; compare allocations by <see cref="Id"/>.
/// </remarks>
public sealed class Allocation
{
    /// <summary>Initializes a snapshot.</summary>
    /// <param name="id">The allocation's id.</param>
    /// <param name="organization">The organization that owns it.</param>
    /// <param name="name">Its name.</param>
    /// <param name="unit">The unit it is measured in.</param>
    /// <param name="parentId">Its parent, or null.</param>
    /// <param name="total">The budgeted amount.</param>
    /// <param name="used">Confirmed consumption, children included.</param>
    /// <param name="estimated">Estimated consumption, children included.</param>
    /// <param name="ownUsed">Confirmed consumption of its own events.</param>
    /// <param name="ownEstimated">Estimated consumption of its own events.</param>
    /// <param name="createdAt">When it was created.</param>
    /// <param name="periodStart">The start of its period (inclusive), or null when open.</param>
    /// <param name="periodEnd">The end of its period (exclusive), or null when open.</param>
    internal Allocation(
        AllocationId id,
        OrganizationId organization,
        string name,
        UnitCode unit,
        AllocationId? parentId,
        Amount total,
        Amount used,
        Amount estimated,
        Amount ownUsed,
        Amount ownEstimated,
        Instant createdAt,
        Instant? periodStart = null,
        Instant? periodEnd = null)
    {
        Id = id;
        Organization = organization;
        Name = name;
        Unit = unit;
        ParentId = parentId;
        Total = total;
        Used = used;
        Estimated = estimated;
        OwnUsed = ownUsed;
        OwnEstimated = ownEstimated;
        CreatedAt = createdAt;
        PeriodStart = periodStart;
        PeriodEnd = periodEnd;
    }

    /// <summary>Gets the allocation's id.</summary>
    public AllocationId Id { get; }

    /// <summary>Gets the organization that owns it.</summary>
    public OrganizationId Organization { get; }

    /// <summary>Gets its name, unique in the organization ignoring case.</summary>
    public string Name { get; }

    /// <summary>Gets the unit it is measured in.</summary>
    public UnitCode Unit { get; }

    /// <summary>Gets its parent, or null for a top-level allocation.</summary>
    public AllocationId? ParentId { get; }

    /// <summary>Gets the budgeted amount.</summary>
    public Amount Total { get; }

    /// <summary>Gets the Confirmed consumption, children included.</summary>
    public Amount Used { get; }

    /// <summary>Gets the Estimated (in-flight) consumption, children included.</summary>
    public Amount Estimated { get; }

    /// <summary>Gets the Confirmed consumption of its own events.</summary>
    public Amount OwnUsed { get; }

    /// <summary>Gets the Estimated consumption of its own events.</summary>
    public Amount OwnEstimated { get; }

    /// <summary>Gets when it was created.</summary>
    public Instant CreatedAt { get; }

    /// <summary>Gets the start of its own period (inclusive), or null when the period is open at the start.</summary>
    /// <remarks>Usage is recorded, reserved and checked only when it starts in the period <c>[PeriodStart,
    /// PeriodEnd)</c>; a child's usage also only when it starts in its parent's period, which holds the child's.</remarks>
    public Instant? PeriodStart { get; }

    /// <summary>Gets the end of its own period (exclusive), or null when the period is open at the end.</summary>
    public Instant? PeriodEnd { get; }

    /// <summary>Gets Total − Used − Estimated; negative after an overrun.</summary>
    public Amount Remaining => Total - Used - Estimated;

    /// <summary>Gets (Used + Estimated) / Total × 100, exactly; null when Total is zero.</summary>
    public decimal? PercentUsed => Total.Micros == 0
        ? null
        : (Used + Estimated).ToDecimal() * 100m / Total.ToDecimal();

    /// <summary>Returns the id, the name and the figures.</summary>
    /// <returns>Such as <c>allocation:7 'physics' core-hours: total 1000.000000, used 10.000000, estimated 2.000000</c>,
    /// followed by <c>, period [2026-01-01T00:00:00Z, 2027-01-01T00:00:00Z)</c> when it has one (an open bound shown as
    /// ∞).</returns>
    public override string ToString() =>
        $"{Id} '{Name}' {Unit}: total {Total}, used {Used}, estimated {Estimated}{(PeriodStart is null && PeriodEnd is null ? "" : ", period " + Budgets.Period.Format(PeriodStart, PeriodEnd))}";
}

/// <summary>What to create: the fixed name, unit and parent, and the first total.</summary>
/// <remarks>The constructor checks nothing: the store checks every field when the allocation is created.</remarks>
public sealed class NewAllocation
{
    /// <summary>Initializes a request.</summary>
    /// <param name="name">1 to 200 printable characters; trimmed; unique in the organization ignoring case.</param>
    /// <param name="unit">The unit; a child must have its parent's unit.</param>
    /// <param name="total">The budget, zero or more.</param>
    /// <param name="parentId">The parent, which must be top-level; null for a top-level allocation.</param>
    /// <param name="periodStart">The start of its period (inclusive); null for none.</param>
    /// <param name="periodEnd">The end of its period (exclusive), after the start; null for none.</param>
    public NewAllocation(string name, UnitCode unit, Amount total, AllocationId? parentId = null, Instant? periodStart = null, Instant? periodEnd = null)
    {
        Name = name;
        Unit = unit;
        Total = total;
        ParentId = parentId;
        PeriodStart = periodStart;
        PeriodEnd = periodEnd;
    }

    /// <summary>Gets the name: 1 to 200 printable characters; trimmed; unique in the organization ignoring case.</summary>
    public string Name { get; }

    /// <summary>Gets the unit; a child must have its parent's unit.</summary>
    public UnitCode Unit { get; }

    /// <summary>Gets the budget, zero or more.</summary>
    public Amount Total { get; }

    /// <summary>Gets the parent, which must be top-level; null for a top-level allocation.</summary>
    public AllocationId? ParentId { get; }

    /// <summary>Gets the start of its period (inclusive); null for none. A child's period must lie within its
    /// parent's.</summary>
    public Instant? PeriodStart { get; }

    /// <summary>Gets the end of its period (exclusive), after the start; null for none.</summary>
    public Instant? PeriodEnd { get; }

    /// <summary>Returns the name, unit, total and parent.</summary>
    /// <returns>Such as <c>'physics' core-hours total 1000.000000 under allocation:3</c>.</returns>
    public override string ToString() => $"'{Name}' {Unit} total {Total}{(ParentId is { } parent ? " under " + parent : "")}";
}

/// <summary>One change of an allocation's total, as kept in its history.</summary>
public sealed class TotalChange
{
    /// <summary>Initializes a history entry.</summary>
    /// <param name="allocation">The allocation.</param>
    /// <param name="oldTotal">The total before.</param>
    /// <param name="newTotal">The total after.</param>
    /// <param name="actor">Who changed it.</param>
    /// <param name="at">When.</param>
    /// <param name="reason">Why.</param>
    internal TotalChange(AllocationId allocation, Amount oldTotal, Amount newTotal, string actor, Instant at, string reason)
    {
        Allocation = allocation;
        OldTotal = oldTotal;
        NewTotal = newTotal;
        Actor = actor;
        At = at;
        Reason = reason;
    }

    /// <summary>Gets the allocation.</summary>
    public AllocationId Allocation { get; }

    /// <summary>Gets the total before.</summary>
    public Amount OldTotal { get; }

    /// <summary>Gets the total after.</summary>
    public Amount NewTotal { get; }

    /// <summary>Gets who changed it: <c>user:</c> followed by the host's user id, or <c>system</c> for the system
    /// actor.</summary>
    public string Actor { get; }

    /// <summary>Gets when.</summary>
    public Instant At { get; }

    /// <summary>Gets why (a top-up, a purchase, a correction).</summary>
    public string Reason { get; }

    /// <summary>Returns the change, who made it, when and why.</summary>
    /// <returns>Such as <c>allocation:7 1000.000000 → 1500.000000 by user:alice at 2025-11-01T00:00:00Z: top-up</c>.</returns>
    public override string ToString() => $"{Allocation} {OldTotal} → {NewTotal} by {Actor} at {At}: {Reason}";
}
