using Allocations.Exceptions;
using NodaTime;

namespace Allocations.Domain;

/// <summary>Instants as integer nanoseconds since the Unix epoch, within the range the store supports.</summary>
internal static class InstantCodec
{
    /// <summary>The earliest instant the store accepts: 1900-01-01T00:00:00Z.</summary>
    internal static readonly Instant MinSupported = Instant.FromUtc(1900, 1, 1, 0, 0);

    /// <summary>The latest instant the store accepts: 2200-01-01T00:00:00Z.</summary>
    internal static readonly Instant MaxSupported = Instant.FromUtc(2200, 1, 1, 0, 0);

    internal static readonly long MinNs = ToNsUnchecked(MinSupported);
    internal static readonly long MaxNs = ToNsUnchecked(MaxSupported);

    internal static long ToNs(Instant instant, string field)
    {
        if (instant < MinSupported || instant > MaxSupported)
        {
            throw new InvalidInputException(field, instant.ToString(), $"must lie between {MinSupported} and {MaxSupported}");
        }
        return ToNsUnchecked(instant);
    }

    internal static long ToNsUnchecked(Instant instant) => (instant - NodaConstants.UnixEpoch).ToInt64Nanoseconds();

    internal static Instant FromNs(long ns) => NodaConstants.UnixEpoch.PlusNanoseconds(ns);
}
