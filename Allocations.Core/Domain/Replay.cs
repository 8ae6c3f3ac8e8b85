namespace Allocations.Domain;

/// <summary>A stored row that is not what the journal says it should be, found by
/// <see cref="AllocationStore.VerifyAgainstJournalAsync"/>.</summary>
/// <remarks>Two findings are equal when every property is (ordinal comparison).</remarks>
public sealed class ReplayFinding : IEquatable<ReplayFinding>
{
    /// <summary>Initializes a finding.</summary>
    /// <param name="table">The table of the row (or <c>journal</c> for an entry the replay could not follow).</param>
    /// <param name="row">The row, such as <c>allocation:7</c>, <c>event:42</c>, <c>allocation:7 group:physics</c>.</param>
    /// <param name="problem">What differs from the journal.</param>
    internal ReplayFinding(string table, string row, string problem)
    {
        Table = table;
        Row = row;
        Problem = problem;
    }

    /// <summary>Gets the table of the row: <c>allocations</c>, <c>usage_events</c>, <c>grants</c>, <c>groups</c>,
    /// <c>group_members</c>, <c>org_admins</c>, or <c>journal</c> for an entry the replay could not follow.</summary>
    public string Table { get; }

    /// <summary>Gets the row, such as <c>allocation:7</c>, <c>event:42</c>, <c>allocation:7 group:physics</c> or
    /// <c>#12</c> (a journal entry).</summary>
    public string Row { get; }

    /// <summary>Gets what differs from the journal, such as <c>its total is 900.000000, the journal says 1000.000000</c>.</summary>
    public string Problem { get; }

    /// <inheritdoc />
    public bool Equals(ReplayFinding? other) =>
        other is not null && string.Equals(Table, other.Table, StringComparison.Ordinal) && string.Equals(Row, other.Row, StringComparison.Ordinal)
        && string.Equals(Problem, other.Problem, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ReplayFinding);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(
        StringComparer.Ordinal.GetHashCode(Table), StringComparer.Ordinal.GetHashCode(Row), StringComparer.Ordinal.GetHashCode(Problem));

    /// <summary>Returns the table, the row and the problem.</summary>
    /// <returns>Such as <c>allocations allocation:7: its total is 900.000000, the journal says 1000.000000</c>.</returns>
    public override string ToString() => $"{Table} {Row}: {Problem}";

    /// <summary>Compares two findings for equality.</summary>
    /// <param name="left">The first finding.</param>
    /// <param name="right">The second finding.</param>
    /// <returns>True when both are null or every property is equal.</returns>
    public static bool operator ==(ReplayFinding? left, ReplayFinding? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two findings for inequality.</summary>
    /// <param name="left">The first finding.</param>
    /// <param name="right">The second finding.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(ReplayFinding? left, ReplayFinding? right) => !(left == right);
}

/// <summary>The result of replaying an organization's journal and checking today's stored state against it.</summary>
public sealed class ReplayVerification
{
    /// <summary>Initializes the result.</summary>
    /// <param name="chain">The check of the journal's hash chain and batch digests, done first.</param>
    /// <param name="entriesReplayed">How many entries were replayed (0 when the chain does not hold).</param>
    /// <param name="findings">Each stored row that differs from the journal.</param>
    internal ReplayVerification(JournalVerification chain, long entriesReplayed, IReadOnlyList<ReplayFinding> findings)
    {
        Chain = chain;
        EntriesReplayed = entriesReplayed;
        Findings = findings;
    }

    /// <summary>Gets the check of the journal itself (hash chain, batch digests), done before the replay: when it does
    /// not hold, the entries cannot be trusted and nothing is replayed.</summary>
    public JournalVerification Chain { get; }

    /// <summary>Gets how many entries were replayed.</summary>
    public long EntriesReplayed { get; }

    /// <summary>Gets each stored row (allocation, event, grant, group, member, organization admin) that is not what
    /// the journal says it should be; empty when today's state is exactly the journal's.</summary>
    public IReadOnlyList<ReplayFinding> Findings { get; }

    /// <summary>Gets whether the journal holds and today's state is what it says.</summary>
    public bool IsClean => Chain.IsIntact && Findings.Count == 0;

    /// <summary>Returns the counts.</summary>
    /// <returns>Such as <c>120 entries replayed: 0 findings</c> or <c>journal broken at #7 …</c>.</returns>
    public override string ToString() => Chain.IsIntact
        ? $"{EntriesReplayed} entries replayed: {Findings.Count} findings"
        : $"journal {Chain}; not replayed";
}
