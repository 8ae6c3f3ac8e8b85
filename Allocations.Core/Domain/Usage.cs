using NodaTime;

namespace Allocations.Domain;

/// <summary>Consumption to record against an allocation.</summary>
/// <remarks>
/// The interval is half-open, <c>[Start, End)</c>, with <c>End ≥ Start</c>; both must lie between 1900 and 2200.
/// With an <see cref="ExternalKey"/> the record is idempotent within the organization: the same content again
/// returns the existing event; an Estimated event under the key is replaced; a Confirmed one with different content
/// is a conflict. Attributes (user, project, cluster, job id …) are kept verbatim.
/// </remarks>
/// <param name="Allocation">The allocation to charge.</param>
/// <param name="Sku">The SKU whose rates apply.</param>
/// <param name="Quantity">The quantity: a level for PerHour SKUs, a count for PerUnit.</param>
/// <param name="Start">The start of the interval (inclusive).</param>
/// <param name="End">The end of the interval (exclusive).</param>
/// <param name="Status">Estimated (in flight) or Confirmed (final).</param>
/// <param name="ExternalKey">An optional idempotency key, 1 to 400 characters.</param>
/// <param name="Attributes">Optional attributes; keys 1 to 64 characters, values up to 1,000.</param>
public sealed record UsageRecord(
    AllocationId Allocation,
    SkuCode Sku,
    Quantity Quantity,
    Instant Start,
    Instant End,
    UsageStatus Status = UsageStatus.Confirmed,
    string? ExternalKey = null,
    IReadOnlyDictionary<string, string>? Attributes = null);

/// <summary>A part of an event's interval priced by one rate rule.</summary>
/// <param name="Interval">The part of the event's interval.</param>
/// <param name="RuleId">The rate rule that priced it.</param>
/// <param name="Rate">The rule's rate.</param>
/// <param name="Amount">The part's amount, rounded to a millionth (half to even).</param>
public sealed record RatedSegment(Interval Interval, long RuleId, Rate Rate, Amount Amount);

/// <summary>A recorded usage event, rated.</summary>
/// <param name="Id">The event's id.</param>
/// <param name="Allocation">The allocation charged.</param>
/// <param name="Sku">The SKU.</param>
/// <param name="Quantity">The quantity.</param>
/// <param name="Interval">The half-open interval it covers.</param>
/// <param name="Status">Estimated or Confirmed.</param>
/// <param name="ExternalKey">Its idempotency key, if any.</param>
/// <param name="Amount">Its amount in the allocation's unit: the sum of its segments.</param>
/// <param name="UsdAmount">Its cost in USD, where the unit is USD or has a USD price schedule; otherwise null.</param>
/// <param name="Attributes">Its attributes.</param>
/// <param name="Segments">The rated segments, in time order.</param>
/// <param name="RecordedAt">When it was (last) recorded.</param>
/// <param name="RecordedBy">Who recorded it.</param>
public sealed record UsageEvent(
    UsageEventId Id,
    AllocationId Allocation,
    SkuCode Sku,
    Quantity Quantity,
    Interval Interval,
    UsageStatus Status,
    string? ExternalKey,
    Amount Amount,
    Amount? UsdAmount,
    IReadOnlyDictionary<string, string> Attributes,
    IReadOnlyList<RatedSegment> Segments,
    Instant RecordedAt,
    string RecordedBy);

/// <summary>What recording did.</summary>
public enum RecordDisposition
{
    /// <summary>A new event was stored.</summary>
    Recorded = 1,

    /// <summary>An Estimated event with the same external key was replaced (re-rated, figures moved).</summary>
    Replaced = 2,

    /// <summary>An event with the same external key and the same content exists; nothing changed.</summary>
    Unchanged = 3,
}

/// <summary>The outcome of recording one event.</summary>
/// <param name="Disposition">What happened.</param>
/// <param name="Event">The event as stored now.</param>
public sealed record RecordResult(RecordDisposition Disposition, UsageEvent Event);

