using Allocations.Access;
using Allocations.Catalogue;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Journal;
using Allocations.Storage;
using Allocations.Utility;

namespace Allocations.Budgets;

/// <summary>Allocations and their figures: creation, totals, deletion with the parent's figures, listing and the
/// recount that verifies them, inside the caller's unit of work.</summary>
internal static class AllocationService
{
    internal const int MaxReasonLength = 2000;

    internal static string CheckNew(NewAllocation allocation)
    {
        Preconditions.CheckNotNull(allocation, "allocation");
        var name = Preconditions.CheckName(allocation.Name, "name");
        CatalogueService.CheckCode(allocation.Unit.Value, "unit");
        CheckTotal(allocation.Total);
        PeriodService.Check(allocation.PeriodStart, allocation.PeriodEnd, "periodStart", "periodEnd");
        return name;
    }

    internal static Allocation Create(UnitOfWork uow, OrganizationId organization, NewAllocation allocation, string name)
    {
        var (session, access) = (uow.Session, uow.Access);
        AccessRule.CheckActor(uow.Actor);
        var period = PeriodService.Check(allocation.PeriodStart, allocation.PeriodEnd, "periodStart", "periodEnd");
        long? parentId = null;
        if (allocation.ParentId is { } pid)
        {
            var parent = access.RequireAllocation(pid, Operation.CreateChildAllocation);
            if (parent.OrgId != organization.Value)
            {
                throw new NotFoundException(pid);
            }
            if (parent.ParentId is not null)
            {
                throw new InvalidInputException("parentId", pid.ToString(), $"'{parent.Name}' is itself a child; only one level of nesting is allowed");
            }
            if (!string.Equals(parent.UnitCode, allocation.Unit.Value, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidInputException("unit", allocation.Unit.Value, $"a child must have its parent's unit '{parent.UnitCode}'");
            }
            PeriodService.CheckWithinParent(period, parent, "periodStart", "periodEnd");
            parentId = parent.Id;
        }
        else
        {
            access.RequireOrganization(organization, Operation.CreateTopLevelAllocation);
        }
        var unit = session.FindUnit(organization.Value, CodeRules.Key(allocation.Unit.Value)) ?? throw new NotFoundException(allocation.Unit);
        var key = Preconditions.NameKey(name);
        if (session.AllocationNameExists(organization.Value, key))
        {
            throw new ConflictException($"an allocation named {InvalidInputException.Display(name)} already exists in {organization}", ["name"]);
        }
        var id = session.InsertAllocation(organization.Value, name, key, unit.Id, parentId, allocation.Total.Micros, uow.NowNs, uow.Actor.Id);
        if (!period.IsOpen)
        {
            session.SetPeriod(id, period.StartNs, period.EndNs);
        }
        var created = session.GetAllocation(id)!;
        var journal = uow.Journal;
        journal.Append(organization.Value, id, "allocation.create", new AllocationId(id).ToString(), null, journal.Allocation(created));
        return RowMapping.ToAllocation(created);
    }

    internal static Allocation Get(UnitOfWork uow, AllocationId allocation) =>
        AsItStands(uow, uow.Access.RequireAllocation(allocation, Operation.ReadAllocation));

    /// <summary>An allocation as callers see it: its holds that have expired by the call's instant, though still
    /// stored until swept, no longer count.</summary>
    private static Allocation AsItStands(UnitOfWork uow, AllocationRow row) =>
        RowMapping.ToAllocation(row, uow.Session.SumExpiredHolds(row.Id, uow.NowNs));

    /// <summary>The allocations of the organization the actor can Read, parents before their children.</summary>
    internal static IReadOnlyList<Allocation> List(UnitOfWork uow, OrganizationId organization) => OrderParentsFirst(Visible(uow, organization));

    /// <summary>The allocations of the organization the actor can Read, in id order (the allocation table orders
    /// them itself).</summary>
    internal static List<Allocation> Visible(UnitOfWork uow, OrganizationId organization)
    {
        AccessRule.CheckActor(uow.Actor);
        var rows = uow.Session.ListAllocations(organization.Value);
        var visible = new List<Allocation>(rows.Count);
        var levelOn = uow.Access.Levels(organization.Value);
        // The expired holds of the whole organization in one statement; a child's count in its parent's Estimated.
        var expiredOwn = uow.Session.SumExpiredHoldsByAllocation(organization.Value, uow.NowNs);
        var expiredTree = new Dictionary<long, long>();
        foreach (var row in rows)
        {
            if (expiredOwn.TryGetValue(row.Id, out var own))
            {
                expiredTree[row.Id] = checked(expiredTree.GetValueOrDefault(row.Id) + own);
                if (row.ParentId is { } parentId)
                {
                    expiredTree[parentId] = checked(expiredTree.GetValueOrDefault(parentId) + own);
                }
            }
        }
        foreach (var row in rows)
        {
            if (levelOn(row) >= AccessLevel.Read)
            {
                visible.Add(RowMapping.ToAllocation(row, (expiredOwn.GetValueOrDefault(row.Id), expiredTree.GetValueOrDefault(row.Id))));
            }
        }
        return visible;
    }

    internal static async ValueTask<Allocation> ChangeTotalAsync(UnitOfWork uow, AllocationId allocation, Amount newTotal, string reason)
    {
        var session = uow.Session;
        AccessRule.CheckActor(uow.Actor);
        await uow.LockAsync(allocation.Value).ConfigureAwait(false); // the total is read, then written
        var row = uow.Access.RequireAllocation(allocation, Operation.ChangeTotal);
        var journal = uow.Journal;
        journal.Append(
            row.OrgId,
            row.Id,
            "allocation.total",
            allocation.ToString(),
            journal.Object(("total", JournalWriter.Amount(row.Total))),
            journal.Object(("total", JournalWriter.Amount(newTotal.Micros)), ("reason", reason)));
        session.SetTotal(row.Id, newTotal.Micros);
        session.InsertTotalChange(new TotalChangeRow
        {
            AllocationId = row.Id,
            OldTotal = row.Total,
            NewTotal = newTotal.Micros,
            Actor = uow.Actor.Encoded,
            AtNs = uow.NowNs,
            Reason = reason,
        });
        row.Total = newTotal.Micros;
        return AsItStands(uow, row);
    }

    /// <summary>Checks a transfer's arguments before any transaction: a positive amount between two allocations.</summary>
    internal static string CheckTransfer(AllocationId from, AllocationId to, Amount amount, string reason)
    {
        if (amount.Micros <= 0)
        {
            throw new InvalidInputException("amount", amount.ToString(), "must be more than zero");
        }
        if (from == to)
        {
            throw new InvalidInputException("to", to.ToString(), "is the source itself; a transfer moves budget between two allocations");
        }
        return Preconditions.CheckText(reason, "reason", MaxReasonLength);
    }

    /// <summary>Moves budget from one allocation's total to another's, in one transaction: both rows locked (with their
    /// parents, in ascending id order) before their figures are read, both totals and histories written, one journal
    /// entry on each side naming only the other's id.</summary>
    internal static async ValueTask<TransferResult> TransferAsync(UnitOfWork uow, AllocationId from, AllocationId to, Amount amount, string reason, bool force)
    {
        var session = uow.Session;
        AccessRule.CheckActor(uow.Actor);
        await uow.LockWithParentsAsync(from.Value, to.Value).ConfigureAwait(false);
        var source = uow.Access.RequireAllocation(from, Operation.TransferOut);
        var target = uow.Access.RequireAllocation(to, Operation.TransferIn);
        if (source.OrgId != target.OrgId)
        {
            throw new InvalidInputException("to", to.ToString(), $"belongs to another organization than the source {from}");
        }
        if (!string.Equals(source.UnitCode, target.UnitCode, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidInputException("to", to.ToString(), $"its unit '{target.UnitCode}' differs from the source's unit '{source.UnitCode}'");
        }
        if (force)
        {
            uow.Access.Require(source, Operation.ForceTransfer);
        }
        var micros = amount.Micros;
        if (micros > source.Total)
        {
            throw new ConflictException(
                $"amount {amount} is more than the total {JournalWriter.Amount(source.Total)} of the source {from}; a total never goes below zero",
                ["amount"]);
        }
        if (micros > long.MaxValue - target.Total)
        {
            throw new InvalidInputException("amount", amount.ToString(), $"would take the total of {to} past the largest amount");
        }
        var sourceTotal = source.Total - micros;
        // Holds that have expired, though not yet swept, no longer hold anything back.
        var expired = session.SumExpiredHolds(source.Id, uow.NowNs);
        var committed = (Int128)source.Used + source.Estimated - expired.Tree;
        var forced = sourceTotal < committed;
        if (forced && !force)
        {
            var free = (Int128)source.Total - committed;
            throw new ConflictException(
                $"amount {amount} is more than the source {from} has free ({(free < 0 ? "nothing" : JournalWriter.Amount((long)free))}: total less used and held); an organization admin may force it",
                ["amount"]);
        }
        var targetTotal = target.Total + micros;
        var journal = uow.Journal;
        var moved = JournalWriter.Amount(micros);
        journal.Append(
            source.OrgId,
            source.Id,
            "allocation.transfer-out",
            from.ToString(),
            journal.Object(("total", JournalWriter.Amount(source.Total))),
            journal.Object(("total", JournalWriter.Amount(sourceTotal)), ("amount", moved), ("to", to.ToString()), ("forced", forced), ("reason", reason)));
        journal.Append(
            target.OrgId,
            target.Id,
            "allocation.transfer-in",
            to.ToString(),
            journal.Object(("total", JournalWriter.Amount(target.Total))),
            journal.Object(("total", JournalWriter.Amount(targetTotal)), ("amount", moved), ("from", from.ToString()), ("reason", reason)));
        session.SetTotal(source.Id, sourceTotal);
        session.SetTotal(target.Id, targetTotal);
        session.InsertTotalChange(new TotalChangeRow
        {
            AllocationId = source.Id,
            OldTotal = source.Total,
            NewTotal = sourceTotal,
            Actor = uow.Actor.Encoded,
            AtNs = uow.NowNs,
            Reason = $"transfer to {to}: {reason}",
        });
        session.InsertTotalChange(new TotalChangeRow
        {
            AllocationId = target.Id,
            OldTotal = target.Total,
            NewTotal = targetTotal,
            Actor = uow.Actor.Encoded,
            AtNs = uow.NowNs,
            Reason = $"transfer from {from}: {reason}",
        });
        source.Total = sourceTotal;
        target.Total = targetTotal;
        return new TransferResult(RowMapping.ToAllocation(source, expired), AsItStands(uow, target), amount, forced);
    }

    internal static IReadOnlyList<TotalChange> GetTotalHistory(UnitOfWork uow, AllocationId allocation)
    {
        var row = uow.Access.RequireAllocation(allocation, Operation.ReadAllocation);
        return uow.Session.ListTotalChanges(row.Id)
            .Select(c => new TotalChange(allocation, Amount.FromMicros(c.OldTotal), Amount.FromMicros(c.NewTotal), c.Actor, InstantCodec.FromNs(c.AtNs), c.Reason))
            .ToList();
    }

    /// <summary>Deletes an allocation (and, with <paramref name="cascade"/>, its children) with their events; a
    /// parent's figures lose the child's. Each deleted allocation leaves a journal entry with its final figures, its
    /// event count and its grants.</summary>
    internal static async ValueTask<int> DeleteAsync(UnitOfWork uow, AllocationId allocation, bool cascade)
    {
        var session = uow.Session;
        var row = uow.Access.RequireAllocation(allocation, Operation.DeleteAllocation);
        var children = session.ListChildren(row.Id);
        if (children.Count > 0 && !cascade)
        {
            throw new ConflictException(
                $"allocation '{row.Name}' has {children.Count} children; delete them first or ask to cascade",
                ["cascade"]);
        }
        // Parent and children never change, but figures do: lock them all, then read the figures to delete and move.
        long?[] locked = [row.Id, row.ParentId, .. children.Select(c => (long?)c.Id)];
        await uow.LockAsync(locked).ConfigureAwait(false);
        row = session.GetAllocation(row.Id)!;
        children = children.Count == 0 ? children : session.ListChildren(row.Id);
        var journal = uow.Journal;
        void Deleted(AllocationRow deleted, string cause) => journal.Append(
            deleted.OrgId,
            deleted.Id,
            "allocation.delete",
            new AllocationId(deleted.Id).ToString(),
            journal.Allocation(
                deleted,
                ("events", session.CountEvents(deleted.Id)),
                ("grants", session.ListGrants(deleted.Id).Select(g => $"{(g.GroupName is { } n ? "group:" + n : "organization")}={(AccessLevel)g.Level}").ToList())),
            journal.Object(("cause", cause)));
        foreach (var child in children)
        {
            Deleted(child, "cascade from " + allocation);
            session.DeleteAllocation(child.Id);
        }
        if (row.ParentId is { } parentId)
        {
            var parent = session.GetAllocation(parentId)!;
            var before = journal.Allocation(parent);
            // The child's expired holds leave the parent's Estimated too; they had stopped counting already.
            uow.Causes.ExpiredHoldGone(parent.Id, session.SumExpiredHolds(row.Id, uow.NowNs).Own);
            session.SetFigures(parent.Id, parent.OwnUsed, parent.OwnEstimated, checked(parent.Used - row.Used), checked(parent.Estimated - row.Estimated));
            journal.Append(parent.OrgId, parent.Id, "allocation.child-deleted", new AllocationId(parent.Id).ToString(), before, journal.Allocation(session.GetAllocation(parentId)!, ("child", row.Id)));
        }
        Deleted(row, "request");
        session.DeleteAllocation(row.Id);
        session.RecountOrgUsageSums(row.OrgId); // its events (and its children's) went with it
        return children.Count + 1;
    }

    /// <summary>Recomputes every figure of an organization from its events and reports each difference, and every
    /// stored row whose values do not have their columns' types.</summary>
    internal static VerificationReport Verify(UnitOfWork uow, OrganizationId organization)
    {
        var session = uow.Session;
        uow.Access.RequireOrganization(organization, Operation.Verify);
        var damage = session.FindStoredRowDamage(organization.Value)
            .Select(d => new StoredRowDamage(d.Table, d.Row, d.Column, d.Problem))
            .ToList();
        if (damage.Any(d => d.Table is "allocations" or "units" or "usage_events" or "event_segments"))
        {
            return new VerificationReport(0, 0, [], damage); // the figures cannot be read to recompute
        }
        var rows = session.ListAllocations(organization.Value);
        var own = new Dictionary<(long, int), long>();
        long events = 0;
        foreach (var sum in session.SumEventsByAllocation(organization.Value))
        {
            own[(sum.AllocationId, sum.Status)] = sum.Total;
            events += sum.Count;
        }
        long Own(long id, UsageStatus status) => own.GetValueOrDefault((id, (int)status));
        var discrepancies = new List<Discrepancy>();
        void Compare(AllocationRow row, string figure, long stored, long recomputed)
        {
            if (stored != recomputed)
            {
                discrepancies.Add(new Discrepancy(new AllocationId(row.Id), figure, Amount.FromMicros(stored), Amount.FromMicros(recomputed)));
            }
        }
        var children = rows.Where(r => r.ParentId is not null).ToLookup(r => r.ParentId!.Value);
        foreach (var row in rows)
        {
            var ownUsed = Own(row.Id, UsageStatus.Confirmed);
            var ownEstimated = Own(row.Id, UsageStatus.Estimated);
            var used = ownUsed;
            var estimated = ownEstimated;
            foreach (var child in children[row.Id])
            {
                used = checked(used + Own(child.Id, UsageStatus.Confirmed));
                estimated = checked(estimated + Own(child.Id, UsageStatus.Estimated));
            }
            Compare(row, "OwnUsed", row.OwnUsed, ownUsed);
            Compare(row, "OwnEstimated", row.OwnEstimated, ownEstimated);
            Compare(row, "Used", row.Used, used);
            Compare(row, "Estimated", row.Estimated, estimated);
        }
        foreach (var (eventId, allocationId, amount, segmentSum) in session.FindSegmentMismatches(organization.Value))
        {
            discrepancies.Add(new Discrepancy(new AllocationId(allocationId), $"segments of {new UsageEventId(eventId)}", Amount.FromMicros(amount), Amount.FromMicros(segmentSum)));
        }
        return new VerificationReport(rows.Count, events, discrepancies, damage);
    }

    internal static void CheckTotal(Amount total)
    {
        if (total.Micros < 0)
        {
            throw new InvalidInputException("total", total.ToString(), "must not be negative");
        }
    }

    private static List<Allocation> OrderParentsFirst(List<Allocation> allocations)
    {
        var byParent = allocations.Where(a => a.ParentId is not null).ToLookup(a => a.ParentId!.Value);
        var ordered = new List<Allocation>(allocations.Count);
        var placed = new HashSet<AllocationId>();
        foreach (var top in allocations.Where(a => a.ParentId is null).OrderBy(a => a.Name, StringComparer.OrdinalIgnoreCase))
        {
            ordered.Add(top);
            placed.Add(top.Id);
            foreach (var child in byParent[top.Id].OrderBy(a => a.Name, StringComparer.OrdinalIgnoreCase))
            {
                ordered.Add(child);
                placed.Add(child.Id);
            }
        }
        // Children whose parent the caller cannot see still appear, after the visible trees.
        ordered.AddRange(allocations.Where(a => !placed.Contains(a.Id)).OrderBy(a => a.Name, StringComparer.OrdinalIgnoreCase));
        return ordered;
    }
}
