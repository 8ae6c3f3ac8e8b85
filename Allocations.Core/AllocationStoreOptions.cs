using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace Allocations;

/// <summary>How an <see cref="AllocationStore"/> behaves; every setting has a safe default.</summary>
public sealed class AllocationStoreOptions
{
    /// <summary>Gets or sets the clock that stamps records, history and journal entries.</summary>
    /// <remarks>Default: the system clock. Tests pass a <c>NodaTime.Testing.FakeClock</c>. Its instant must lie between
    /// 1900-01-01 and 2200-01-01 UTC, the range the store encodes: it is checked when the store opens and at every use,
    /// and a call made while it is outside fails with <see cref="Exceptions.InvalidInputException"/> naming
    /// <c>Clock</c>.</remarks>
    public IClock? Clock { get; set; }

    /// <summary>Gets or sets whether every committed write is flushed to disk before the call returns.</summary>
    /// <remarks>Default true (<c>synchronous=FULL</c>): a write that returned survives a power cut. False uses
    /// <c>synchronous=NORMAL</c>: still crash-safe for the process, but the last writes may be lost on power loss.</remarks>
    public bool DurableWrites { get; set; } = true;

    /// <summary>Gets or sets how long a write waits for another process's write to finish before failing with
    /// <see cref="Exceptions.StoreUnavailableException"/>.</summary>
    /// <remarks>Default 30 seconds. From zero (fail at once) to <see cref="int.MaxValue"/> milliseconds (about 24.8
    /// days), honoured to the millisecond (a fraction of a millisecond rounds up); a value outside that range fails the
    /// open with <see cref="Exceptions.InvalidInputException"/> naming <c>BusyTimeout</c>.</remarks>
    public Duration BusyTimeout { get; set; } = Duration.FromSeconds(30);

    /// <summary>Gets or sets the most memory, in mebibytes, SQLite may use to cache database pages on each of the
    /// store's connections.</summary>
    /// <remarks>Default 64 MiB, enough for the indexes that a batch of 10,000 keyed events touches to stay in memory
    /// (SQLite's own default, 2 MiB, makes large batches re-read pages they just wrote). Memory is taken only as pages
    /// are read, so a small store uses little of it. From 1 to 4,096; a value outside that range fails the open with
    /// <see cref="Exceptions.InvalidInputException"/> naming <c>PageCacheMegabytes</c>.</remarks>
    public int PageCacheMegabytes { get; set; } = DefaultPageCacheMegabytes;

    /// <summary>The default of <see cref="PageCacheMegabytes"/>.</summary>
    internal const int DefaultPageCacheMegabytes = 64;

    /// <summary>The largest <see cref="PageCacheMegabytes"/> accepted.</summary>
    internal const int MaxPageCacheMegabytes = 4096;

    /// <summary>Gets or sets how long a hold placed by <see cref="AllocationStore.ReserveAsync"/> lasts when the call
    /// gives no expiry (<see cref="Domain.HoldExpiry.StoreDefault"/>).</summary>
    /// <remarks>Default 24 hours. Null means such holds never expire; a hold that should never expire while others do
    /// is asked for with <see cref="Domain.HoldExpiry.Never"/>. From an expired hold's expiry instant on it no longer
    /// counts against Estimated or Remaining. A zero or negative value fails the open with
    /// <see cref="Exceptions.InvalidInputException"/> naming <c>DefaultHoldExpiry</c>.</remarks>
    public Duration? DefaultHoldExpiry { get; set; } = DefaultHoldDuration;

    /// <summary>The default of <see cref="DefaultHoldExpiry"/>.</summary>
    internal static readonly Duration DefaultHoldDuration = Duration.FromHours(24);

    /// <summary>Gets or sets how long before an allocation's period ends <see cref="AllocationStore.SweepPeriodAlertsAsync"/>
    /// records that it is ending.</summary>
    /// <remarks>Default 30 days. Zero records no such alert (a period that ended with budget unspent still records
    /// one). A negative value fails the open with <see cref="Exceptions.InvalidInputException"/> naming
    /// <c>PeriodEndAlertLead</c>.</remarks>
    public Duration PeriodEndAlertLead { get; set; } = Duration.FromDays(30);

    /// <summary>Gets or sets where the store logs: schema migrations, waits for the write lock, refused reservations and
    /// skipped Slurm jobs (see <see cref="Diagnostics.AllocationsTelemetry"/> for the categories and levels).</summary>
    /// <remarks>Default: <see cref="Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory"/>, no logging.
    /// <c>AddAllocationStore</c> takes the container's factory when this is left null.</remarks>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Gets or sets the factory the store's <see cref="Meter"/> (named <c>Allocations</c>) is created from.</summary>
    /// <remarks>Default null: the store creates its own meter and disposes it with the store; a
    /// <see cref="MeterListener"/> or OpenTelemetry's <c>AddMeter("Allocations")</c> sees it either way.
    /// <c>AddAllocationStore</c> takes the container's <see cref="IMeterFactory"/> when this is left null.</remarks>
    public IMeterFactory? MeterFactory { get; set; }
}