/// <summary>The outcome of a batch: how many of each disposition, and the event ids in input order.</summary>
/// <param name="Recorded">New events stored.</param>
/// <param name="Replaced">Estimated events replaced.</param>
/// <param name="Unchanged">Items that matched an existing event.</param>
/// <param name="EventIds">The id of each item's event, in input order.</param>
public sealed record BatchResult(int Recorded, int Replaced, int Unchanged, IReadOnlyList<UsageEventId> EventIds);

/// <summary>Whether an amount fits, and if not, where and by how much it does not.</summary>
/// <param name="Fits">True when the amount fits the allocation's and its parent's Remaining.</param>
/// <param name="Amount">The rated amount of the request.</param>
/// <param name="BlockedBy">The allocation whose Remaining is too small; when both the allocation and its parent are, the one
/// short by more (the parent on a tie); null when it fits.</param>
/// <param name="Shortfall">How much more Remaining would be needed at <see cref="BlockedBy"/>; zero when it fits.</param>
public sealed record FitCheck(bool Fits, Amount Amount, AllocationId? BlockedBy, Amount Shortfall);

/// <summary>The outcome of a reservation: the hold recorded, or why it does not fit.</summary>
/// <param name="Fit">The fit decision; nothing was written when it does not fit.</param>
/// <param name="Event">The Estimated hold when it fits; otherwise null.</param>
public sealed record ReserveResult(FitCheck Fit, UsageEvent? Event)
{
    /// <summary>Gets whether the hold was recorded.</summary>
    public bool Reserved => Event is not null;
}

/// <summary>One figure that differs from what the events say.</summary>
/// <param name="Allocation">The allocation.</param>
/// <param name="Figure">Which figure: Used, Estimated, OwnUsed, OwnEstimated, or "segments of event N".</param>
/// <param name="Stored">The stored value.</param>
/// <param name="Recomputed">The value recomputed from events.</param>
public sealed record Discrepancy(AllocationId Allocation, string Figure, Amount Stored, Amount Recomputed);

/// <summary>The result of recomputing every figure from the events.</summary>
/// <param name="AllocationsChecked">How many allocations were checked.</param>
/// <param name="EventsChecked">How many events were read.</param>
/// <param name="Discrepancies">Each difference found; empty when the store is consistent.</param>
public sealed record VerificationReport(int AllocationsChecked, long EventsChecked, IReadOnlyList<Discrepancy> Discrepancies)
{
    /// <summary>Gets the stored rows of the organization whose values do not have the type their columns declare (rows
    /// changed outside the library); empty when every row reads as the schema says.</summary>
    /// <remarks>When a row of the allocations, units, usage events or event segments is damaged, the figures are not
    /// recomputed (<see cref="AllocationsChecked"/> and <see cref="EventsChecked"/> are 0): repair or restore the rows
    /// and verify again.</remarks>
    public IReadOnlyList<StoredRowDamage> Damage { get; init; } = [];

    /// <summary>Gets whether no difference and no damaged row was found.</summary>
    public bool IsClean => Discrepancies.Count == 0 && Damage.Count == 0;
}

/// <summary>A stored value whose type is not the one its column declares, such as text in an integer column: the row
/// was changed outside the library, and reads of it fail with <see cref="Exceptions.StoreUnavailableException"/>.</summary>
/// <param name="Table">The table.</param>
/// <param name="Row">The row: its id, or the columns that identify it (such as <c>event_id 7, seq 0</c>).</param>
/// <param name="Column">The column.</param>
/// <param name="Problem">What the column holds against what the schema declares.</param>
public sealed record StoredRowDamage(string Table, string Row, string Column, string Problem);

/// <summary>Running totals of a streamed ingest: reported after each committed chunk and returned at the end.</summary>
/// <param name="Items">Items committed so far.</param>
/// <param name="Recorded">New events stored.</param>
/// <param name="Replaced">Estimated events replaced.</param>
/// <param name="Unchanged">Items that matched an existing event.</param>
/// <param name="Chunks">Chunks committed, each in its own transaction.</param>
public sealed record IngestSummary(long Items, long Recorded, long Replaced, long Unchanged, int Chunks);
