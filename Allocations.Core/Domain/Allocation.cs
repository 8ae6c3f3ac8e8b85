using NodaTime;

namespace Allocations.Domain;

/// <summary>An allocation with its figures, as stored after the last write.</summary>
/// <remarks>
/// <see cref="Used"/> and <see cref="Estimated"/> of a parent include its children's; <see cref="OwnUsed"/> and
/// <see cref="OwnEstimated"/> are the allocation's own events alone. Figures are maintained on every write, so
/// reading them never scans events.
/// </remarks>
/// <param name="Id">The allocation's id.</param>
/// <param name="Organization">The organization that owns it.</param>
/// <param name="Name">Its name, unique in the organization ignoring case.</param>
/// <param name="Unit">The unit it is measured in.</param>
/// <param name="ParentId">Its parent, or null for a top-level allocation.</param>
/// <param name="Total">The budgeted amount.</param>
/// <param name="Used">Confirmed consumption, children included.</param>
/// <param name="Estimated">Estimated (in-flight) consumption, children included.</param>
/// <param name="OwnUsed">Confirmed consumption of its own events.</param>
/// <param name="OwnEstimated">Estimated consumption of its own events.</param>
/// <param name="CreatedAt">When it was created.</param>
public sealed record Allocation(
    AllocationId Id,
    OrganizationId Organization,
    string Name,
    UnitCode Unit,
    AllocationId? ParentId,
    Amount Total,
    Amount Used,
    Amount Estimated,
    Amount OwnUsed,
    Amount OwnEstimated,
    Instant CreatedAt)
{
    /// <summary>Gets Total − Used − Estimated; negative after an overrun.</summary>
    public Amount Remaining => Total - Used - Estimated;

    /// <summary>Gets (Used + Estimated) / Total × 100, exactly; null when Total is zero.</summary>
    public decimal? PercentUsed => Total.Micros == 0
        ? null
        : (Used + Estimated).ToDecimal() * 100m / Total.ToDecimal();
}

/// <summary>What to create: the fixed name, unit and parent, and the first total.</summary>
/// <param name="Name">1 to 200 printable characters; trimmed; unique in the organization ignoring case.</param>
/// <param name="Unit">The unit; a child must have its parent's unit.</param>
/// <param name="Total">The budget, zero or more.</param>
/// <param name="ParentId">The parent, which must be top-level; null for a top-level allocation.</param>
public sealed record NewAllocation(string Name, UnitCode Unit, Amount Total, AllocationId? ParentId = null);

/// <summary>One change of an allocation's total, as kept in its history.</summary>
/// <param name="Allocation">The allocation.</param>
/// <param name="OldTotal">The total before.</param>
/// <param name="NewTotal">The total after.</param>
/// <param name="Actor">Who changed it: <c>user:</c> followed by the host's user id, or <c>system</c> for the system
/// actor.</param>
/// <param name="At">When.</param>
/// <param name="Reason">Why (a top-up, a purchase, a correction).</param>
public sealed record TotalChange(AllocationId Allocation, Amount OldTotal, Amount NewTotal, string Actor, Instant At, string Reason);
