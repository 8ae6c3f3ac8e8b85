using Allocations.Exceptions;
using NodaTime;

namespace Allocations.Domain;

/// <summary>Consumption to record against an allocation.</summary>
/// <remarks>
/// The interval is half-open, <c>[Start, End)</c>, with <c>End ≥ Start</c>; both must lie between 1900 and 2200.
/// With an <see cref="ExternalKey"/> the record is idempotent within the organization: the same content again
/// returns the existing event; an Estimated event under the key is replaced; a Confirmed one with different content
/// is a conflict. Attributes (user, project, cluster, job id …) are kept verbatim. The constructor checks nothing: the
/// store checks every field when the record is recorded, and refuses a bad one naming the field and the value.
/// </remarks>
public sealed class UsageRecord
{
    /// <summary>Initializes a record.</summary>
    /// <param name="allocation">The allocation to charge.</param>
    /// <param name="sku">The SKU whose rates apply.</param>
    /// <param name="quantity">The quantity: a level for PerHour SKUs, a count for PerUnit.</param>
    /// <param name="start">The start of the interval (inclusive).</param>
    /// <param name="end">The end of the interval (exclusive).</param>
    /// <param name="status">Estimated (in flight) or Confirmed (final).</param>
    /// <param name="externalKey">An optional idempotency key, 1 to 400 characters.</param>
    /// <param name="attributes">Optional attributes; keys 1 to 64 characters, values up to 1,000.</param>
    public UsageRecord(
        AllocationId allocation,
        SkuCode sku,
        Quantity quantity,
        Instant start,
        Instant end,
        UsageStatus status = UsageStatus.Confirmed,
        string? externalKey = null,
        IReadOnlyDictionary<string, string>? attributes = null)
    {
        Allocation = allocation;
        Sku = sku;
        Quantity = quantity;
        Start = start;
        End = end;
        Status = status;
        ExternalKey = externalKey;
        Attributes = attributes;
    }

    /// <summary>Gets the allocation to charge.</summary>
    public AllocationId Allocation { get; }

    /// <summary>Gets the SKU whose rates apply.</summary>
    public SkuCode Sku { get; }

    /// <summary>Gets the quantity: a level for PerHour SKUs, a count for PerUnit.</summary>
    public Quantity Quantity { get; }

    /// <summary>Gets the start of the interval (inclusive).</summary>
    public Instant Start { get; }

    /// <summary>Gets the end of the interval (exclusive).</summary>
    public Instant End { get; }

    /// <summary>Gets the status: Estimated (in flight) or Confirmed (final).</summary>
    public UsageStatus Status { get; }

    /// <summary>Gets the idempotency key, or null for none.</summary>
    public string? ExternalKey { get; }

    /// <summary>Gets the attributes, or null for none.</summary>
    public IReadOnlyDictionary<string, string>? Attributes { get; }

    /// <summary>The same record without its external key.</summary>
    internal UsageRecord WithoutKey() => new(Allocation, Sku, Quantity, Start, End, Status, null, Attributes);

    /// <summary>Returns a short description: allocation, SKU, quantity, interval, status and key.</summary>
    /// <returns>Such as <c>allocation:7 CPU_HOUR × 4.000000 [2025-11-01T00:00:00Z, 2025-11-01T02:00:00Z) Confirmed key job-1</c>.</returns>
    public override string ToString() =>
        $"{Allocation} {Sku} × {Quantity} [{Start}, {End}) {Status}{(ExternalKey is null ? "" : " key " + ExternalKey)}";
}

/// <summary>A part of an event's interval priced by one rate rule.</summary>
/// <remarks>Two segments are equal when every property is.</remarks>
public sealed class RatedSegment : IEquatable<RatedSegment>
{
    /// <summary>Initializes a segment.</summary>
    /// <param name="interval">The part of the event's interval.</param>
    /// <param name="ruleId">The rate rule that priced it.</param>
    /// <param name="rate">The rule's rate.</param>
    /// <param name="amount">The part's amount.</param>
    internal RatedSegment(Interval interval, long ruleId, Rate rate, Amount amount)
    {
        Interval = interval;
        RuleId = ruleId;
        Rate = rate;
        Amount = amount;
    }

