using Allocations.Domain;

namespace Allocations.Reporting;

/// <summary>Orders and filters the allocations a caller can Read into the allocation table: top-level lines sorted by
/// the chosen column, each parent's children right under it sorted the same way.</summary>
internal static class AllocationTable
{
    internal static IReadOnlyList<AllocationTableRow> Build(IReadOnlyList<Allocation> visible, AllocationTableQuery query)
    {
        var byId = visible.ToDictionary(a => a.Id);
        var selected = visible.Where(a =>
            (query.Unit is not { } unit || a.Unit == unit) &&
            (query.Parent is not { } parent || a.Id == parent || a.ParentId == parent)).ToList();
        var selectedIds = selected.Select(a => a.Id).ToHashSet();

        // A child whose parent is not in the table (invisible or filtered out) is a line of its own at the top.
        bool IsTop(Allocation a) => a.ParentId is not { } p || !selectedIds.Contains(p);
        var children = selected.Where(a => !IsTop(a)).ToLookup(a => a.ParentId!.Value);
        var rows = new List<AllocationTableRow>(selected.Count);
        foreach (var top in Sort(selected.Where(IsTop), query))
        {
            rows.Add(Row(top, 0, byId));
            foreach (var child in Sort(children[top.Id], query))
            {
                rows.Add(Row(child, 1, byId));
            }
        }
        return rows;
    }

    private static IEnumerable<Allocation> Sort(IEnumerable<Allocation> allocations, AllocationTableQuery query)
    {
        var byName = allocations.OrderBy(a => a.Name, StringComparer.OrdinalIgnoreCase).ThenBy(a => a.Id.Value);
        IOrderedEnumerable<Allocation> sorted = query.SortBy switch
        {
            AllocationSort.Unit => Order(byName, a => a.Unit.Value.ToUpperInvariant(), query.Descending),
            AllocationSort.Total => Order(byName, a => a.Total, query.Descending),
            AllocationSort.Used => Order(byName, a => a.Used, query.Descending),
            AllocationSort.Estimated => Order(byName, a => a.Estimated, query.Descending),
            AllocationSort.Remaining => Order(byName, a => a.Remaining, query.Descending),
            // No percentage (a zero total) sorts last in both directions.
            AllocationSort.PercentUsed => query.Descending
                ? byName.OrderBy(a => a.PercentUsed is null).ThenByDescending(a => a.PercentUsed)
                : byName.OrderBy(a => a.PercentUsed is null).ThenBy(a => a.PercentUsed),
            _ => query.Descending ? allocations.OrderByDescending(a => a.Name, StringComparer.OrdinalIgnoreCase).ThenBy(a => a.Id.Value) : byName,
        };
        return sorted;
    }

    // OrderBy is stable, so re-ordering the name-sorted sequence breaks ties by name.
    private static IOrderedEnumerable<Allocation> Order<TKey>(IEnumerable<Allocation> source, Func<Allocation, TKey> key, bool descending) =>
        descending ? source.OrderByDescending(key) : source.OrderBy(key);

    private static AllocationTableRow Row(Allocation a, int depth, Dictionary<AllocationId, Allocation> byId) => new(
        a.Id,
        a.Name,
        a.Unit,
        a.ParentId,
        a.ParentId is { } p && byId.TryGetValue(p, out var parent) ? parent.Name : null,
        depth,
        a.Total,
        a.Used,
        a.Estimated,
        a.Remaining,
        a.PercentUsed);
}
