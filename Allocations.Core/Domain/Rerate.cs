using NodaTime;

namespace Allocations.Domain;

/// <summary>What re-rating a SKU's events over a period would change, worked out under today's rules without
/// changing anything: the events whose stored rating differs, their old and new amounts, and what each allocation's
/// figures would move by.</summary>
/// <remarks>
/// <para>A preview is a snapshot: <see cref="AllocationStore.RerateAsync"/> applies exactly the events it lists and
/// refuses with <see cref="Exceptions.StalePreviewException"/> if any of them, or the SKU's rules or the unit's USD
/// prices, changed since it was taken.</para>
/// <para>It lists at most the number of events it was asked for, in id order. When more differ,
/// <see cref="IsComplete"/> is false: apply it and preview again for the next ones.</para>
/// </remarks>
public sealed class ReratePreview
{
    internal ReratePreview(
        OrganizationId organization,
        SkuCode sku,
        Interval interval,
        IReadOnlyList<RerateItem> events,
        IReadOnlyList<RerateAllocationDelta> allocations,
        bool isComplete,
        string token,
        byte[] rulesDigest)
    {
        Organization = organization;
        Sku = sku;
        Interval = interval;
        Events = events;
        Allocations = allocations;
        IsComplete = isComplete;
        Token = token;
        RulesDigest = rulesDigest;
    }

    /// <summary>Gets the organization of the SKU.</summary>
    public OrganizationId Organization { get; }

    /// <summary>Gets the SKU whose events were rated again.</summary>
    public SkuCode Sku { get; }

    /// <summary>Gets the period: every event of the SKU whose interval overlaps it (or, for a zero-length event, whose
    /// start lies in it) was rated again, over its whole interval.</summary>
    public Interval Interval { get; }

    /// <summary>Gets the events whose stored segments, amount or USD cost differ from a rating under today's rules, in
    /// id order.</summary>
    public IReadOnlyList<RerateItem> Events { get; }

    /// <summary>Gets, for each allocation whose figures would move, by how much (a parent's include its children's),
    /// in id order.</summary>
    public IReadOnlyList<RerateAllocationDelta> Allocations { get; }

    /// <summary>Gets whether the preview lists every event of the period that differs; false when it stopped at the
    /// limit it was asked for.</summary>
    public bool IsComplete { get; }

    /// <summary>Gets a digest of what the preview covers: the listed events as stored and as they would be, and the
    /// rules they were rated with. Two previews with equal tokens list the same changes to the same stored state.</summary>
    public string Token { get; }

    internal byte[] RulesDigest { get; }

    /// <summary>Returns the SKU, the period, the number of events listed and the token.</summary>
    /// <returns>Such as <c>CPU_HOUR over 2026-11-01T00:00:00Z/2026-12-01T00:00:00Z: 3 events differ (complete), token 5f…</c>.</returns>
    public override string ToString() =>
        $"{Sku} over {Interval}: {Events.Count} events differ ({(IsComplete ? "complete" : "more follow")}), token {Token}";
}

/// <summary>One event a re-rate changes: its amounts as stored and under today's rules.</summary>
public sealed class RerateItem
{
    internal RerateItem(UsageEventId id, AllocationId allocation, UsageStatus status, Amount oldAmount, Amount newAmount, Amount? oldUsd, Amount? newUsd, byte[] oldDigest, byte[] newDigest)
    {
        Event = id;
        Allocation = allocation;
        Status = status;
        OldAmount = oldAmount;
        NewAmount = newAmount;
        OldUsd = oldUsd;
        NewUsd = newUsd;
        OldDigest = oldDigest;
        NewDigest = newDigest;
    }

    /// <summary>Gets the event.</summary>
    public UsageEventId Event { get; }

    /// <summary>Gets the allocation it belongs to.</summary>
    public AllocationId Allocation { get; }

    /// <summary>Gets its status: its delta moves Used when Confirmed, Estimated when Estimated.</summary>
    public UsageStatus Status { get; }

