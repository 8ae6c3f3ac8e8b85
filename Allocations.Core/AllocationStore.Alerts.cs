using Allocations.Alerts;
using Allocations.Domain;
using Allocations.Exceptions;

namespace Allocations;

public sealed partial class AllocationStore
{
    /// <summary>Sets an allocation's alert thresholds, replacing those it had; an empty list clears them.</summary>
    /// <remarks>
    /// <para>From then on, every write that moves the allocation's total or figures across one of the thresholds (a
    /// record, a batch, a replacement, a confirmation, a release, a deletion of an event, a reservation, a total change,
    /// a transfer, a child's deletion) records an alert in its own transaction, once per crossing and direction; read
    /// them with <see cref="GetAlertsAsync"/>. A batch compares each allocation's figures before and after the whole
    /// batch. Setting a threshold the allocation is already past records no alert: the next write that crosses it
    /// does.</para>
    /// <para>Journalled as <c>allocation.alert-thresholds</c> with the thresholds before and after.</para>
    /// </remarks>
    /// <param name="actor">Admin of the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="thresholds">The thresholds, at most 32, each once (<see cref="AlertThreshold.PercentUsed"/>,
    /// <see cref="AlertThreshold.Remaining"/>).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The thresholds now set, % Used ones first, each kind by value.</returns>
    /// <exception cref="InvalidInputException">The list is null, longer than 32, holds a threshold twice or
    /// <c>default(AlertThreshold)</c> (field <c>thresholds</c>).</exception>
    /// <exception cref="NotFoundException">The allocation does not exist, or the actor may not Read it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not Admin of the allocation.</exception>
    public Task<IReadOnlyList<AlertThreshold>> SetAlertThresholdsAsync(Principal actor, AllocationId allocation, IReadOnlyCollection<AlertThreshold> thresholds, CancellationToken cancellationToken = default)
    {
        var checkedThresholds = AlertService.CheckThresholds(thresholds);
        return tx.WriteAsync(actor, uow => AlertService.SetThresholdsAsync(uow, allocation, checkedThresholds), cancellationToken);
    }

    /// <summary>Gets an allocation's alert thresholds.</summary>
    /// <param name="actor">Anyone with Read on the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The thresholds, % Used ones first, each kind by value; empty when none is set.</returns>
    /// <exception cref="NotFoundException">The allocation does not exist, or the actor may not Read it.</exception>
    public Task<IReadOnlyList<AlertThreshold>> GetAlertThresholdsAsync(Principal actor, AllocationId allocation, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => AlertService.GetThresholds(uow, allocation), cancellationToken);

    /// <summary>Reads an organization's alerts recorded after a cursor, oldest first: the outbox of threshold
    /// crossings.</summary>
    /// <remarks>
    /// <para>Each alert was recorded in the transaction of the write that crossed its threshold, so none is lost and
    /// none is invented: a write that rolled back left none. A reader that passes <see cref="AlertPage.Next"/> of each
    /// page to the next call sees every alert it may see, in order, at least once (exactly once unless it repeats a
    /// cursor); several readers each keep their own cursor. The store keeps alerts; nothing is consumed by reading.</para>
    /// <para>The caller sees the alerts of allocations it may Read; an alert of an allocation deleted since is seen by
    /// organization admins only. A page may hold fewer alerts than <paramref name="pageSize"/> (even none) while more
    /// follow: read on until a page's <see cref="AlertPage.Next"/> equals the cursor passed.</para>
    /// </remarks>
    /// <param name="actor">An organization admin or a member of one of its groups.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="after">Where to read on from; <see cref="AlertCursor.Start"/> (the default) for the first alert.</param>
    /// <param name="pageSize">How many alerts to read at most, 1 to 1,000.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The page.</returns>
    /// <exception cref="InvalidInputException">The page size is out of range (field <c>pageSize</c>).</exception>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it.</exception>
    public Task<AlertPage> GetAlertsAsync(Principal actor, OrganizationId organization, AlertCursor after = default, int pageSize = 100, CancellationToken cancellationToken = default)
    {
        var size = AlertService.CheckPageSize(pageSize);
        return tx.Read(actor, uow => AlertService.List(uow, organization, after, size), cancellationToken);
    }

    /// <summary>Records the period alerts due at the store clock's instant, each once: an allocation whose own period
    /// ends within <see cref="AllocationStoreOptions.PeriodEndAlertLead"/> (<see cref="AlertThresholdKind.PeriodEnding"/>),
    /// and one whose period has ended with Remaining above zero (<see cref="AlertThresholdKind.PeriodEndedUnspent"/>).</summary>
    /// <remarks>
    /// <para>Period alerts depend on time, not on a write, so they are recorded by this call, which a host runs from a
    /// timer or cron (the tool: <c>allocations alerts sweep</c>); reading alerts records none. A run records what is due
    /// then and nothing twice: an alert of the same allocation, kind and period end is never recorded again (a period
    /// whose end changes is a new period). An allocation without an end of its own records none (a child's period
    /// within its parent's is the child's to set). The figures are those at the sweep.</para>
    /// <para>Each alert is journalled on its allocation as <c>allocation.period-alert</c>, the entry the alert names;
    /// its direction is <see cref="AlertDirection.Up"/> and it names no event.</para>
    /// </remarks>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How many alerts were recorded.</returns>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<int> SweepPeriodAlertsAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default)
    {
        var leadNs = periodEndAlertLead.ToInt64Nanoseconds();
        return tx.Write(actor, uow => AlertService.SweepPeriods(uow, organization, leadNs), cancellationToken);
    }
}
