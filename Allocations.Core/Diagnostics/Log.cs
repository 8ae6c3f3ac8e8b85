using Microsoft.Extensions.Logging;

namespace Allocations.Diagnostics;

/// <summary>The library's log messages: structured templates with fixed event ids (see
/// <see cref="AllocationsTelemetry"/> for the categories).</summary>
internal static partial class Log
{
    // Storage: 1xx
    [LoggerMessage(EventId = 100, EventName = "SchemaMigrated", Level = LogLevel.Information,
        Message = "Applied schema migration {Version} to {Location} in {ElapsedMs} ms")]
    internal static partial void SchemaMigrated(ILogger logger, int version, string location, long elapsedMs);

    [LoggerMessage(EventId = 110, EventName = "WriteGateWait", Level = LogLevel.Debug,
        Message = "Waited {ElapsedMs} ms for this store's other writes to {Location} to finish")]
    internal static partial void WriteGateWait(ILogger logger, long elapsedMs, string location);

    [LoggerMessage(EventId = 111, EventName = "WriteLockWait", Level = LogLevel.Debug,
        Message = "Waited {ElapsedMs} ms for another connection's write lock on {Location}")]
    internal static partial void WriteLockWait(ILogger logger, long elapsedMs, string location);

    [LoggerMessage(EventId = 112, EventName = "WriteLockTimeout", Level = LogLevel.Warning,
        Message = "Gave up after {ElapsedMs} ms waiting for the lock on {Location} (busy timeout {BusyTimeoutMs} ms)")]
    internal static partial void WriteLockTimeout(ILogger logger, long elapsedMs, string location, int busyTimeoutMs);

    [LoggerMessage(EventId = 113, EventName = "WriteRetried", Level = LogLevel.Debug,
        Message = "Write attempt {Attempt} on {Location} collided with another writer (SQLSTATE {SqlState}); running it again")]
    internal static partial void WriteRetried(ILogger logger, int attempt, string location, string sqlState);

    // Usage: 2xx
    [LoggerMessage(EventId = 200, EventName = "ReservationRefused", Level = LogLevel.Debug,
        Message = "Refused a reservation on {Allocation}: {Amount} does not fit, blocked by {BlockedBy}, short by {Shortfall}")]
    internal static partial void ReservationRefused(ILogger logger, string allocation, string amount, string? blockedBy, string shortfall);

    // Slurm importer: 3xx
    [LoggerMessage(EventId = 300, EventName = "SlurmJobSkipped", Level = LogLevel.Debug,
        Message = "Slurm cluster {Cluster}: skipped job {JobId} at line {LineNumber} ({Reason}): {Detail}")]
    internal static partial void SlurmJobSkipped(ILogger logger, string cluster, string? jobId, int lineNumber, string reason, string detail);

    [LoggerMessage(EventId = 301, EventName = "SlurmLockBusy", Level = LogLevel.Debug,
        Message = "Slurm cluster {Cluster}: sync not run: {Message}")]
    internal static partial void SlurmLockBusy(ILogger logger, string cluster, string? message);

    [LoggerMessage(EventId = 302, EventName = "SlurmSyncFinished", Level = LogLevel.Information,
        Message = "Slurm cluster {Cluster}: {Outcome}{DryRun}, {Jobs} jobs, {Recorded} recorded, {Replaced} replaced, {Unchanged} unchanged, {Skipped} skipped, watermark {Watermark}")]
    internal static partial void SlurmSyncFinished(ILogger logger, string cluster, string outcome, string dryRun, int jobs, int recorded, int replaced, int unchanged, int skipped, string? watermark);
}