    /// <summary>Gets the amount as stored.</summary>
    public Amount OldAmount { get; }

    /// <summary>Gets the amount under today's rules.</summary>
    public Amount NewAmount { get; }

    /// <summary>Gets the USD cost as stored, or null when it has none.</summary>
    public Amount? OldUsd { get; }

    /// <summary>Gets the USD cost under today's prices, or null when it has none.</summary>
    public Amount? NewUsd { get; }

    /// <summary>Gets <see cref="NewAmount"/> less <see cref="OldAmount"/> (zero when only the rules its segments name
    /// changed).</summary>
    public Amount Delta => Amount.FromMicros(NewAmount.Micros - OldAmount.Micros);

    internal byte[] OldDigest { get; }

    internal byte[] NewDigest { get; }

    /// <summary>Returns the event with its old and new amount.</summary>
    /// <returns>Such as <c>usage-event:7 of allocation:3: 384.000000 -> 512.000000</c>.</returns>
    public override string ToString() => $"{Event} of {Allocation}: {OldAmount} -> {NewAmount}";
}

/// <summary>How far a re-rate moves one allocation's figures.</summary>
public sealed class RerateAllocationDelta
{
    internal RerateAllocationDelta(AllocationId allocation, string name, Amount usedDelta, Amount estimatedDelta)
    {
        Allocation = allocation;
        Name = name;
        UsedDelta = usedDelta;
        EstimatedDelta = estimatedDelta;
    }

    /// <summary>Gets the allocation.</summary>
    public AllocationId Allocation { get; }

    /// <summary>Gets its name.</summary>
    public string Name { get; }

    /// <summary>Gets the change of its Used (a parent's includes its children's).</summary>
    public Amount UsedDelta { get; }

    /// <summary>Gets the change of its Estimated (a parent's includes its children's).</summary>
    public Amount EstimatedDelta { get; }

    /// <summary>Returns the allocation and both deltas.</summary>
    /// <returns>Such as <c>allocation:3 'Physics': used +128.000000, estimated +0.000000</c>.</returns>
    public override string ToString() =>
        $"{Allocation} '{Name}': used {(UsedDelta.Micros >= 0 ? "+" : "")}{UsedDelta}, estimated {(EstimatedDelta.Micros >= 0 ? "+" : "")}{EstimatedDelta}";
}

/// <summary>What applying a re-rate preview did.</summary>
/// <remarks>Applying a preview a second time changes nothing and says so: <see cref="Rerated"/> is 0 and
/// <see cref="AlreadyApplied"/> counts its events.</remarks>
public sealed class RerateResult
{
    internal RerateResult(int rerated, int alreadyApplied, IReadOnlyList<Allocation> allocations, IReadOnlyList<AllocationId> overTotal)
    {
        Rerated = rerated;
        AlreadyApplied = alreadyApplied;
        Allocations = allocations;
        OverTotal = overTotal;
    }

    /// <summary>Gets how many events this call re-rated (each with one journal entry).</summary>
    public int Rerated { get; }

    /// <summary>Gets how many of the preview's events already had their new rating (the preview was applied before).</summary>
    public int AlreadyApplied { get; }

    /// <summary>Gets whether the whole preview had been applied before, so this call changed nothing.</summary>
    public bool WasAlreadyApplied => Rerated == 0 && AlreadyApplied > 0;

    /// <summary>Gets the allocations whose figures this call moved, with their figures after it, in id order.</summary>
    public IReadOnlyList<Allocation> Allocations { get; }

    /// <summary>Gets those of <see cref="Allocations"/> that the re-rate took (further) past their total: a correction
    /// is applied even then, and shows as negative Remaining.</summary>
    public IReadOnlyList<AllocationId> OverTotal { get; }

    /// <summary>Returns the counts.</summary>
    /// <returns>Such as <c>re-rated 3 events (0 already applied), 1 allocation over its total</c>.</returns>
    public override string ToString() =>
        $"re-rated {Rerated} events ({AlreadyApplied} already applied), {OverTotal.Count} allocations over their total";
}
