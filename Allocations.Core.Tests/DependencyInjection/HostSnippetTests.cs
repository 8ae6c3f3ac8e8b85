using System.Diagnostics.Metrics;
using Allocations;
using Allocations.Diagnostics;
using Allocations.Domain;
using Allocations.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Xunit;

namespace Allocations.Tests.DependencyInjection;

/// <summary>Runs the host-integration snippet the documentation shows, so it keeps compiling and working.</summary>
public class HostSnippetTests
{
    [Fact]
    public async Task DocumentedHostSnippet_RegistersTheStore_TheHealthCheck_AndTheMeter()
    {
        var path = Path.Combine(TestStore.NewDirectory(), "allocations.db");
        long recordedEvents = 0;

        // --- snippet start ---
        var services = new ServiceCollection();
        services.AddLogging();                              // categories Allocations.Storage, .Usage, .Import.Slurm
        services.AddMetrics();                              // the store's meter comes from the host's IMeterFactory
        services.AddAllocationStore(path, options => options.DurableWrites = true);
        services.AddHealthChecks().AddCheck<AllocationStoreHealthCheck>("allocations");

        using var listener = new MeterListener();           // or OpenTelemetry: .AddMeter("Allocations")
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == AllocationsTelemetry.MeterName && instrument.Name == "allocations.usage.events")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref recordedEvents, value));
        listener.Start();

        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<AllocationStore>();
        var health = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        // --- snippet end ---

        Assert.Equal(HealthStatus.Healthy, health.Status);
        var admin = Principal.User("admin");
        var org = await store.CreateOrganizationAsync(Principal.System, "Lab", admin.Id);
        var hours = new UnitCode("core-hours");
        await store.CreateUnitAsync(admin, org.Id, hours, 2);
        await store.CreateSkuAsync(admin, org.Id, TestStore.Cpu, hours, RateBasis.PerHour);
        await store.AddRateRuleAsync(admin, org.Id, TestStore.Cpu, TestStore.November1, null, Rate.FromDecimal(1m));
        var allocation = await store.CreateAllocationAsync(admin, org.Id, new NewAllocation("Physics", hours, Amount.FromDecimal(100m)));
        await store.RecordUsageAsync(admin, TestStore.Cpu1(allocation, 1m, TestStore.November1, TestStore.November1 + NodaTime.Duration.FromHours(1)));
        Assert.True(Interlocked.Read(ref recordedEvents) >= 1);
    }
}
