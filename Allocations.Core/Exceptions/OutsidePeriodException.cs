using Allocations.Domain;
using NodaTime;

namespace Allocations.Exceptions;

/// <summary>Usage was to be recorded on an allocation with a start outside the period the allocation takes usage in:
/// its own period, within its parent's.</summary>
/// <remarks>Nothing was recorded. A reservation or a fit check outside the period is not refused with this exception:
/// it answers with a <see cref="FitCheck"/> whose <see cref="FitCheck.OutsidePeriod"/> is true.</remarks>
public sealed class OutsidePeriodException : AllocationsException
{
    internal OutsidePeriodException(AllocationId allocation, string name, Instant? periodStart, Instant? periodEnd, Instant eventStart)
        : base($"{allocation} {InvalidInputException.Display(name)} takes usage starting in {Budgets.Period.Format(periodStart, periodEnd)}; the event starts at {eventStart}")
    {
        Allocation = allocation;
        PeriodStart = periodStart;
        PeriodEnd = periodEnd;
        EventStart = eventStart;
    }

    /// <summary>Gets the allocation the usage was for.</summary>
    public AllocationId Allocation { get; }

    /// <summary>Gets the start (inclusive) of the period the allocation takes usage in, or null when open.</summary>
    public Instant? PeriodStart { get; }

    /// <summary>Gets the end (exclusive) of the period the allocation takes usage in, or null when open.</summary>
    public Instant? PeriodEnd { get; }

    /// <summary>Gets the start of the refused usage.</summary>
    public Instant EventStart { get; }
}
