using Allocations.Budgets;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using NodaTime;

namespace Allocations;

public sealed partial class AllocationStore
{
    /// <summary>Gets an allocation with its total and figures as they stood at an instant of the store's clock: what
    /// <see cref="GetAllocationAsync(Principal, AllocationId, CancellationToken)"/> would have returned then.</summary>
    /// <remarks>Every write keeps the totals and figures it leaves, stamped with its instant, so this is one indexed
    /// look-up, whatever the number of events. The figures at an instant include every write stamped at or before it.
    /// Name, unit and parent never change; access is checked as of now (today's grants).</remarks>
    /// <param name="actor">Anyone with Read on it.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="asOf">The instant, by the store's clock: not after now, and not before the allocation was created.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The allocation with its figures as of <paramref name="asOf"/>.</returns>
    /// <exception cref="InvalidInputException">The instant is outside 1900–2200, after the store's clock, or before
    /// the allocation was created (field <c>asOf</c>).</exception>
    /// <exception cref="NotFoundException">It does not exist, or the actor may not Read it.</exception>
    public Task<Allocation> GetAllocationAsOfAsync(Principal actor, AllocationId allocation, Instant asOf, CancellationToken cancellationToken = default)
    {
        var ns = AsOfService.CheckAsOf(asOf, tx.Clock);
        return tx.Read(actor, uow => AsOfService.Get(uow, allocation, ns), cancellationToken);
    }

    /// <summary>Gets the allocation table as it stood at an instant of the store's clock (what
    /// <see cref="GetAllocationTableAsync"/> would have returned then, for today's readers): the allocations the actor
    /// can Read that existed then, each with its total and figures then, ordered and filtered by the query.</summary>
    /// <remarks>One indexed look-up per allocation, never a scan of events. Allocations created after the instant are
    /// not in it; allocations deleted since are not either (the journal keeps their final figures). Access is checked
    /// as of now.</remarks>
    /// <param name="actor">Any principal; the table holds only what it may Read.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="asOf">The instant, by the store's clock: not after now.</param>
    /// <param name="query">Filters and order; null for all allocations by name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The lines: top-level allocations, each followed by its children.</returns>
    /// <exception cref="InvalidInputException">The instant is outside 1900–2200 or after the store's clock (field
    /// <c>asOf</c>), or the sort column is unknown.</exception>
    public async Task<IReadOnlyList<AllocationTableRow>> GetAllocationTableAsOfAsync(Principal actor, OrganizationId organization, Instant asOf, AllocationTableQuery? query = null, CancellationToken cancellationToken = default)
    {
        query ??= new AllocationTableQuery();
        ReportingService.CheckTableQuery(query);
        var ns = AsOfService.CheckAsOf(asOf, tx.Clock);
        return await tx.Read(actor, uow => AsOfService.Table(uow, organization, ns, query), cancellationToken).ConfigureAwait(false);
    }
}