    /// <summary>Gets the part of the event's interval.</summary>
    public Interval Interval { get; }

    /// <summary>Gets the rate rule that priced it.</summary>
    public long RuleId { get; }

    /// <summary>Gets the rule's rate.</summary>
    public Rate Rate { get; }

    /// <summary>Gets the part's amount, rounded to a millionth (half to even).</summary>
    public Amount Amount { get; }

    /// <inheritdoc />
    public bool Equals(RatedSegment? other) =>
        other is not null && Interval == other.Interval && RuleId == other.RuleId && Rate == other.Rate && Amount == other.Amount;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as RatedSegment);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Interval, RuleId, Rate, Amount);

    /// <summary>Returns the interval, the rule and the amount.</summary>
    /// <returns>Such as <c>2025-11-01T00:00:00Z/2025-11-01T02:00:00Z rule 3 × 1.000000000 = 8.000000</c>.</returns>
    public override string ToString() => $"{Interval} rule {RuleId} × {Rate} = {Amount}";

    /// <summary>Compares two segments for equality.</summary>
    /// <param name="left">The first segment.</param>
    /// <param name="right">The second segment.</param>
    /// <returns>True when both are null or every property is equal.</returns>
    public static bool operator ==(RatedSegment? left, RatedSegment? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two segments for inequality.</summary>
    /// <param name="left">The first segment.</param>
    /// <param name="right">The second segment.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(RatedSegment? left, RatedSegment? right) => !(left == right);
}

/// <summary>A recorded usage event, rated.</summary>
/// <remarks>A snapshot read from the store; compare events by <see cref="Id"/>.</remarks>
public sealed class UsageEvent
{
    /// <summary>Initializes an event.</summary>
    /// <param name="id">The event's id.</param>
    /// <param name="allocation">The allocation charged.</param>
    /// <param name="sku">The SKU.</param>
    /// <param name="quantity">The quantity.</param>
    /// <param name="interval">The half-open interval it covers.</param>
    /// <param name="status">Estimated or Confirmed.</param>
    /// <param name="externalKey">Its idempotency key, if any.</param>
    /// <param name="amount">Its amount in the allocation's unit.</param>
    /// <param name="usdAmount">Its cost in USD, or null.</param>
    /// <param name="attributes">Its attributes.</param>
    /// <param name="segments">The rated segments, in time order.</param>
    /// <param name="recordedAt">When it was (last) recorded.</param>
    /// <param name="recordedBy">Who recorded it.</param>
    /// <param name="expiresAt">When the hold expires; null for a hold that never does and for a Confirmed event.</param>
    internal UsageEvent(
        UsageEventId id,
        AllocationId allocation,
        SkuCode sku,
        Quantity quantity,
        Interval interval,
        UsageStatus status,
        string? externalKey,
        Amount amount,
        Amount? usdAmount,
        IReadOnlyDictionary<string, string> attributes,
        IReadOnlyList<RatedSegment> segments,
        Instant recordedAt,
        string recordedBy,
        Instant? expiresAt = null)
    {
        Id = id;
        Allocation = allocation;
        Sku = sku;
        Quantity = quantity;
        Interval = interval;
        Status = status;
        ExternalKey = externalKey;
        Amount = amount;
        UsdAmount = usdAmount;
        Attributes = attributes;
        Segments = segments;
        RecordedAt = recordedAt;
        RecordedBy = recordedBy;
        ExpiresAt = expiresAt;
    }

    /// <summary>Gets the event's id.</summary>
    public UsageEventId Id { get; }

    /// <summary>Gets the allocation charged.</summary>
    public AllocationId Allocation { get; }

    /// <summary>Gets the SKU.</summary>
    public SkuCode Sku { get; }

    /// <summary>Gets the quantity.</summary>
    public Quantity Quantity { get; }

    /// <summary>Gets the half-open interval it covers.</summary>
    public Interval Interval { get; }

    /// <summary>Gets whether it is Estimated or Confirmed.</summary>
    public UsageStatus Status { get; }

