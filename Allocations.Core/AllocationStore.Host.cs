using System.Diagnostics;
using Allocations.Diagnostics;
using Allocations.Domain;
using Allocations.Import.Slurm;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Allocations;

/// <summary>What a host sees of the store: disposal, logging, metrics and traces.</summary>
public sealed partial class AllocationStore : IAsyncDisposable
{
    private StoreTelemetry telemetry = null!; // set by AttachHost, which every open calls
    private ILogger usageLog = NullLogger.Instance;

    internal StoreTelemetry Telemetry => telemetry;

    /// <summary>Closes the store and releases its file handles, as <see cref="Dispose"/> does.</summary>
    /// <returns>A completed task: closing a SQLite store does not wait on I/O.</returns>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Connects the open store to the host's logging and metrics, and logs the migrations the open committed.</summary>
    /// <remarks>Runs after the engine has opened (and created) the file, so the first open of a new file is not delayed
    /// by loading the logging and metrics types.</remarks>
    private void AttachHost(AllocationStoreOptions options)
    {
        var loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        telemetry = new StoreTelemetry(options.MeterFactory);
        usageLog = loggerFactory.CreateLogger(AllocationsTelemetry.UsageLogCategory);
        slurm = new SlurmSyncService(tx, loggerFactory.CreateLogger(AllocationsTelemetry.SlurmLogCategory));
        var storageLog = loggerFactory.CreateLogger(AllocationsTelemetry.StorageLogCategory);
        foreach (var (version, elapsedMs) in engine.AppliedMigrations)
        {
            Log.SchemaMigrated(storageLog, version, engine.Location, elapsedMs);
        }
        engine.Logger = storageLog;
    }

    /// <summary>Reads one row through a fresh read transaction: a probe that the file is there and answers.</summary>
    /// <exception cref="Exceptions.StoreUnavailableException">The database cannot be read.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    internal Task ProbeAsync(CancellationToken cancellationToken) =>
        engine.ReadAsync(session => session.GetOrganization(0) is null ? 0 : 1, cancellationToken);

    /// <summary>Runs a store call under an activity and the duration histogram (and counts its result), or runs it bare
    /// when nothing listens.</summary>
    /// <remarks>Validation that throws before <paramref name="call"/> is reached stays synchronous, as without telemetry.</remarks>
    private Task<T> Observed<T>(string operation, Func<Task<T>> call, Action<StoreTelemetry, T>? count = null) =>
        telemetry.Active ? ObservedAsync(operation, call, count) : call();

    private async Task<T> ObservedAsync<T>(string operation, Func<Task<T>> call, Action<StoreTelemetry, T>? count)
    {
        using var activity = StoreTelemetry.Source.StartActivity("allocations." + operation);
        activity?.SetTag(StoreTelemetry.OperationTag, operation);
        var started = Stopwatch.GetTimestamp();
        T result;
        try
        {
            result = await call().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            telemetry.RecordDuration(operation, started, ex);
            activity?.SetTag(StoreTelemetry.ErrorTypeTag, ex.GetType().FullName);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
        telemetry.RecordDuration(operation, started, null);
        count?.Invoke(telemetry, result);
        return result;
    }

    private static void CountRecord(StoreTelemetry t, RecordResult r) => t.CountEvent("record", r.Disposition, r.Event.Status);

    private static void CountBatch(StoreTelemetry t, BatchResult r) => t.CountEvents("batch", r.Recorded, r.Replaced, r.Unchanged);

    private static void CountReservation(StoreTelemetry t, ReserveResult r) => t.CountReservation(r.Reserved);

    private static void CountSlurm(StoreTelemetry t, SlurmSyncReport r) => t.CountEvents("slurm_sync", r.Recorded, r.Replaced, r.Unchanged);

    private void LogReservationRefused(AllocationId allocation, FitCheck fit)
    {
        if (usageLog.IsEnabled(LogLevel.Debug))
        {
            Log.ReservationRefused(usageLog, allocation.ToString(), fit.Amount.ToString(), fit.BlockedBy?.ToString(), fit.Shortfall.ToString());
        }
    }
}
