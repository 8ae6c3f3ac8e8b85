using System.Globalization;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;

namespace Allocations.Alerts;

/// <summary>Thresholds of allocations, the alerts their crossings record, and the reading of those alerts.</summary>
internal static class AlertService
{
    /// <summary>The most thresholds one allocation may have.</summary>
    internal const int MaxThresholds = 32;

    /// <summary>The most alerts one page holds.</summary>
    internal const int MaxPageSize = 1000;

    /// <summary>Checks a list of thresholds before any transaction: no default, no duplicate, at most
    /// <see cref="MaxThresholds"/>; returns them ordered by kind and value.</summary>
    internal static List<AlertThreshold> CheckThresholds(IReadOnlyCollection<AlertThreshold>? thresholds)
    {
        if (thresholds is null)
        {
            throw new InvalidInputException("thresholds", null, "a list of thresholds is required (empty to clear them)");
        }
        if (thresholds.Count > MaxThresholds)
        {
            throw new InvalidInputException("thresholds", thresholds.Count.ToString(CultureInfo.InvariantCulture), $"an allocation has at most {MaxThresholds} thresholds");
        }
        var seen = new HashSet<AlertThreshold>();
        foreach (var threshold in thresholds)
        {
            if (threshold.Kind is not (AlertThresholdKind.PercentUsed or AlertThresholdKind.Remaining))
            {
                throw new InvalidInputException("thresholds", threshold.ToString(), "a threshold is made with AlertThreshold.PercentUsed or AlertThreshold.Remaining");
            }
            if (!seen.Add(threshold))
            {
                throw new InvalidInputException("thresholds", threshold.ToString(), "lists the same threshold twice");
            }
        }
        return [.. seen.OrderBy(t => t.Kind).ThenBy(t => t.Value)];
    }

    /// <summary>Checks a page size: 1 to <see cref="MaxPageSize"/>.</summary>
    internal static int CheckPageSize(int pageSize) =>
        pageSize is < 1 or > MaxPageSize
            ? throw new InvalidInputException("pageSize", pageSize.ToString(CultureInfo.InvariantCulture), $"must be between 1 and {MaxPageSize}")
            : pageSize;

    /// <summary>Replaces an allocation's thresholds, journalled with the thresholds before and after.</summary>
    internal static async ValueTask<IReadOnlyList<AlertThreshold>> SetThresholdsAsync(UnitOfWork uow, AllocationId allocation, List<AlertThreshold> thresholds)
    {
        AccessRule.CheckActor(uow.Actor);
        await uow.LockAsync(allocation.Value).ConfigureAwait(false);
        var row = uow.Access.RequireAllocation(allocation, Operation.ManageAlertThresholds);
        var before = Stored(uow.Session, row.Id);
        var journal = uow.Journal;
        journal.Append(
            row.OrgId,
            row.Id,
            "allocation.alert-thresholds",
            allocation.ToString(),
            journal.Object(("thresholds", before.Select(t => t.ToString()).ToList())),
            journal.Object(("thresholds", thresholds.Select(t => t.ToString()).ToList())));
        uow.Session.ReplaceThresholds(row.Id, [.. thresholds.Select(t => new ThresholdRow { AllocationId = row.Id, Kind = (int)t.Kind, Value = t.Value })]);
        return thresholds;
    }

    /// <summary>An allocation's thresholds, by kind and value.</summary>
    internal static IReadOnlyList<AlertThreshold> GetThresholds(UnitOfWork uow, AllocationId allocation)
    {
        var row = uow.Access.RequireAllocation(allocation, Operation.ReadAlertThresholds);
        return Stored(uow.Session, row.Id);
    }

    private static List<AlertThreshold> Stored(IStorageSession session, long allocationId) =>
        [.. session.ListThresholds([allocationId]).Select(ToThreshold)];

    private static AlertThreshold ToThreshold(ThresholdRow row) =>
        AlertThreshold.FromStored(row.Kind, row.Value)
        ?? throw new StoredRowException("alert_thresholds", row.AllocationId.ToString(CultureInfo.InvariantCulture), $"kind {row.Kind} is not a threshold kind");

    /// <summary>The organization's alerts after a cursor that the actor may see: those of allocations it may Read (an
    /// alert of a deleted allocation to organization admins only).</summary>
    internal static AlertPage List(UnitOfWork uow, OrganizationId organization, AlertCursor after, int pageSize)
    {
        uow.Access.RequireOrganization(organization, Operation.ReadAlerts);
        var rows = uow.Session.ListAlerts(organization.Value, after.Value, pageSize);
        if (rows.Count == 0)
        {
            return new AlertPage([], after);
        }
        var levelOn = uow.Access.Levels(organization.Value);
        var isAdmin = uow.Access.IsOrgAdmin(organization.Value);
        var allocations = uow.Session.ListAllocations(organization.Value).ToDictionary(a => a.Id);
        var alerts = new List<Alert>(rows.Count);
        foreach (var row in rows)
        {
            var visible = allocations.TryGetValue(row.AllocationId, out var allocation) ? levelOn(allocation) >= AccessLevel.Read : isAdmin;
            if (visible)
            {
                alerts.Add(ToAlert(row));
            }
        }
        return new AlertPage(alerts, new AlertCursor(rows[^1].Id));
    }

