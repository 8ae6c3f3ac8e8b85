using Allocations.Exceptions;
using NodaTime;

namespace Allocations.Domain;

/// <summary>When a hold placed by a reservation expires: after a duration, at an instant, never, or as the store's
/// <see cref="AllocationStoreOptions.DefaultHoldExpiry"/> says.</summary>
/// <remarks>
/// <para>The <c>default</c> value is <see cref="StoreDefault"/>. An expired hold no longer counts against Estimated or
/// Remaining from its expiry instant on (as the store's clock tells it), whether or not it has been swept; a sweep
/// (<see cref="AllocationStore.ReleaseExpiredHoldsAsync"/>) then deletes it for good.</para>
/// <para>Two values are equal when they say the same thing; <see cref="After"/> and <see cref="At"/> are never equal
/// to each other, even when they would name the same instant.</para>
/// </remarks>
public readonly struct HoldExpiry : IEquatable<HoldExpiry>
{
    private const byte DefaultKind = 0;
    private const byte AfterKind = 1;
    private const byte AtKind = 2;
    private const byte NeverKind = 3;

    private readonly byte kind;
    private readonly Duration duration;
    private readonly Instant instant;

    private HoldExpiry(byte kind, Duration duration, Instant instant)
    {
        this.kind = kind;
        this.duration = duration;
        this.instant = instant;
    }

    /// <summary>Gets the expiry the store's options give (<see cref="AllocationStoreOptions.DefaultHoldExpiry"/>);
    /// the same as <c>default(HoldExpiry)</c>.</summary>
    public static HoldExpiry StoreDefault => default;

    /// <summary>Gets the expiry of a hold that never expires: it counts until it is confirmed or released.</summary>
    public static HoldExpiry Never { get; } = new(NeverKind, NodaTime.Duration.Zero, default);

    /// <summary>Gets whether this is <see cref="StoreDefault"/>.</summary>
    public bool IsStoreDefault => kind == DefaultKind;

    /// <summary>Gets whether this is <see cref="Never"/>.</summary>
    public bool IsNever => kind == NeverKind;

    /// <summary>Gets the duration of an expiry made by <see cref="After"/>; otherwise null.</summary>
    public Duration? Duration => kind == AfterKind ? duration : null;

    /// <summary>Gets the instant of an expiry made by <see cref="At"/>; otherwise null.</summary>
    public Instant? Instant => kind == AtKind ? instant : null;

    /// <summary>An expiry a duration after the instant of the call that places or extends the hold.</summary>
    /// <param name="duration">How long the hold lasts; positive.</param>
    /// <returns>The expiry.</returns>
    /// <exception cref="InvalidInputException"><paramref name="duration"/> is zero or negative (field <c>expiry</c>).</exception>
    public static HoldExpiry After(Duration duration)
    {
        if (duration <= NodaTime.Duration.Zero)
        {
            throw new InvalidInputException("expiry", duration.ToString(), "a hold's duration must be positive");
        }
        return new HoldExpiry(AfterKind, duration, default);
    }

    /// <summary>An expiry at an instant.</summary>
    /// <remarks>The instant must be later than the call that places or extends the hold and no later than
    /// 2200-01-01T00:00:00Z; that is checked by the call.</remarks>
    /// <param name="instant">When the hold stops counting.</param>
    /// <returns>The expiry.</returns>
    public static HoldExpiry At(Instant instant) => new(AtKind, NodaTime.Duration.Zero, instant);

    /// <summary>The expiry instant in the store's encoding for a call at <paramref name="nowNs"/>: null when the hold
    /// never expires.</summary>
    /// <param name="nowNs">The call's instant.</param>
    /// <param name="storeDefault">The store's default: null for never.</param>
    /// <exception cref="InvalidInputException">The instant is not after the call's or lies past the store's range
    /// (field <c>expiry</c>).</exception>
    internal long? ResolveNs(long nowNs, Duration? storeDefault)
    {
        switch (kind)
        {
            case NeverKind:
                return null;
            case AtKind:
                var atNs = InstantCodec.ToNs(instant, "expiry");
                if (atNs <= nowNs)
                {
                    throw new InvalidInputException("expiry", instant.ToString(), $"must be later than now ({InstantCodec.FromNs(nowNs)})");
                }
                return atNs;
            default:
                var length = kind == AfterKind ? duration : storeDefault;
                if (length is not { } d)
                {
                    return null;
                }
                // Added in 128 bits: a duration of any length is refused, not overflowed, when it ends past the range.
                var endNs = (Int128)nowNs + (Int128)d.ToBigIntegerNanoseconds();
                if (endNs > InstantCodec.MaxNs)
                {
                    throw new InvalidInputException("expiry", d.ToString(), $"would expire after {InstantCodec.MaxSupported}, the latest instant the store encodes");
                }
                return (long)endNs;
        }
    }

    /// <inheritdoc />
    public bool Equals(HoldExpiry other) => kind == other.kind && duration == other.duration && instant == other.instant;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is HoldExpiry other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(kind, duration, instant);

    /// <summary>Compares two expiries for equality.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(HoldExpiry left, HoldExpiry right) => left.Equals(right);

    /// <summary>Compares two expiries for inequality.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(HoldExpiry left, HoldExpiry right) => !left.Equals(right);

    /// <summary>Describes the expiry.</summary>
    /// <returns><c>store default</c>, <c>never</c>, <c>after 1:00:00:00</c> or <c>at 2026-01-01T00:00:00Z</c>.</returns>
    public override string ToString() => kind switch
    {
        NeverKind => "never",
        AfterKind => $"after {duration}",
        AtKind => $"at {instant}",
        _ => "store default",
    };
}

/// <summary>What confirming or extending a hold did.</summary>
public enum HoldStatus
{
    /// <summary>The hold was turned Confirmed.</summary>
    Confirmed = 1,

    /// <summary>The event was already Confirmed with the same quantity and end; nothing changed.</summary>
    AlreadyConfirmed = 2,

    /// <summary>The hold's expiry was changed.</summary>
    Extended = 3,

    /// <summary>The hold had expired at the instant of the call (TigerBeetle's <c>pending_transfer_expired</c>); it
    /// no longer counts and nothing changed. Reserve again to hold budget.</summary>
    Expired = 4,
}

/// <summary>The outcome of confirming or extending a hold.</summary>
public sealed class HoldResult
{
    /// <summary>Initializes the outcome.</summary>
    /// <param name="status">What happened.</param>
    /// <param name="event">The event as it now stands.</param>
    internal HoldResult(HoldStatus status, UsageEvent @event)
    {
        Status = status;
        Event = @event;
    }

    /// <summary>Gets what happened.</summary>
    public HoldStatus Status { get; }

    /// <summary>Gets the event as it now stands: Confirmed after <see cref="HoldStatus.Confirmed"/>, the unchanged
    /// expired hold after <see cref="HoldStatus.Expired"/>.</summary>
    public UsageEvent Event { get; }

    /// <summary>Returns the status and the event's id.</summary>
    /// <returns>Such as <c>Expired event:42</c>.</returns>
    public override string ToString() => $"{Status} {Event.Id}";
}
