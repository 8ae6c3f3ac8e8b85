using Allocations.Budgets;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;

namespace Allocations.Recording;

internal sealed partial class UsageWriter
{
    /// <summary>The period usage on <paramref name="allocation"/> must start in (its own, within its parent's) when
    /// <paramref name="startNs"/> lies outside it; null when it lies inside.</summary>
    internal Period? OutsidePeriod(AllocationRow allocation, long startNs)
    {
        if (allocation.ParentId is null && allocation.PeriodStartNs is null && allocation.PeriodEndNs is null)
        {
            return null;
        }
        var period = Period.Effective(allocation, allocation.ParentId is { } parent ? Load(parent) : null);
        return period.Contains(startNs) ? null : period;
    }

    /// <summary>Refuses usage that starts outside the allocation's period.</summary>
    /// <exception cref="OutsidePeriodException">It does.</exception>
    private void RequireInPeriod(AllocationRow allocation, long startNs)
    {
        if (OutsidePeriod(allocation, startNs) is { } period)
        {
            throw new OutsidePeriodException(new AllocationId(allocation.Id), allocation.Name, period.Start, period.End, InstantCodec.FromNs(startNs));
        }
    }

    /// <summary>The fit answer for a reservation or a fit check that starts outside the allocation's period, after the
    /// access check of <paramref name="operation"/>; null when it starts inside.</summary>
    internal FitCheck? PeriodRefusal(UsageRecord record, Access.Operation operation, long startNs)
    {
        var allocation = Allocation(record.Allocation.Value, operation);
        return OutsidePeriod(allocation, startNs) is { } period
            ? FitCheck.Outside(record.Allocation, period.Start, period.End, record.Start)
            : null;
    }
}