    /// <summary>Gets its idempotency key, if any.</summary>
    public string? ExternalKey { get; }

    /// <summary>Gets its amount in the allocation's unit: the sum of its segments.</summary>
    public Amount Amount { get; }

    /// <summary>Gets its cost in USD, where the unit is USD or has a USD price schedule; otherwise null.</summary>
    public Amount? UsdAmount { get; }

    /// <summary>Gets its attributes.</summary>
    public IReadOnlyDictionary<string, string> Attributes { get; }

    /// <summary>Gets the rated segments, in time order.</summary>
    public IReadOnlyList<RatedSegment> Segments { get; }

    /// <summary>Gets when it was (last) recorded.</summary>
    public Instant RecordedAt { get; }

    /// <summary>Gets who recorded it.</summary>
    public string RecordedBy { get; }

    /// <summary>Gets when the hold expires: from that instant on it no longer counts against Estimated or Remaining,
    /// and confirming it answers <see cref="HoldStatus.Expired"/>. Null for a hold that never expires (one recorded
    /// directly, or reserved with <see cref="HoldExpiry.Never"/>) and for a Confirmed event.</summary>
    public Instant? ExpiresAt { get; }

    /// <summary>Returns a short description: id, allocation, SKU, quantity, interval, status and amount.</summary>
    /// <returns>Such as <c>event:42 allocation:7 CPU_HOUR × 4.000000 2025-11-01T00:00:00Z/2025-11-01T02:00:00Z Confirmed = 8.000000</c>.</returns>
    public override string ToString() => $"{Id} {Allocation} {Sku} × {Quantity} {Interval} {Status} = {Amount}";
}

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
public sealed class RecordResult
{
    /// <summary>Initializes the outcome.</summary>
    /// <param name="disposition">What happened.</param>
    /// <param name="event">The event as stored now.</param>
    internal RecordResult(RecordDisposition disposition, UsageEvent @event)
    {
        Disposition = disposition;
        Event = @event;
    }

    /// <summary>Gets what happened.</summary>
    public RecordDisposition Disposition { get; }

    /// <summary>Gets the event as stored now.</summary>
    public UsageEvent Event { get; }

    /// <summary>Returns the disposition and the event's id.</summary>
    /// <returns>Such as <c>Recorded event:42</c>.</returns>
    public override string ToString() => $"{Disposition} {Event.Id}";
}

/// <summary>How <see cref="AllocationStore.RecordBatchAsync"/> answers a batch whose items are not all accepted.</summary>
public enum BatchMode
{
    /// <summary>All or nothing (the default): the first item the store refuses fails the whole batch with its exception,
    /// naming the item in <see cref="AllocationsException.BatchIndex"/>, and nothing is stored.</summary>
    AllOrNothing = 0,

    /// <summary>An answer per item: an item the store refuses is left out and reported in
    /// <see cref="BatchResult.Items"/> with its exception, and changes nothing; the accepted items commit together in
    /// the batch's one transaction.</summary>
    PerItem = 1,
}

/// <summary>What a batch did with one item.</summary>
public enum BatchItemStatus
{
    /// <summary>A new event was stored.</summary>
    Recorded = RecordDisposition.Recorded,

    /// <summary>An Estimated event with the same external key was replaced.</summary>
    Replaced = RecordDisposition.Replaced,

    /// <summary>An event with the same external key and the same content exists; nothing changed.</summary>
    Unchanged = RecordDisposition.Unchanged,

    /// <summary>The store refused the item (see <see cref="BatchItemResult.Error"/>); nothing changed for it. Only in
    /// <see cref="BatchMode.PerItem"/>.</summary>
    Refused = 4,
}

