using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Storage;
using NodaTime;
using NodaTime.Text;

namespace Allocations.Budgets;

/// <summary>Figures as of an instant: each allocation's total and figures as the table showed them then, read from the
/// figure history every write leaves (one indexed look-up per allocation, never a scan of events).</summary>
internal static class AsOfService
{
    /// <summary>Checks an instant to read the figures as of, before storage is touched: within the supported range and
    /// not after the store's clock (the figures of an instant to come are not known yet).</summary>
    internal static long CheckAsOf(Instant asOf, IClock clock)
    {
        var ns = InstantCodec.ToNs(asOf, "asOf");
        var now = clock.GetCurrentInstant();
        if (asOf > now)
        {
            throw new InvalidInputException("asOf", Format(asOf), $"is after the store's clock ({Format(now)}): figures are known up to now");
        }
        return ns;
    }

    /// <summary>One allocation as of an instant; refused naming <c>asOf</c> when the allocation did not exist yet.</summary>
    internal static Allocation Get(UnitOfWork uow, AllocationId allocation, long asOfNs)
    {
        var row = uow.Access.RequireAllocation(allocation, Operation.ReadAllocationAsOf);
        var figures = uow.Session.GetFiguresAsOf(row.Id, asOfNs) ?? throw new InvalidInputException(
            "asOf",
            Format(InstantCodec.FromNs(asOfNs)),
            asOfNs < row.CreatedNs
                ? $"is before {allocation} was created ({Format(InstantCodec.FromNs(row.CreatedNs))})"
                : $"is earlier than the figures of {allocation} the store keeps (a store upgraded from a version that kept none keeps them from its upgrade on, unless its journal reproduces them)");
        return With(RowMapping.ToAllocation(row), figures);
    }

    /// <summary>The allocation table as of an instant: the allocations the actor can Read today that existed then, each
    /// with its figures then.</summary>
    internal static IReadOnlyList<AllocationTableRow> Table(UnitOfWork uow, OrganizationId organization, long asOfNs, AllocationTableQuery query)
    {
        var visible = AllocationService.Visible(uow, organization);
        var history = uow.Session.ListFiguresAsOf(organization.Value, asOfNs).ToDictionary(h => h.AllocationId);
        var then = new List<Allocation>(visible.Count);
        foreach (var a in visible)
        {
            if (history.TryGetValue(a.Id.Value, out var figures))
            {
                then.Add(With(a, figures));
            }
        }
        return AllocationTable.Build(then, query);
    }

    private static Allocation With(Allocation a, FigureHistoryRow f) => new(
        a.Id,
        a.Organization,
        a.Name,
        a.Unit,
        a.ParentId,
        Amount.FromMicros(f.Total),
        Amount.FromMicros(f.Used),
        Amount.FromMicros(f.Estimated),
        Amount.FromMicros(f.OwnUsed),
        Amount.FromMicros(f.OwnEstimated),
        a.CreatedAt);

    private static string Format(Instant instant) => InstantPattern.ExtendedIso.Format(instant);
}
