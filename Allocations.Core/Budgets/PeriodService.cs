using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Journal;
using Allocations.Storage;
using NodaTime;

namespace Allocations.Budgets;

/// <summary>Allocation periods: checked when an allocation is created and when an admin changes one, inside the
/// caller's unit of work. A child's period lies within its parent's (an open bound of the child's takes the
/// parent's), and every event of an allocation starts in the period it takes usage in.</summary>
internal static class PeriodService
{
    /// <summary>Checks a requested period's own fields, before storage is touched.</summary>
    /// <exception cref="InvalidInputException">A bound is out of range, or the end is not after the start.</exception>
    internal static Period Check(Instant? start, Instant? end, string startField, string endField)
    {
        long? startNs = start is { } s ? InstantCodec.ToNs(s, startField) : null;
        long? endNs = end is { } e ? InstantCodec.ToNs(e, endField) : null;
        if (startNs is { } from && endNs is { } to && to <= from)
        {
            throw new InvalidInputException(endField, end!.Value.ToString(), $"must be later than {startField} {start}");
        }
        return new Period(startNs, endNs);
    }

    /// <summary>Refuses a child's period with a bound outside its parent's.</summary>
    /// <exception cref="InvalidInputException">A bound of <paramref name="child"/> lies outside the parent's period;
    /// the exception names that bound's field.</exception>
    internal static void CheckWithinParent(Period child, AllocationRow parent, string startField, string endField)
    {
        var outer = Period.Of(parent);
        var rule = $"must lie within the period {outer} of the parent {new AllocationId(parent.Id)} {InvalidInputException.Display(parent.Name)}";
        if (child.StartNs is { } s && !outer.Contains(s))
        {
            throw new InvalidInputException(startField, child.Start.ToString(), rule);
        }
        if (child.EndNs is { } e && ((outer.EndNs is { } oe && e > oe) || (outer.StartNs is { } os && e <= os)))
        {
            throw new InvalidInputException(endField, child.End.ToString(), rule);
        }
    }

    internal static async ValueTask<Allocation> SetAsync(UnitOfWork uow, AllocationId allocation, Period period)
    {
        var session = uow.Session;
        AccessRule.CheckActor(uow.Actor);
        // Usage on the allocation (or on a child, which locks its parent too) is recorded under these locks, so no
        // event can start outside the new period once it is checked.
        await uow.LockWithParentsAsync(allocation.Value).ConfigureAwait(false);
        var row = uow.Access.RequireAllocation(allocation, Operation.ChangePeriod);
        var before = Period.Of(row);
        if (before == period)
        {
            return RowMapping.ToAllocation(row);
        }
        AllocationRow? parent = null;
        if (row.ParentId is { } parentId)
        {
            parent = session.GetAllocation(parentId)!;
            CheckWithinParent(period, parent, "start", "end");
        }
        var children = row.ParentId is null ? session.ListChildren(row.Id) : [];
        var shadow = new AllocationRow { Id = row.Id, Name = row.Name, PeriodStartNs = period.StartNs, PeriodEndNs = period.EndNs };
        foreach (var child in children)
        {
            try
            {
                CheckWithinParent(Period.Of(child), shadow, "start", "end");
            }
            catch (InvalidInputException)
            {
                throw new ConflictException(
                    $"the child {new AllocationId(child.Id)} {InvalidInputException.Display(child.Name)} has the period {Period.Of(child)}, which would not lie within {period}; change the child's period first",
                    ["start", "end"]);
            }
        }
        RequireEventsInside(session, row, period.Within(parent is null ? default : Period.Of(parent)));
        foreach (var child in children)
        {
            RequireEventsInside(session, child, Period.Of(child).Within(period));
        }
        var journal = uow.Journal;
        journal.Append(
            row.OrgId,
            row.Id,
            "allocation.period",
            allocation.ToString(),
            Describe(journal, before),
            Describe(journal, period));
        session.SetPeriod(row.Id, period.StartNs, period.EndNs);
        return RowMapping.ToAllocation(session.GetAllocation(row.Id)!);
    }

    private static void RequireEventsInside(IStorageSession session, AllocationRow row, Period effective)
    {
        if (effective.IsOpen || session.FindEventOutside(row.Id, effective.StartNs, effective.EndNs) is not { } outside)
        {
            return;
        }
        var field = effective.StartNs is { } s && outside.StartNs < s ? "start" : "end";
        throw new ConflictException(
            $"{new UsageEventId(outside.EventId)} of {new AllocationId(row.Id)} {InvalidInputException.Display(row.Name)} starts at {InstantCodec.FromNs(outside.StartNs)}, outside the period {effective}; delete or move its usage first",
            [field]);
    }

    private static string Describe(JournalWriter journal, Period period) => journal.Object(
        ("start", period.StartNs is { } s ? JournalWriter.InstantText(s) : null),
        ("end", period.EndNs is { } e ? JournalWriter.InstantText(e) : null));
}