/// <summary>The answer of a batch for one item.</summary>
/// <remarks>Two answers are equal when they have the same index, status and event id and the same exception object.
/// The default value is item 0 with no status.</remarks>
public readonly struct BatchItemResult : IEquatable<BatchItemResult>
{
    private readonly UsageEventId eventId;

    internal BatchItemResult(int index, BatchItemStatus status, UsageEventId eventId, AllocationsException? error)
    {
        Index = index;
        Status = status;
        this.eventId = eventId;
        Error = error;
    }

    /// <summary>Gets the item's position in the batch, counting from 0.</summary>
    public int Index { get; }

    /// <summary>Gets what the batch did with the item.</summary>
    public BatchItemStatus Status { get; }

    /// <summary>Gets the id of the item's event as stored now; null when the item was refused.</summary>
    public UsageEventId? EventId => Status is BatchItemStatus.Refused or 0 ? null : eventId;

    /// <summary>Gets why the store refused the item: the exception a single <see cref="AllocationStore.RecordUsageAsync"/>
    /// of it would have thrown (with its type, field, value and message); null when the item was accepted.</summary>
    /// <remarks>Its <see cref="AllocationsException.BatchIndex"/> is null: the batch did not fail, and
    /// <see cref="Index"/> names the item.</remarks>
    public AllocationsException? Error { get; }

    /// <summary>Gets whether the item was stored or matched (any status but <see cref="BatchItemStatus.Refused"/>).</summary>
    public bool Accepted => Status is BatchItemStatus.Recorded or BatchItemStatus.Replaced or BatchItemStatus.Unchanged;

    /// <inheritdoc />
    public bool Equals(BatchItemResult other) =>
        Index == other.Index && Status == other.Status && eventId == other.eventId && ReferenceEquals(Error, other.Error);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is BatchItemResult other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Index, Status, eventId);

    /// <summary>Returns the index, the status and the event id or the refusal's message.</summary>
    /// <returns>Such as <c>#0 Recorded event:42</c> or <c>#1 Refused: SKU 'NOPE' was not found</c>.</returns>
    public override string ToString() => Error is { } error ? $"#{Index} {Status}: {error.Message}" : $"#{Index} {Status} {EventId}";

    /// <summary>Compares two answers for equality.</summary>
    /// <param name="left">The first answer.</param>
    /// <param name="right">The second answer.</param>
    /// <returns>True when they are equal.</returns>
    public static bool operator ==(BatchItemResult left, BatchItemResult right) => left.Equals(right);

    /// <summary>Compares two answers for inequality.</summary>
    /// <param name="left">The first answer.</param>
    /// <param name="right">The second answer.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(BatchItemResult left, BatchItemResult right) => !left.Equals(right);
}

/// <summary>The outcome of a batch: how many of each status, the event ids in input order, and an answer per item.</summary>
public sealed class BatchResult
{
    private readonly UsageEventId[] eventIds;
    private readonly BatchItemStatus[] statuses;
    private readonly AllocationsException?[]? errors;
    private IReadOnlyList<BatchItemResult>? items;

    /// <summary>Initializes the outcome from each item's event id and status, and the refusals (null when none).</summary>
    internal BatchResult(UsageEventId[] eventIds, BatchItemStatus[] statuses, AllocationsException?[]? errors)
    {
        this.eventIds = eventIds;
        this.statuses = statuses;
        this.errors = errors;
        foreach (var status in statuses)
        {
            switch (status)
            {
                case BatchItemStatus.Recorded: Recorded++; break;
                case BatchItemStatus.Replaced: Replaced++; break;
                case BatchItemStatus.Unchanged: Unchanged++; break;
                default: Refused++; break;
            }
        }
    }

    /// <summary>Gets how many new events were stored.</summary>
    public int Recorded { get; }

    /// <summary>Gets how many Estimated events were replaced.</summary>
    public int Replaced { get; }

    /// <summary>Gets how many items matched an existing event.</summary>
    public int Unchanged { get; }

    /// <summary>Gets how many items the store refused; always 0 in <see cref="BatchMode.AllOrNothing"/>.</summary>
    public int Refused { get; }

    /// <summary>Gets the id of each item's event, in input order; the default id (which names no event) for a refused
    /// item.</summary>
    public IReadOnlyList<UsageEventId> EventIds => eventIds;

    /// <summary>Gets the answer for each item, in input order (<see cref="BatchItemResult.Index"/> is the position).</summary>
    public IReadOnlyList<BatchItemResult> Items => items ??= [.. Enumerable.Range(0, statuses.Length).Select(Item)];

