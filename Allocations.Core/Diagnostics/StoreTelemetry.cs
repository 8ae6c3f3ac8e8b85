using System.Diagnostics;
using System.Diagnostics.Metrics;
using Allocations.Domain;

namespace Allocations.Diagnostics;

/// <summary>One store's instruments: its meter (from the host's <see cref="IMeterFactory"/> when given, else its own)
/// and the library's activity source.</summary>
internal sealed class StoreTelemetry : IDisposable
{
    internal const string OperationTag = "allocations.operation";
    internal const string OutcomeTag = "allocations.outcome";
    internal const string StatusTag = "allocations.status";
    internal const string ErrorTypeTag = "error.type";

    private static readonly string? Version = typeof(StoreTelemetry).Assembly.GetName().Version?.ToString();

    /// <summary>The library's one activity source (activity sources have no factory; listeners filter by name).</summary>
    internal static readonly ActivitySource Source = new(AllocationsTelemetry.ActivitySourceName, Version);

    private readonly bool ownsMeter;
    private readonly Counter<long> usageEvents;
    private readonly Counter<long> reservations;
    private readonly Histogram<double> duration;

    internal StoreTelemetry(IMeterFactory? meterFactory)
    {
        Meter = meterFactory?.Create(new MeterOptions(AllocationsTelemetry.MeterName) { Version = Version })
            ?? new Meter(AllocationsTelemetry.MeterName, Version);
        ownsMeter = meterFactory is null;
        usageEvents = Meter.CreateCounter<long>("allocations.usage.events", "{event}", "Usage events written, by operation, outcome and status.");
        reservations = Meter.CreateCounter<long>("allocations.reservations", "{reservation}", "Reservations granted or refused.");
        duration = Meter.CreateHistogram<double>(
            "allocations.operation.duration",
            "s",
            "How long store calls take, by operation.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    }

    /// <summary>Gets the store's meter.</summary>
    internal Meter Meter { get; }

    /// <summary>Gets whether anything listens: when false, calls skip timing altogether.</summary>
    internal bool Active => duration.Enabled || usageEvents.Enabled || reservations.Enabled || Source.HasListeners();

    internal void RecordDuration(string operation, long startTimestamp, Exception? error)
    {
        if (!duration.Enabled)
        {
            return;
        }
        var seconds = Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
        if (error is null)
        {
            duration.Record(seconds, new KeyValuePair<string, object?>(OperationTag, operation));
        }
        else
        {
            duration.Record(seconds, new KeyValuePair<string, object?>(OperationTag, operation), new KeyValuePair<string, object?>(ErrorTypeTag, error.GetType().FullName));
        }
    }

    internal void CountEvent(string operation, RecordDisposition disposition, UsageStatus status) =>
        usageEvents.Add(1, new(OperationTag, operation), new(OutcomeTag, Outcome(disposition)), new(StatusTag, status == UsageStatus.Confirmed ? "confirmed" : "estimated"));

    internal void CountEvents(string operation, int recorded, int replaced, int unchanged)
    {
        if (recorded > 0)
        {
            usageEvents.Add(recorded, new(OperationTag, operation), new(OutcomeTag, "recorded"));
        }
        if (replaced > 0)
        {
            usageEvents.Add(replaced, new(OperationTag, operation), new(OutcomeTag, "replaced"));
        }
        if (unchanged > 0)
        {
            usageEvents.Add(unchanged, new(OperationTag, operation), new(OutcomeTag, "unchanged"));
        }
    }

    internal void CountReservation(bool granted) => reservations.Add(1, new KeyValuePair<string, object?>(OutcomeTag, granted ? "granted" : "refused"));

    private static string Outcome(RecordDisposition disposition) => disposition switch
    {
        RecordDisposition.Recorded => "recorded",
        RecordDisposition.Replaced => "replaced",
        _ => "unchanged",
    };

    public void Dispose()
    {
        if (ownsMeter)
        {
            Meter.Dispose();
        }
    }
}
