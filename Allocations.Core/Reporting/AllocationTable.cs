using Allocations.Domain;

namespace Allocations.Reporting;

/// <summary>Orders and filters the allocations a caller can Read into the allocation table: top-level lines sorted by
/// the chosen column, each parent's children right under it sorted the same way.</summary>
/// <remarks>Ties on the chosen column are broken by name (ignoring case), then by id, so the order is total and a sort
/// that is not stable gives the same table. Each line's sort key is computed once.</remarks>
internal static class AllocationTable
{
    internal static IReadOnlyList<AllocationTableRow> Build(IReadOnlyList<Allocation> visible, AllocationTableQuery query)
    {
        var byId = new Dictionary<AllocationId, Allocation>(visible.Count);
        foreach (var a in visible)
        {
            byId.Add(a.Id, a);
        }
        var selected = new List<Allocation>(visible.Count);
        var selectedIds = new HashSet<AllocationId>(visible.Count);
        foreach (var a in visible)
        {
            if ((query.Unit is not { } unit || a.Unit == unit) && (query.Parent is not { } parent || a.Id == parent || a.ParentId == parent))
            {
                selected.Add(a);
                selectedIds.Add(a.Id);
            }
        }

        // A child whose parent is not in the table (invisible or filtered out) is a line of its own at the top.
        var tops = new List<Line>();
        var children = new Dictionary<AllocationId, List<Line>>();
        foreach (var a in selected)
        {
            var line = new Line(a, query.SortBy);
            if (a.ParentId is { } p && selectedIds.Contains(p))
            {
                if (!children.TryGetValue(p, out var siblings))
                {
                    siblings = [];
                    children.Add(p, siblings);
                }
                siblings.Add(line);
            }
            else
            {
                tops.Add(line);
            }
        }
        var comparison = Comparison(query);
        tops.Sort(comparison);
        var rows = new List<AllocationTableRow>(selected.Count);
        foreach (var top in tops)
        {
            rows.Add(Row(top.Allocation, 0, byId));
            if (children.TryGetValue(top.Allocation.Id, out var siblings))
            {
                siblings.Sort(comparison);
                foreach (var child in siblings)
                {
                    rows.Add(Row(child.Allocation, 1, byId));
                }
            }
        }
        return rows;
    }

    /// <summary>The order of one query: the chosen column (descending when asked), then name ascending ignoring case,
    /// then id. No percentage (a zero total) sorts last in both directions; units compare as upper-case codes with the
    /// default string comparer.</summary>
    private static Comparison<Line> Comparison(AllocationTableQuery query)
    {
        var descending = query.Descending;
        return query.SortBy switch
        {
            AllocationSort.Unit => (x, y) => Then(descending ? Comparer<string>.Default.Compare(y.Unit, x.Unit) : Comparer<string>.Default.Compare(x.Unit, y.Unit), x, y),
            AllocationSort.Total or AllocationSort.Used or AllocationSort.Estimated or AllocationSort.Remaining =>
                (x, y) => Then(descending ? y.Figure.CompareTo(x.Figure) : x.Figure.CompareTo(y.Figure), x, y),
            AllocationSort.PercentUsed => (x, y) =>
            {
                var c = (x.Percent is null).CompareTo(y.Percent is null);
                if (c == 0 && x.Percent is { } px && y.Percent is { } py)
                {
                    c = descending ? py.CompareTo(px) : px.CompareTo(py);
                }
                return Then(c, x, y);
            },
            _ when descending => (x, y) =>
            {
                var c = StringComparer.OrdinalIgnoreCase.Compare(y.Allocation.Name, x.Allocation.Name);
                return c != 0 ? c : x.Allocation.Id.Value.CompareTo(y.Allocation.Id.Value);
            },
            _ => static (x, y) => Then(0, x, y),
        };

        static int Then(int c, Line x, Line y)
        {
            if (c != 0)
            {
                return c;
            }
            c = StringComparer.OrdinalIgnoreCase.Compare(x.Allocation.Name, y.Allocation.Name);
            return c != 0 ? c : x.Allocation.Id.Value.CompareTo(y.Allocation.Id.Value);
        }
    }

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

    /// <summary>An allocation with the key of the column it is sorted by, computed once.</summary>
    private readonly struct Line
    {
        internal Line(Allocation allocation, AllocationSort sortBy)
        {
            Allocation = allocation;
            switch (sortBy)
            {
                case AllocationSort.Unit:
                    Unit = allocation.Unit.Value.ToUpperInvariant();
                    break;
                case AllocationSort.Total:
                    Figure = allocation.Total;
                    break;
                case AllocationSort.Used:
                    Figure = allocation.Used;
                    break;
                case AllocationSort.Estimated:
                    Figure = allocation.Estimated;
                    break;
                case AllocationSort.Remaining:
                    Figure = allocation.Remaining;
                    break;
                case AllocationSort.PercentUsed:
                    Percent = allocation.PercentUsed;
                    break;
                default:
                    break;
            }
        }

        internal Allocation Allocation { get; }

        internal string? Unit { get; }

        internal Amount Figure { get; }

        internal decimal? Percent { get; }
    }
}