    /// <summary>Gets the answers for the refused items, in input order; empty when every item was accepted.</summary>
    public IReadOnlyList<BatchItemResult> Refusals =>
        errors is null ? [] : [.. Enumerable.Range(0, statuses.Length).Where(i => errors[i] is not null).Select(Item)];

    /// <summary>Returns the counts.</summary>
    /// <returns>Such as <c>3 recorded, 1 replaced, 0 unchanged, 1 refused</c>.</returns>
    public override string ToString() => $"{Recorded} recorded, {Replaced} replaced, {Unchanged} unchanged, {Refused} refused";

    private BatchItemResult Item(int index) => new(index, statuses[index], eventIds[index], errors?[index]);
}

/// <summary>Whether an amount fits, and if not, where and by how much it does not.</summary>
/// <remarks>Two checks are equal when every property is.</remarks>
public sealed class FitCheck : IEquatable<FitCheck>
{
    /// <summary>Initializes the decision.</summary>
    /// <param name="fits">Whether the amount fits.</param>
    /// <param name="amount">The rated amount of the request.</param>
    /// <param name="blockedBy">The allocation whose Remaining is too small; null when it fits.</param>
    /// <param name="shortfall">How much more Remaining would be needed; zero when it fits.</param>
    internal FitCheck(bool fits, Amount amount, AllocationId? blockedBy, Amount shortfall)
    {
        Fits = fits;
        Amount = amount;
        BlockedBy = blockedBy;
        Shortfall = shortfall;
    }

    private FitCheck(AllocationId allocation, Instant? periodStart, Instant? periodEnd, Instant start)
        : this(false, Amount.Zero, allocation, Amount.Zero)
    {
        OutsidePeriod = true;
        PeriodStart = periodStart;
        PeriodEnd = periodEnd;
        Start = start;
    }

    /// <summary>The answer for usage starting outside the period the allocation takes usage in.</summary>
    internal static FitCheck Outside(AllocationId allocation, Instant? periodStart, Instant? periodEnd, Instant start) =>
        new(allocation, periodStart, periodEnd, start);

    /// <summary>Gets whether the usage starts outside the period <see cref="BlockedBy"/> takes usage in (its own period,
    /// within its parent's); then it does not fit whatever the figures, <see cref="Amount"/> and
    /// <see cref="Shortfall"/> are zero (it is not rated), and the period is <see cref="PeriodStart"/> to
    /// <see cref="PeriodEnd"/>.</summary>
    public bool OutsidePeriod { get; }

    /// <summary>Gets the start (inclusive) of the period the usage fell outside, or null when that end is open or the
    /// usage is not <see cref="OutsidePeriod"/>.</summary>
    public Instant? PeriodStart { get; }

    /// <summary>Gets the end (exclusive) of the period the usage fell outside, or null when that end is open or the
    /// usage is not <see cref="OutsidePeriod"/>.</summary>
    public Instant? PeriodEnd { get; }

    /// <summary>Gets the start of the usage that fell outside the period; null when it is not
    /// <see cref="OutsidePeriod"/>.</summary>
    public Instant? Start { get; }

    /// <summary>Gets whether the amount fits the allocation's and its parent's Remaining.</summary>
    public bool Fits { get; }

    /// <summary>Gets the rated amount of the request; zero when it is <see cref="OutsidePeriod"/>.</summary>
    public Amount Amount { get; }

    /// <summary>Gets the allocation whose Remaining is too small; when both the allocation and its parent are, the one
    /// short by more (the parent on a tie); the allocation asked for when the usage is <see cref="OutsidePeriod"/>; null
    /// when it fits.</summary>
    public AllocationId? BlockedBy { get; }

    /// <summary>Gets how much more Remaining would be needed at <see cref="BlockedBy"/>; zero when it fits.</summary>
    public Amount Shortfall { get; }

