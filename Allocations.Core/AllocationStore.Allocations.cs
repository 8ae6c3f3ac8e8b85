using Allocations.Budgets;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Utility;
using NodaTime;

namespace Allocations;

public sealed partial class AllocationStore
{
    /// <summary>Creates an allocation: top-level, or a child under a top-level parent.</summary>
    /// <remarks>Name, unit and parent are fixed from now on; the total and the period change. A new allocation is visible
    /// to organization admins only until they grant access. A child's period must lie within its parent's; an open
    /// bound of a child's period takes the parent's.</remarks>
    /// <param name="actor">An organization admin for a top-level allocation; Admin of the parent for a child.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="allocation">What to create.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new allocation.</returns>
    /// <exception cref="InvalidInputException">The name, total or period is invalid (a bound out of range, an end not
    /// after the start, a child's bound outside its parent's period: the exception names <c>periodStart</c> or
    /// <c>periodEnd</c>), the parent is itself a child, or the unit differs from the parent's.</exception>
    /// <exception cref="NotFoundException">The organization, unit or parent does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor may not create it.</exception>
    /// <exception cref="ConflictException">The name is taken in the organization.</exception>
    public Task<Allocation> CreateAllocationAsync(Principal actor, OrganizationId organization, NewAllocation allocation, CancellationToken cancellationToken = default)
    {
        var name = AllocationService.CheckNew(allocation);
        return tx.Write(actor, uow => AllocationService.Create(uow, organization, allocation, name), cancellationToken);
    }

    /// <summary>Gets an allocation with its current figures.</summary>
    /// <param name="actor">Anyone with Read on it.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The allocation.</returns>
    /// <exception cref="NotFoundException">It does not exist, or the actor may not Read it.</exception>
    public Task<Allocation> GetAllocationAsync(Principal actor, AllocationId allocation, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => AllocationService.Get(uow, allocation), cancellationToken);

