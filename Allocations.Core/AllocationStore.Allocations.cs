using System.Globalization;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Journal;
using Allocations.Storage;
using Allocations.Utility;

namespace Allocations;

public sealed partial class AllocationStore
{
    private const int MaxReasonLength = 2000;

    /// <summary>Creates an allocation: top-level, or a child under a top-level parent.</summary>
    /// <remarks>Name, unit and parent are fixed from now on; only the total changes. A new allocation is visible to
    /// organization admins only until they grant access.</remarks>
    /// <param name="actor">An organization admin for a top-level allocation; Admin of the parent for a child.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="allocation">What to create.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new allocation.</returns>
    /// <exception cref="InvalidInputException">The name or total is invalid, the parent is itself a child, or the
    /// unit differs from the parent's.</exception>
    /// <exception cref="NotFoundException">The organization, unit or parent does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor may not create it.</exception>
    /// <exception cref="ConflictException">The name is taken in the organization.</exception>
    public Task<Allocation> CreateAllocationAsync(Principal actor, OrganizationId organization, NewAllocation allocation, CancellationToken cancellationToken = default)
    {
        Preconditions.CheckNotNull(allocation, "allocation");
        var name = Preconditions.CheckName(allocation.Name, "name");
        CheckCode(allocation.Unit.Value, "unit");
        CheckTotal(allocation.Total);
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.CheckActor(actor);
                long? parentId = null;
                if (allocation.ParentId is { } pid)
                {
                    var parent = AccessResolver.RequireAllocation(session, actor, pid, Operation.CreateChildAllocation);
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
                    parentId = parent.Id;
                }
                else
                {
                    AccessResolver.RequireOrganization(session, actor, organization, Operation.CreateTopLevelAllocation);
                }
                var unit = session.FindUnit(organization.Value, CodeRules.Key(allocation.Unit.Value)) ?? throw new NotFoundException(allocation.Unit);
                var key = Preconditions.NameKey(name);
                if (session.AllocationNameExists(organization.Value, key))
                {
                    throw new ConflictException($"an allocation named {InvalidInputException.Display(name)} already exists in {organization}", ["name"]);
                }
                var now = NowNs();
                var id = session.InsertAllocation(organization.Value, name, key, unit.Id, parentId, allocation.Total.Micros, now, actor.Id);
                var created = session.GetAllocation(id)!;
                var journal = new JournalWriter(session, actor, now);
                journal.Append(organization.Value, id, "allocation.create", new AllocationId(id).ToString(), null, journal.Allocation(created));
                return ToAllocation(created);
            },
            cancellationToken);
    }

    /// <summary>Gets an allocation with its current figures.</summary>
    /// <param name="actor">Anyone with Read on it.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The allocation.</returns>
    /// <exception cref="NotFoundException">It does not exist, or the actor may not Read it.</exception>
    public Task<Allocation> GetAllocationAsync(Principal actor, AllocationId allocation, CancellationToken cancellationToken = default) =>
        engine.ReadAsync(
            session => ToAllocation(AccessResolver.RequireAllocation(session, actor, allocation, Operation.ReadAllocation)),
            cancellationToken);

    /// <summary>Lists the allocations of an organization that the actor can Read, parents before their children.</summary>
    /// <param name="actor">Any principal; the list holds only what it may Read.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The allocations with their figures; reading them never scans events.</returns>
    public Task<IReadOnlyList<Allocation>> ListAllocationsAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        engine.ReadAsync<IReadOnlyList<Allocation>>(
            session =>
            {
                AccessResolver.CheckActor(actor);
                var rows = session.ListAllocations(organization.Value);
                var visible = new List<Allocation>(rows.Count);
                var levelOn = AccessResolver.Levels(session, actor, organization.Value);
                foreach (var row in rows)
                {
                    if (levelOn(row) >= AccessLevel.Read)
                    {
                        visible.Add(ToAllocation(row));
                    }
                }
                return OrderParentsFirst(visible);
            },
            cancellationToken);

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
        CheckTotal(newTotal);
        var why = Preconditions.CheckText(reason, "reason", MaxReasonLength);
        return engine.WriteAsync(
            session =>
            {
                var row = AccessResolver.RequireAllocation(session, actor, allocation, Operation.ChangeTotal);
                var now = NowNs();
                var journal = new JournalWriter(session, actor, now);
                journal.Append(
                    row.OrgId,
                    row.Id,
                    "allocation.total",
                    allocation.ToString(),
                    journal.Object(("total", JournalWriter.Amount(row.Total))),
                    journal.Object(("total", JournalWriter.Amount(newTotal.Micros)), ("reason", why)));
                session.SetTotal(row.Id, newTotal.Micros);
                session.InsertTotalChange(new TotalChangeRow
                {
                    AllocationId = row.Id,
                    OldTotal = row.Total,
                    NewTotal = newTotal.Micros,
                    Actor = actor.Encoded,
                    AtNs = now,
                    Reason = why,
                });
                row.Total = newTotal.Micros;
                return ToAllocation(row);
            },
            cancellationToken);
    }

    /// <summary>Gets the history of an allocation's total, oldest first.</summary>
    /// <param name="actor">Anyone with Read on it.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The changes.</returns>
    /// <exception cref="NotFoundException">It does not exist, or the actor may not Read it.</exception>
    public Task<IReadOnlyList<TotalChange>> GetTotalHistoryAsync(Principal actor, AllocationId allocation, CancellationToken cancellationToken = default) =>
        engine.ReadAsync<IReadOnlyList<TotalChange>>(
            session =>
            {
                var row = AccessResolver.RequireAllocation(session, actor, allocation, Operation.ReadAllocation);
                return session.ListTotalChanges(row.Id)
                    .Select(c => new TotalChange(allocation, Amount.FromMicros(c.OldTotal), Amount.FromMicros(c.NewTotal), c.Actor, InstantCodec.FromNs(c.AtNs), c.Reason))
                    .ToList();
            },
            cancellationToken);

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
        engine.WriteAsync(
            session =>
            {
                var row = AccessResolver.RequireAllocation(session, actor, allocation, Operation.DeleteAllocation);
                var children = session.ListChildren(row.Id);
                if (children.Count > 0 && !cascade)
                {
                    throw new ConflictException(
                        $"allocation '{row.Name}' has {children.Count} children; delete them first or ask to cascade",
                        ["cascade"]);
                }
                // Each deleted allocation leaves an entry with its final figures, its event count and its grants.
                var journal = new JournalWriter(session, actor, NowNs());
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
                    session.SetFigures(parent.Id, parent.OwnUsed, parent.OwnEstimated, checked(parent.Used - row.Used), checked(parent.Estimated - row.Estimated));
                    journal.Append(parent.OrgId, parent.Id, "allocation.child-deleted", new AllocationId(parent.Id).ToString(), before, journal.Allocation(session.GetAllocation(parentId)!, ("child", row.Id)));
                }
                Deleted(row, "request");
                session.DeleteAllocation(row.Id);
                session.RecountOrgUsageSums(row.OrgId); // its events (and its children's) went with it
                return children.Count + 1;
            },
            cancellationToken);

    private static void CheckTotal(Amount total)
    {
        if (total.Micros < 0)
        {
            throw new InvalidInputException("total", total.ToString(), "must not be negative");
        }
    }

    /// <summary>The allocation of a row. Writes keep Used + Estimated in range, so Remaining and the percentage can
    /// always be computed; a row that breaks this (an older or edited file) throws <see cref="OverflowException"/>
    /// here, inside the unit of work, where the engine translates it, not later in the caller's hands.</summary>
    internal static Allocation ToAllocation(AllocationRow row)
    {
        _ = checked(row.Used + row.Estimated);
        return new(
            new AllocationId(row.Id),
            new OrganizationId(row.OrgId),
            row.Name,
            new UnitCode(row.UnitCode),
            row.ParentId is { } p ? new AllocationId(p) : null,
            Amount.FromMicros(row.Total),
            Amount.FromMicros(row.Used),
            Amount.FromMicros(row.Estimated),
            Amount.FromMicros(row.OwnUsed),
            Amount.FromMicros(row.OwnEstimated),
            InstantCodec.FromNs(row.CreatedNs));
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

    private static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
}