    /// <inheritdoc />
    public bool Equals(FitCheck? other) =>
        other is not null && Fits == other.Fits && Amount == other.Amount && BlockedBy == other.BlockedBy && Shortfall == other.Shortfall
        && OutsidePeriod == other.OutsidePeriod && PeriodStart == other.PeriodStart && PeriodEnd == other.PeriodEnd && Start == other.Start;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as FitCheck);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Fits, Amount, BlockedBy, Shortfall, OutsidePeriod, PeriodStart, PeriodEnd, Start);

    /// <summary>Returns the decision.</summary>
    /// <returns>Such as <c>8.000000 fits</c>, <c>8.000000 does not fit: allocation:7 short by 2.000000</c> or
    /// <c>outside the period: allocation:7 takes usage starting in [2026-01-01T00:00:00Z, 2027-01-01T00:00:00Z), this
    /// starts at 2027-01-02T00:00:00Z</c>.</returns>
    public override string ToString() =>
        Fits ? $"{Amount} fits"
        : OutsidePeriod ? $"outside the period: {BlockedBy} takes usage starting in {Budgets.Period.Format(PeriodStart, PeriodEnd)}, this starts at {Start}"
        : $"{Amount} does not fit: {BlockedBy} short by {Shortfall}";

    /// <summary>Compares two checks for equality.</summary>
    /// <param name="left">The first check.</param>
    /// <param name="right">The second check.</param>
    /// <returns>True when both are null or every property is equal.</returns>
    public static bool operator ==(FitCheck? left, FitCheck? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two checks for inequality.</summary>
    /// <param name="left">The first check.</param>
    /// <param name="right">The second check.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(FitCheck? left, FitCheck? right) => !(left == right);
}

/// <summary>The outcome of a reservation: the hold recorded, or why it does not fit.</summary>
public sealed class ReserveResult
{
    /// <summary>Initializes the outcome.</summary>
    /// <param name="fit">The fit decision.</param>
    /// <param name="event">The hold when it fits; otherwise null.</param>
    internal ReserveResult(FitCheck fit, UsageEvent? @event)
    {
        Fit = fit;
        Event = @event;
    }

    /// <summary>Gets the fit decision; nothing was written when it does not fit.</summary>
    public FitCheck Fit { get; }

    /// <summary>Gets the Estimated hold when it fits; otherwise null.</summary>
    public UsageEvent? Event { get; }

    /// <summary>Gets whether the hold was recorded.</summary>
    public bool Reserved => Event is not null;

    /// <summary>Returns the hold's id, or the fit decision that refused it.</summary>
    /// <returns>Such as <c>reserved event:42</c> or <c>8.000000 does not fit: allocation:7 short by 2.000000</c>.</returns>
    public override string ToString() => Event is { } hold ? $"reserved {hold.Id}" : Fit.ToString();
}

/// <summary>One figure that differs from what the events say.</summary>
/// <remarks>Two discrepancies are equal when every property is.</remarks>
public sealed class Discrepancy : IEquatable<Discrepancy>
{
    /// <summary>Initializes a discrepancy.</summary>
    /// <param name="allocation">The allocation.</param>
    /// <param name="figure">Which figure.</param>
    /// <param name="stored">The stored value.</param>
    /// <param name="recomputed">The value recomputed from events.</param>
    internal Discrepancy(AllocationId allocation, string figure, Amount stored, Amount recomputed)
    {
        Allocation = allocation;
        Figure = figure;
        Stored = stored;
        Recomputed = recomputed;
    }

    /// <summary>Gets the allocation.</summary>
    public AllocationId Allocation { get; }

    /// <summary>Gets which figure: Used, Estimated, OwnUsed, OwnEstimated, or "segments of event N".</summary>
    public string Figure { get; }

    /// <summary>Gets the stored value.</summary>
    public Amount Stored { get; }

    /// <summary>Gets the value recomputed from events.</summary>
    public Amount Recomputed { get; }