    /// <summary>Lists the allocations of an organization that the actor can Read, parents before their children.</summary>
    /// <param name="actor">Any principal; the list holds only what it may Read.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The allocations with their figures; reading them never scans events.</returns>
    public Task<IReadOnlyList<Allocation>> ListAllocationsAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => AllocationService.List(uow, organization), cancellationToken);

    /// <summary>Changes an allocation's total and keeps the change in its history.</summary>
    /// <param name="actor">Admin of the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="newTotal">The new total, zero or more.</param>
    /// <param name="reason">Why: a top-up, a purchase, a correction (up to 2,000 characters, kept verbatim).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The allocation with its new total.</returns>
    /// <exception cref="InvalidInputException">The total is negative or the reason missing or too long.</exception>
    /// <exception cref="NotFoundException">It does not exist, or the actor may not Read it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not Admin of it.</exception>
    public Task<Allocation> ChangeTotalAsync(Principal actor, AllocationId allocation, Amount newTotal, string reason, CancellationToken cancellationToken = default)
    {
        AllocationService.CheckTotal(newTotal);
        var why = Preconditions.CheckText(reason, "reason", AllocationService.MaxReasonLength);
        return tx.WriteAsync(actor, uow => AllocationService.ChangeTotalAsync(uow, allocation, newTotal, why), cancellationToken);
    }

    /// <summary>Sets an allocation's period <c>[start, end)</c>, or clears a bound with null; the journal keeps the
    /// period before and after.</summary>
    /// <remarks>
    /// <para>From then on usage is recorded, reserved or checked on the allocation only when it starts in the period
    /// (its own, within its parent's): recording outside it throws <see cref="OutsidePeriodException"/>; a reservation
    /// or a fit check answers with <see cref="FitCheck.OutsidePeriod"/>.</para>
    /// <para>The change is refused, changing nothing, when a child's bound would lie outside the new period, when
    /// the allocation (or one of its children) holds an event starting outside the period it would take usage in, or,
    /// for a child, when a bound lies outside its parent's period. Setting the period it already has changes
    /// nothing and writes no journal entry.</para>
    /// </remarks>
    /// <param name="actor">Admin of the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="start">The start (inclusive), or null for an open start.</param>
    /// <param name="end">The end (exclusive), later than the start, or null for an open end.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The allocation with its new period.</returns>
    /// <exception cref="InvalidInputException">A bound is outside 1900–2200, the end is not later than the start, or
    /// (for a child) a bound lies outside the parent's period; the exception names <c>start</c> or
    /// <c>end</c>.</exception>
    /// <exception cref="NotFoundException">It does not exist, or the actor may not Read it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not Admin of it.</exception>
    /// <exception cref="ConflictException">A child's period would not lie within the new one, or an event would start
    /// outside the period (the message names the event and its start).</exception>
    public Task<Allocation> SetPeriodAsync(Principal actor, AllocationId allocation, Instant? start, Instant? end, CancellationToken cancellationToken = default)
    {
        var period = PeriodService.Check(start, end, "start", "end");
        return tx.WriteAsync(actor, uow => PeriodService.SetAsync(uow, allocation, period), cancellationToken);
    }

    /// <summary>Moves budget from one allocation to another of the same unit and organization, atomically: the source's
    /// total goes down by <paramref name="amount"/> and the target's up by as much.</summary>
    /// <remarks>
    /// <para>The source's total may not go below what it has used and holds (its Used plus Estimated, a parent's
    /// including its children's), so a transfer never takes away budget already consumed or promised; an organization
    /// admin may <paramref name="force"/> it, leaving the source overrun (negative Remaining). A total never goes below
    /// zero, forced or not.</para>
    /// <para>Both totals change in one transaction. Each allocation's total history keeps the change with the reason,
    /// prefixed <c>transfer to allocation:N: </c> or <c>transfer from allocation:N: </c>, and each allocation's journal
    /// gets one entry (<c>allocation.transfer-out</c>, <c>allocation.transfer-in</c>) that names the other side by id
    /// only.</para>
    /// </remarks>
    /// <param name="actor">Admin of the source and Use (or more) on the target; an organization admin to force.</param>
    /// <param name="from">The allocation the budget comes from.</param>
    /// <param name="to">The allocation the budget goes to: another allocation of the same unit and organization.</param>
    /// <param name="amount">How much to move, more than zero.</param>
    /// <param name="reason">Why (up to 2,000 characters): verbatim in both journal entries, after the prefix naming the other side in both total histories.</param>
    /// <param name="force">Whether the source's total may go below its Used plus Estimated (organization admins only).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Both allocations with their new totals.</returns>
    /// <exception cref="InvalidInputException">The amount is not positive or would take the target's total past the
    /// largest amount; the target is the source, in another organization or of another unit; the reason is missing or
    /// too long.</exception>
    /// <exception cref="NotFoundException">Either allocation does not exist, or the actor may not Read it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not Admin of the source, holds less than Use on the target,
    /// or forces without being an organization admin.</exception>
    /// <exception cref="ConflictException">The amount is more than the source's total, or (unforced) more than its
    /// total less its Used and Estimated; <see cref="ConflictException.Fields"/> names <c>amount</c>.</exception>
    public Task<TransferResult> TransferAsync(Principal actor, AllocationId from, AllocationId to, Amount amount, string reason, bool force = false, CancellationToken cancellationToken = default)
    {
        var why = AllocationService.CheckTransfer(from, to, amount, reason);
        return tx.WriteAsync(actor, uow => AllocationService.TransferAsync(uow, from, to, amount, why, force), cancellationToken);
    }

    /// <summary>Gets the history of an allocation's total, oldest first.</summary>
    /// <param name="actor">Anyone with Read on it.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The changes.</returns>
    /// <exception cref="NotFoundException">It does not exist, or the actor may not Read it.</exception>
    public Task<IReadOnlyList<TotalChange>> GetTotalHistoryAsync(Principal actor, AllocationId allocation, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => AllocationService.GetTotalHistory(uow, allocation), cancellationToken);

    /// <summary>Deletes an allocation with all its usage events; a parent's figures lose the child's.</summary>
    /// <remarks>The journal keeps one entry per allocation deleted, with its final figures, its event count and its
    /// grants, and (for a child) an entry on the parent with its figures before and after.</remarks>
    /// <param name="actor">An organization admin.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="cascade">Whether a parent's children are deleted with it; without it a parent with children is refused.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How many allocations were deleted.</returns>
    /// <exception cref="NotFoundException">It does not exist, or the actor may not Read it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="ConflictException">It has children and <paramref name="cascade"/> is false.</exception>
    public Task<int> DeleteAllocationAsync(Principal actor, AllocationId allocation, bool cascade = false, CancellationToken cancellationToken = default) =>
        tx.WriteAsync(actor, uow => AllocationService.DeleteAsync(uow, allocation, cascade), cancellationToken);

    /// <summary>Recomputes every figure of an organization from its events and reports each difference, and every stored
    /// row of the organization whose values do not have their columns' types.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The report; <see cref="VerificationReport.IsClean"/> when every figure matches.</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<VerificationReport> VerifyAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => AllocationService.Verify(uow, organization), cancellationToken);
}
