using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Allocations.Diagnostics;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Diagnostics;

public class TelemetryTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Start = TestStore.November1 + Duration.FromHours(1);

    private sealed record Measurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)
    {
        public object? Tag(string key) => Tags.GetValueOrDefault(key);
    }

    /// <summary>Listens to one store's meter only, so tests running at the same time do not mix their counts.</summary>
    private static (MeterListener Listener, ConcurrentQueue<Measurement> Seen) Listen(AllocationStore store)
    {
        var seen = new ConcurrentQueue<Measurement>();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, store.Telemetry.Meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => seen.Enqueue(new Measurement(i.Name, v, ToDictionary(tags))));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => seen.Enqueue(new Measurement(i.Name, v, ToDictionary(tags))));
        listener.Start();
        return (listener, seen);
    }

    private static Dictionary<string, object?> ToDictionary(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var d = new Dictionary<string, object?>();
        foreach (var t in tags)
        {
            d[t.Key] = t.Value;
        }
        return d;
    }

    [Fact]
    public async Task Meter_IsNamedAllocations_AndCountsRecordsAndReservations()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 10m);
        var (listener, seen) = Listen(t.Store);
        using var _ = listener;

        Assert.Equal(AllocationsTelemetry.MeterName, t.Store.Telemetry.Meter.Name);
        Assert.Equal("Allocations", AllocationsTelemetry.MeterName);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(2), key: "k1"));
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(2), key: "k1"));
        await t.Store.RecordBatchAsync(Admin, [TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1)), TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1))]);
        var granted = await t.Store.ReserveAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1)));
        var refused = await t.Store.ReserveAsync(Admin, TestStore.Cpu1(a, 100m, Start, Start + Duration.FromHours(2)));
        Assert.True(granted.Reserved);
        Assert.False(refused.Reserved);

        var events = seen.Where(m => m.Instrument == "allocations.usage.events").ToList();
        Assert.Equal(1, events.Where(m => (string?)m.Tag("allocations.operation") == "record" && (string?)m.Tag("allocations.outcome") == "recorded"
            && (string?)m.Tag("allocations.status") == "confirmed").Sum(m => m.Value));
        Assert.Equal(1, events.Where(m => (string?)m.Tag("allocations.operation") == "record" && (string?)m.Tag("allocations.outcome") == "unchanged").Sum(m => m.Value));
        Assert.Equal(2, events.Where(m => (string?)m.Tag("allocations.operation") == "batch" && (string?)m.Tag("allocations.outcome") == "recorded").Sum(m => m.Value));
        var reservations = seen.Where(m => m.Instrument == "allocations.reservations").ToList();
        Assert.Equal(["granted", "refused"], reservations.Select(m => (string?)m.Tag("allocations.outcome")).Order());
        Assert.All(seen, m => Assert.DoesNotContain(m.Tags.Values, v => v is string s && (s == Admin.Id || s.Contains("event:", StringComparison.Ordinal))));
    }

    [Fact]
    public async Task Durations_AreRecordedPerOperation_WithTheErrorTypeWhenACallFails()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        var (listener, seen) = Listen(t.Store);
        using var _ = listener;

        var hold = await t.Store.ReserveAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1)));
        await t.Store.ConfirmAsync(Admin, hold.Event!.Id);
        var second = await t.Store.ReserveAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1)));
        await t.Store.ReleaseAsync(Admin, second.Event!.Id);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1)));
        await t.Store.RecordBatchAsync(Admin, [TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1))]);
        await t.Store.ListEventsAsync(Admin, a.Id);
        await t.Store.GetEventAsync(Admin, hold.Event.Id);
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetEventAsync(Admin, new UsageEventId(999_999)));

        var durations = seen.Where(m => m.Instrument == "allocations.operation.duration").ToList();
        Assert.Equal(
            ["batch", "confirm", "get_event", "list_events", "record", "release", "reserve"],
            durations.Select(m => (string)m.Tag("allocations.operation")!).Distinct().Order());
        Assert.All(durations, m => Assert.True(m.Value is > 0 and < 60, $"{m.Value} s"));
        var failed = Assert.Single(durations, m => m.Tags.ContainsKey("error.type"));
        Assert.Equal(("get_event", typeof(NotFoundException).FullName), ((string?)failed.Tag("allocations.operation"), (string?)failed.Tag("error.type")));
    }

    [Fact]
    public async Task ActivitySource_TracesEachCall_AsAChildOfTheCallersActivity()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 10m);
        var stopped = new ConcurrentQueue<Activity>();
        using var testSource = new ActivitySource("Allocations.Tests.Telemetry");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == AllocationsTelemetry.ActivitySourceName || s.Name == testSource.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        ActivityTraceId trace;
        using (var parent = testSource.StartActivity("test"))
        {
            Assert.NotNull(parent);
            trace = parent.TraceId;
            await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Start, Start + Duration.FromHours(1)));
            await t.Store.ReserveAsync(Admin, TestStore.Cpu1(a, 100m, Start, Start + Duration.FromHours(2)));
            await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetEventAsync(Admin, new UsageEventId(999_999)));
        }

        var ours = stopped.Where(x => x.TraceId == trace && x.Source.Name == AllocationsTelemetry.ActivitySourceName).ToList();
        Assert.Equal(["allocations.record", "allocations.reserve", "allocations.get_event"], ours.Select(x => x.OperationName));
        Assert.Equal([ActivityStatusCode.Unset, ActivityStatusCode.Unset, ActivityStatusCode.Error], ours.Select(x => x.Status));
        Assert.Equal(typeof(NotFoundException).FullName, ours[2].GetTagItem("error.type"));
    }

    [Fact]
    public async Task StoreMeter_IsDisposedWithTheStore_UnlessAHostFactoryOwnsIt()
    {
        var t = await TestStore.CreateAsync();
        var meter = t.Store.Telemetry.Meter;
        var published = new ConcurrentQueue<string>();
        var completed = new ConcurrentQueue<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (i, l) =>
            {
                if (ReferenceEquals(i.Meter, meter))
                {
                    published.Enqueue(i.Name);
                    l.EnableMeasurementEvents(i);
                }
            },
            MeasurementsCompleted = (i, _) => completed.Enqueue(i.Name),
        };
        listener.Start();
        t.Dispose();
        Assert.Equal(published.Order(), completed.Order());
        Assert.Equal(3, completed.Count);
    }
}