    /// <inheritdoc />
    public bool Equals(Discrepancy? other) =>
        other is not null && Allocation == other.Allocation && string.Equals(Figure, other.Figure, StringComparison.Ordinal)
        && Stored == other.Stored && Recomputed == other.Recomputed;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Discrepancy);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Allocation, StringComparer.Ordinal.GetHashCode(Figure), Stored, Recomputed);

    /// <summary>Returns the allocation, the figure and both values.</summary>
    /// <returns>Such as <c>allocation:7 Used: stored 10.000000, recomputed 8.000000</c>.</returns>
    public override string ToString() => $"{Allocation} {Figure}: stored {Stored}, recomputed {Recomputed}";

    /// <summary>Compares two discrepancies for equality.</summary>
    /// <param name="left">The first discrepancy.</param>
    /// <param name="right">The second discrepancy.</param>
    /// <returns>True when both are null or every property is equal.</returns>
    public static bool operator ==(Discrepancy? left, Discrepancy? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two discrepancies for inequality.</summary>
    /// <param name="left">The first discrepancy.</param>
    /// <param name="right">The second discrepancy.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(Discrepancy? left, Discrepancy? right) => !(left == right);
}

/// <summary>The result of recomputing every figure from the events.</summary>
public sealed class VerificationReport
{
    /// <summary>Initializes the result.</summary>
    /// <param name="allocationsChecked">How many allocations were checked.</param>
    /// <param name="eventsChecked">How many events were read.</param>
    /// <param name="discrepancies">Each difference found.</param>
    /// <param name="damage">The damaged stored rows; null for none.</param>
    internal VerificationReport(int allocationsChecked, long eventsChecked, IReadOnlyList<Discrepancy> discrepancies, IReadOnlyList<StoredRowDamage>? damage = null)
    {
        AllocationsChecked = allocationsChecked;
        EventsChecked = eventsChecked;
        Discrepancies = discrepancies;
        Damage = damage ?? [];
    }

    /// <summary>Gets how many allocations were checked.</summary>
    public int AllocationsChecked { get; }

    /// <summary>Gets how many events were read.</summary>
    public long EventsChecked { get; }

    /// <summary>Gets each difference found; empty when the store is consistent.</summary>
    public IReadOnlyList<Discrepancy> Discrepancies { get; }

    /// <summary>Gets the stored rows of the organization whose values do not have the type their columns declare (rows
    /// changed outside the library); empty when every row reads as the schema says.</summary>
    /// <remarks>When a row of the allocations, units, usage events or event segments is damaged, the figures are not
    /// recomputed (<see cref="AllocationsChecked"/> and <see cref="EventsChecked"/> are 0): repair or restore the rows
    /// and verify again.</remarks>
    public IReadOnlyList<StoredRowDamage> Damage { get; }

    /// <summary>Gets whether no difference and no damaged row was found.</summary>
    public bool IsClean => Discrepancies.Count == 0 && Damage.Count == 0;

    /// <summary>Returns the counts.</summary>
    /// <returns>Such as <c>12 allocations, 3400 events checked: 0 discrepancies, 0 damaged rows</c>.</returns>
    public override string ToString() =>
        $"{AllocationsChecked} allocations, {EventsChecked} events checked: {Discrepancies.Count} discrepancies, {Damage.Count} damaged rows";
}

/// <summary>A stored value whose type is not the one its column declares, such as text in an integer column: the row
/// was changed outside the library, and reads of it fail with <see cref="Exceptions.StoreUnavailableException"/>.</summary>
/// <remarks>Two findings are equal when every property is (ordinal comparison).</remarks>
public sealed class StoredRowDamage : IEquatable<StoredRowDamage>
{
    /// <summary>Initializes a finding.</summary>
    /// <param name="table">The table.</param>
    /// <param name="row">The row.</param>
    /// <param name="column">The column.</param>
    /// <param name="problem">What the column holds against what the schema declares.</param>
    internal StoredRowDamage(string table, string row, string column, string problem)
    {
        Table = table;
        Row = row;
        Column = column;
        Problem = problem;
    }

    /// <summary>Gets the table.</summary>
    public string Table { get; }

    /// <summary>Gets the row: its id, or the columns that identify it (such as <c>event_id 7, seq 0</c>).</summary>
    public string Row { get; }

    /// <summary>Gets the column.</summary>
    public string Column { get; }

