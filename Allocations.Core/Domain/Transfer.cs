namespace Allocations.Domain;

/// <summary>What a transfer did: the two allocations with their new totals, and the amount moved.</summary>
/// <remarks>A snapshot read in the transfer's transaction. Both totals changed in that one transaction, each kept in
/// its allocation's total history with the reason and journalled on its allocation.</remarks>
public sealed class TransferResult
{
    /// <summary>Initializes a result.</summary>
    /// <param name="source">The allocation the budget came from, with its new total.</param>
    /// <param name="target">The allocation the budget went to, with its new total.</param>
    /// <param name="amount">The amount moved.</param>
    /// <param name="forced">Whether the transfer took the source's total below its Used plus Estimated.</param>
    internal TransferResult(Allocation source, Allocation target, Amount amount, bool forced)
    {
        Source = source;
        Target = target;
        Amount = amount;
        Forced = forced;
    }

    /// <summary>Gets the allocation the budget came from, with its total after the transfer.</summary>
    public Allocation Source { get; }

    /// <summary>Gets the allocation the budget went to, with its total after the transfer.</summary>
    public Allocation Target { get; }

    /// <summary>Gets the amount moved.</summary>
    public Amount Amount { get; }

    /// <summary>Gets whether the transfer took the source's total below what it has used plus held (its Remaining is
    /// now negative), which only an organization admin's forced transfer may do.</summary>
    public bool Forced { get; }

    /// <summary>Returns the amount and both allocations' new totals.</summary>
    /// <returns>Such as <c>moved 100.000000 from allocation:3 (total 900.000000) to allocation:4 (total 200.000000)</c>.</returns>
    public override string ToString() =>
        $"moved {Amount} from {Source.Id} (total {Source.Total}) to {Target.Id} (total {Target.Total}){(Forced ? ", forced" : "")}";
}
