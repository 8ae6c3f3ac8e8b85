using Allocations.Budgets;
using Allocations.Domain;
using Allocations.Storage;
using Allocations.Utility;
using NodaTime;
using Period = Allocations.Budgets.Period;

namespace Allocations.Import.Slurm;

/// <summary>The allocations a mapping's accounts name, as one transaction sees them: which one a job goes to (the one
/// whose period holds its start), and which accounts name allocations whose periods overlap.</summary>
internal sealed class SlurmAccounts
{
    private readonly IReadOnlyDictionary<string, AllocationRow> byName;
    private readonly Dictionary<long, AllocationRow> byId;

    /// <param name="byName">The organization's allocations by <see cref="Preconditions.NameKey"/>.</param>
    internal SlurmAccounts(IReadOnlyDictionary<string, AllocationRow> byName)
    {
        this.byName = byName;
        byId = byName.Values.ToDictionary(r => r.Id);
    }

    internal AllocationRow? Find(string name) => byName.GetValueOrDefault(Preconditions.NameKey(name));

    /// <summary>The period usage on the allocation must start in: its own, within its parent's.</summary>
    internal Period PeriodOf(AllocationRow row) => Period.Effective(row, row.ParentId is { } p ? byId.GetValueOrDefault(p) : null);

    /// <summary>The allocation a job of <paramref name="account"/> starting at <paramref name="start"/> goes to, or
    /// why none does: a name that does not exist, or no period holding the start.</summary>
    internal (AllocationRow? Row, string? Refusal) Pick(string account, IReadOnlyList<string> names, Instant start, OrganizationId organization)
    {
        var startNs = InstantCodec.ToNsUnchecked(start);
        string? missing = null;
        var candidates = new List<AllocationRow>(names.Count);
        foreach (var name in names)
        {
            if (Find(name) is not { } row)
            {
                missing ??= name;
                continue;
            }
            if (PeriodOf(row).Contains(startNs))
            {
                return (row, null);
            }
            candidates.Add(row);
        }
        if (missing is not null)
        {
            return (null, $"allocation '{missing}' does not exist in {organization}");
        }
        var listed = string.Join(", ", candidates.Select(r => $"'{r.Name}' {PeriodOf(r)}"));
        return (null, $"account '{account}' maps to {listed}; none takes usage starting at {start}");
    }

    /// <summary>Each account whose allocations have overlapping periods, with the first such pair.</summary>
    internal IEnumerable<(string Account, string Problem)> Overlaps(SlurmMapping mapping)
    {
        foreach (var (account, names) in mapping.Accounts)
        {
            var rows = names.Select(Find).OfType<AllocationRow>().ToList();
            var pair = rows.SelectMany((a, i) => rows.Skip(i + 1).Select(b => (a, b))).FirstOrDefault(x => PeriodOf(x.a).Overlaps(PeriodOf(x.b)));
            if (pair.a is { } first)
            {
                yield return (account, $"allocations '{first.Name}' {PeriodOf(first)} and '{pair.b.Name}' {PeriodOf(pair.b)} have overlapping periods, so a job's start cannot choose between them");
            }
        }
    }
}