    private static Alert ToAlert(AlertRow row)
    {
        var id = row.Id.ToString(CultureInfo.InvariantCulture);
        var threshold = AlertThreshold.FromStored(row.Kind, row.Value) ?? throw new StoredRowException("alerts", id, $"kind {row.Kind} is not a threshold kind");
        if (row.Direction is not ((int)AlertDirection.Up or (int)AlertDirection.Down))
        {
            throw new StoredRowException("alerts", id, $"direction {row.Direction} is not a direction");
        }
        return new Alert(
            new AlertCursor(row.Id),
            new OrganizationId(row.OrgId),
            new AllocationId(row.AllocationId),
            row.AllocationName,
            threshold,
            (AlertDirection)row.Direction,
            Amount.FromMicros(row.Total),
            Amount.FromMicros(row.Used),
            Amount.FromMicros(row.Estimated),
            row.EventId is { } e ? new UsageEventId(e) : null,
            row.Operation,
            row.JournalId,
            InstantCodec.FromNs(row.AtNs),
            row.Actor);
    }

    /// <summary>Records, once each, the period alerts due at the call's instant (the store's clock): an allocation whose
    /// own period ends within <paramref name="leadNs"/> from now, and one whose period has ended with Remaining above
    /// zero. Each is journalled on its allocation as <c>allocation.period-alert</c>. Returns how many were recorded.</summary>
    internal static int SweepPeriods(UnitOfWork uow, OrganizationId organization, long leadNs)
    {
        uow.Access.RequireOrganization(organization, Operation.SweepPeriodAlerts);
        var session = uow.Session;
        var now = uow.NowNs;
        var recorded = 0;
        foreach (var row in session.ListAllocations(organization.Value))
        {
            if (row.PeriodEndNs is not { } end)
            {
                continue;
            }
            // Expired holds no longer count: the period ended unspent if Remaining without them is above zero.
            var estimated = row.Estimated - session.SumExpiredHolds(row.Id, now).Tree;
            AlertThresholdKind? kind = end <= now
                ? ((Int128)row.Total - row.Used - estimated > 0 ? AlertThresholdKind.PeriodEndedUnspent : null)
                : (leadNs > 0 && (Int128)end - now <= leadNs ? AlertThresholdKind.PeriodEnding : null);
            if (kind is not { } due || session.AlertRecorded(row.Id, (int)due, end))
            {
                continue;
            }
            var journal = uow.Journal;
            var sequence = journal.Append(
                row.OrgId,
                row.Id,
                "allocation.period-alert",
                new AllocationId(row.Id).ToString(),
                null,
                journal.Object(("alert", due == AlertThresholdKind.PeriodEnding ? "period-ending" : "period-ended-unspent"), ("periodEnd", InstantCodec.FromNs(end).ToString())));
            session.InsertAlert(new AlertRow
            {
                OrgId = row.OrgId,
                AllocationId = row.Id,
                AllocationName = row.Name,
                Kind = (int)due,
                Value = end,
                Direction = (int)AlertDirection.Up,
                Total = row.Total,
                Used = row.Used,
                Estimated = estimated,
                JournalId = sequence,
                Operation = "allocation.period-alert",
                AtNs = now,
                Actor = uow.Actor.Encoded,
            });
            recorded++;
        }
        return recorded;
    }

    /// <summary>Records an alert for every threshold the call's writes crossed: compares each changed allocation's
    /// figures before the call's first figure write and after its last (so a batch records each crossing of its net
    /// change once). Called by every write call once its work is done, in its transaction, after its journal entries.</summary>
    internal static void Record(UnitOfWork uow)
    {
        var session = uow.Session;
        var changes = session.TakeFigureChanges();
        if (changes.Count == 0)
        {
            return;
        }
        // An expired hold replaced by a live one of the same amount leaves the stored figures as they were, yet the
        // figures that count moved: the call's expired holds are a change too.
        var moved = changes.Where(c => c.TotalBefore != c.TotalAfter || c.UsedBefore != c.UsedAfter || c.EstimatedBefore != c.EstimatedAfter
            || uow.Causes.ExpiredHoldsGone(c.AllocationId) != 0).ToList();
        if (moved.Count == 0)
        {
            return;
        }
        var thresholds = session.ListThresholds([.. moved.Select(c => c.AllocationId)]).ToLookup(t => t.AllocationId, ToThreshold);
        foreach (var change in moved)
        {
            if (!thresholds.Contains(change.AllocationId))
            {
                continue;
            }
            // Expired holds no longer count (whether or not swept): the figures compared exclude them before and after.
            var expiredAfter = (Int128)session.SumExpiredHolds(change.AllocationId, uow.NowNs).Tree;
            var expiredBefore = expiredAfter + uow.Causes.ExpiredHoldsGone(change.AllocationId);
            var crossed = Crossings.Between(
                change.TotalBefore,
                (Int128)change.UsedBefore + change.EstimatedBefore - expiredBefore,
                change.TotalAfter,
                (Int128)change.UsedAfter + change.EstimatedAfter - expiredAfter,
                thresholds[change.AllocationId]);
            if (crossed.Count == 0)
            {
                continue;
            }
            var (eventId, operation, sequence) = uow.Causes.For(change.AllocationId);
            foreach (var (threshold, direction) in crossed)
            {
                session.InsertAlert(new AlertRow
                {
                    OrgId = change.OrgId,
                    AllocationId = change.AllocationId,
                    AllocationName = change.Name,
                    Kind = (int)threshold.Kind,
                    Value = threshold.Value,
                    Direction = (int)direction,
                    Total = change.TotalAfter,
                    Used = change.UsedAfter,
                    Estimated = checked((long)(change.EstimatedAfter - expiredAfter)),
                    EventId = eventId,
                    JournalId = sequence,
                    Operation = operation,
                    AtNs = uow.NowNs,
                    Actor = uow.Actor.Encoded,
                });
            }
        }
    }
}
