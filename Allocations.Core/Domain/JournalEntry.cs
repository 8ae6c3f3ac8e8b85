using NodaTime;

namespace Allocations.Domain;

/// <summary>One entry of the journal: a change, who made it and when, and the state before and after.</summary>
/// <remarks>Entries of an organization form a hash chain: <see cref="Hash"/> is SHA-256 over
/// <see cref="PreviousHash"/> and the entry's content, so an entry edited or removed behind the library's back is
/// found by <see cref="AllocationStore.VerifyJournalAsync"/>.</remarks>
/// <param name="Sequence">The entry's position in the store's journal; increasing, never reused.</param>
/// <param name="Organization">The organization the change belongs to.</param>
/// <param name="Allocation">The allocation changed, or null for organization-level changes (catalogue, groups,
/// admins).</param>
/// <param name="At">When, by the store's clock.</param>
/// <param name="Actor">Who: <c>user:</c> followed by the host's user id (a user named <c>system</c> is
/// <c>user:system</c>), or <c>system</c> for the system actor.</param>
/// <param name="Action">What, such as <c>allocation.total</c> or <c>usage.record</c>.</param>
/// <param name="Target">What it was aimed at, such as <c>allocation:7</c>, <c>event:42</c>, <c>group:physics</c>.</param>
/// <param name="Before">The state before, as a JSON object; null when the target was created.</param>
/// <param name="After">The state after, as a JSON object; null when the target was deleted.</param>
/// <param name="Hash">The entry's hash, lowercase hex.</param>
/// <param name="PreviousHash">The hash of the organization's entry before it (64 zeros for the first), lowercase hex.</param>
public sealed record JournalEntry(
    long Sequence,
    OrganizationId Organization,
    AllocationId? Allocation,
    Instant At,
    string Actor,
    string Action,
    string Target,
    string? Before,
    string? After,
    string Hash,
    string PreviousHash);

/// <summary>The result of checking an organization's journal chain.</summary>
/// <param name="EntriesChecked">How many entries were read (up to and including the first broken one).</param>
/// <param name="FirstBrokenSequence">The sequence of the first entry that does not hold, or null when all hold.</param>
/// <param name="Problem">What is wrong with that entry, or null.</param>
/// <param name="HeadHash">The hash of the last entry when the chain holds (lowercase hex; null for an empty
/// journal). A host that stores it elsewhere can later detect entries removed from the end, which the chain alone
/// cannot.</param>
public sealed record JournalVerification(long EntriesChecked, long? FirstBrokenSequence, string? Problem, string? HeadHash)
{
    /// <summary>Gets whether every entry holds.</summary>
    public bool IsIntact => FirstBrokenSequence is null;
}
