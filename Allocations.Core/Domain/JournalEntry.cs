using NodaTime;

namespace Allocations.Domain;

/// <summary>One entry of the journal: a change, who made it and when, and the state before and after.</summary>
/// <remarks>Entries of an organization form a hash chain: <see cref="Hash"/> is SHA-256 over
/// <see cref="PreviousHash"/> and the entry's content, so an entry edited or removed behind the library's back is
/// found by <see cref="AllocationStore.VerifyJournalAsync"/>. Compare entries by <see cref="Sequence"/> or
/// <see cref="Hash"/>.</remarks>
public sealed class JournalEntry
{
    /// <summary>Initializes an entry.</summary>
    /// <param name="sequence">The entry's position in the store's journal.</param>
    /// <param name="organization">The organization the change belongs to.</param>
    /// <param name="allocation">The allocation changed, or null.</param>
    /// <param name="at">When.</param>
    /// <param name="actor">Who.</param>
    /// <param name="action">What.</param>
    /// <param name="target">What it was aimed at.</param>
    /// <param name="before">The state before, or null.</param>
    /// <param name="after">The state after, or null.</param>
    /// <param name="hash">The entry's hash.</param>
    /// <param name="previousHash">The hash of the organization's entry before it.</param>
    internal JournalEntry(
        long sequence,
        OrganizationId organization,
        AllocationId? allocation,
        Instant at,
        string actor,
        string action,
        string target,
        string? before,
        string? after,
        string hash,
        string previousHash)
    {
        Sequence = sequence;
        Organization = organization;
        Allocation = allocation;
        At = at;
        Actor = actor;
        Action = action;
        Target = target;
        Before = before;
        After = after;
        Hash = hash;
        PreviousHash = previousHash;
    }

    /// <summary>Gets the entry's position in the store's journal; increasing, never reused.</summary>
    public long Sequence { get; }

    /// <summary>Gets the organization the change belongs to.</summary>
    public OrganizationId Organization { get; }

    /// <summary>Gets the allocation changed, or null for organization-level changes (catalogue, groups, admins).</summary>
    public AllocationId? Allocation { get; }

    /// <summary>Gets when, by the store's clock.</summary>
    public Instant At { get; }

    /// <summary>Gets who: <c>user:</c> followed by the host's user id (a user named <c>system</c> is
    /// <c>user:system</c>), or <c>system</c> for the system actor.</summary>
    public string Actor { get; }

    /// <summary>Gets what, such as <c>allocation.total</c> or <c>usage.record</c>.</summary>
    public string Action { get; }

    /// <summary>Gets what it was aimed at, such as <c>allocation:7</c>, <c>event:42</c>, <c>group:physics</c>.</summary>
    public string Target { get; }

    /// <summary>Gets the state before, as a JSON object; null when the target was created.</summary>
    public string? Before { get; }

    /// <summary>Gets the state after, as a JSON object; null when the target was deleted.</summary>
    public string? After { get; }

    /// <summary>Gets the entry's hash, lowercase hex.</summary>
    public string Hash { get; }

    /// <summary>Gets the hash of the organization's entry before it (64 zeros for the first), lowercase hex.</summary>
    public string PreviousHash { get; }

    /// <summary>Returns the sequence, when, who, what and on what.</summary>
    /// <returns>Such as <c>#12 2025-11-01T00:00:00Z user:alice usage.record event:42</c>.</returns>
    public override string ToString() => $"#{Sequence} {At} {Actor} {Action} {Target}";
}

/// <summary>The result of checking an organization's journal chain.</summary>
/// <remarks>Two results are equal when every property is (ordinal comparison).</remarks>
public sealed class JournalVerification : IEquatable<JournalVerification>
{
    /// <summary>Initializes the result.</summary>
    /// <param name="entriesChecked">How many entries were read.</param>
    /// <param name="firstBrokenSequence">The sequence of the first entry that does not hold, or null.</param>
    /// <param name="problem">What is wrong with that entry, or null.</param>
    /// <param name="headHash">The hash of the last entry when the chain holds, or null.</param>
    internal JournalVerification(long entriesChecked, long? firstBrokenSequence, string? problem, string? headHash)
    {
        EntriesChecked = entriesChecked;
        FirstBrokenSequence = firstBrokenSequence;
        Problem = problem;
        HeadHash = headHash;
    }

    /// <summary>Gets how many entries were read (up to and including the first broken one).</summary>
    public long EntriesChecked { get; }

    /// <summary>Gets the sequence of the first entry that does not hold, or null when all hold.</summary>
    public long? FirstBrokenSequence { get; }

    /// <summary>Gets what is wrong with that entry, or null.</summary>
    public string? Problem { get; }

    /// <summary>Gets the hash of the last entry when the chain holds (lowercase hex; null for an empty journal). A host
    /// that stores it elsewhere can later detect entries removed from the end, which the chain alone cannot.</summary>
    public string? HeadHash { get; }

    /// <summary>Gets whether every entry holds.</summary>
    public bool IsIntact => FirstBrokenSequence is null;

    /// <inheritdoc />
    public bool Equals(JournalVerification? other) =>
        other is not null && EntriesChecked == other.EntriesChecked && FirstBrokenSequence == other.FirstBrokenSequence
        && string.Equals(Problem, other.Problem, StringComparison.Ordinal) && string.Equals(HeadHash, other.HeadHash, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as JournalVerification);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(EntriesChecked, FirstBrokenSequence,
        Problem is null ? 0 : StringComparer.Ordinal.GetHashCode(Problem), HeadHash is null ? 0 : StringComparer.Ordinal.GetHashCode(HeadHash));

    /// <summary>Returns whether the chain holds, or where and why it breaks.</summary>
    /// <returns>Such as <c>intact, 12 entries, head 3f…</c> or <c>broken at #7 after 7 entries: hash mismatch</c>.</returns>
    public override string ToString() => IsIntact
        ? $"intact, {EntriesChecked} entries, head {HeadHash ?? "(none)"}"
        : $"broken at #{FirstBrokenSequence} after {EntriesChecked} entries: {Problem}";

    /// <summary>Compares two results for equality.</summary>
    /// <param name="left">The first result.</param>
    /// <param name="right">The second result.</param>
    /// <returns>True when both are null or every property is equal.</returns>
    public static bool operator ==(JournalVerification? left, JournalVerification? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two results for inequality.</summary>
    /// <param name="left">The first result.</param>
    /// <param name="right">The second result.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(JournalVerification? left, JournalVerification? right) => !(left == right);
}