    /// <summary>Gets what the column holds against what the schema declares.</summary>
    public string Problem { get; }

    /// <inheritdoc />
    public bool Equals(StoredRowDamage? other) =>
        other is not null && string.Equals(Table, other.Table, StringComparison.Ordinal) && string.Equals(Row, other.Row, StringComparison.Ordinal)
        && string.Equals(Column, other.Column, StringComparison.Ordinal) && string.Equals(Problem, other.Problem, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as StoredRowDamage);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(
        StringComparer.Ordinal.GetHashCode(Table), StringComparer.Ordinal.GetHashCode(Row),
        StringComparer.Ordinal.GetHashCode(Column), StringComparer.Ordinal.GetHashCode(Problem));

    /// <summary>Returns where the damage is and what it is.</summary>
    /// <returns>Such as <c>usage_events 7 quantity: text in an INTEGER column</c>.</returns>
    public override string ToString() => $"{Table} {Row} {Column}: {Problem}";

    /// <summary>Compares two findings for equality.</summary>
    /// <param name="left">The first finding.</param>
    /// <param name="right">The second finding.</param>
    /// <returns>True when both are null or every property is equal.</returns>
    public static bool operator ==(StoredRowDamage? left, StoredRowDamage? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two findings for inequality.</summary>
    /// <param name="left">The first finding.</param>
    /// <param name="right">The second finding.</param>
    /// <returns>True when they differ.</returns>
    public static bool operator !=(StoredRowDamage? left, StoredRowDamage? right) => !(left == right);
}

/// <summary>Running totals of a streamed ingest: reported after each committed chunk and returned at the end.</summary>
/// <remarks>Two summaries are equal when every count is. The default value is all zeros.</remarks>
public readonly struct IngestSummary : IEquatable<IngestSummary>
{
    /// <summary>Initializes the totals.</summary>
    /// <param name="items">Items committed so far.</param>
    /// <param name="recorded">New events stored.</param>
    /// <param name="replaced">Estimated events replaced.</param>
    /// <param name="unchanged">Items that matched an existing event.</param>
    /// <param name="chunks">Chunks committed, each in its own transaction.</param>
    public IngestSummary(long items, long recorded, long replaced, long unchanged, int chunks)
    {
        Items = items;
        Recorded = recorded;
        Replaced = replaced;
        Unchanged = unchanged;
        Chunks = chunks;
    }

    /// <summary>Gets the items committed so far.</summary>
    public long Items { get; }

    /// <summary>Gets how many new events were stored.</summary>
    public long Recorded { get; }

    /// <summary>Gets how many Estimated events were replaced.</summary>
    public long Replaced { get; }

    /// <summary>Gets how many items matched an existing event.</summary>
    public long Unchanged { get; }

    /// <summary>Gets how many chunks were committed, each in its own transaction.</summary>
    public int Chunks { get; }

    /// <inheritdoc />
    public bool Equals(IngestSummary other) =>
        Items == other.Items && Recorded == other.Recorded && Replaced == other.Replaced && Unchanged == other.Unchanged && Chunks == other.Chunks;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is IngestSummary other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Items, Recorded, Replaced, Unchanged, Chunks);

    /// <summary>Returns the counts.</summary>
    /// <returns>Such as <c>10000 items in 1 chunks: 9000 recorded, 500 replaced, 500 unchanged</c>.</returns>
    public override string ToString() => $"{Items} items in {Chunks} chunks: {Recorded} recorded, {Replaced} replaced, {Unchanged} unchanged";

    /// <summary>Compares two summaries for equality.</summary>
    /// <param name="left">The first summary.</param>
    /// <param name="right">The second summary.</param>
    /// <returns>True when every count is equal.</returns>
    public static bool operator ==(IngestSummary left, IngestSummary right) => left.Equals(right);

    /// <summary>Compares two summaries for inequality.</summary>
    /// <param name="left">The first summary.</param>
    /// <param name="right">The second summary.</param>
    /// <returns>True when a count differs.</returns>
    public static bool operator !=(IngestSummary left, IngestSummary right) => !left.Equals(right);
}
