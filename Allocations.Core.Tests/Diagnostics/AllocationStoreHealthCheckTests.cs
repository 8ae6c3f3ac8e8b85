using Allocations.Diagnostics;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Xunit;

namespace Allocations.Tests.Diagnostics;

public class AllocationStoreHealthCheckTests
{
    private static string NewPath() => Path.Combine(TestStore.NewDirectory(), "allocations.db");

    [Fact]
    public async Task HealthCheck_ThroughTheHealthCheckService_IsHealthyForAWorkingStore()
    {
        var services = new ServiceCollection().AddLogging().AddAllocationStore(NewPath());
        services.AddHealthChecks().AddCheck<AllocationStoreHealthCheck>("allocations");
        await using var provider = services.BuildServiceProvider();

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal(HealthStatus.Healthy, report.Entries["allocations"].Status);
        Assert.Equal(provider.GetRequiredService<AllocationStore>().Location, report.Entries["allocations"].Data["location"]);
    }

    [Fact]
    public async Task HealthCheck_IsUnhealthy_WithTheExceptionsMessage_WhenTheFileIsDamaged()
    {
        using var t = await TestStore.CreateAsync();
        var check = new AllocationStoreHealthCheck(t.Store);
        var context = new HealthCheckContext { Registration = new HealthCheckRegistration("allocations", check, HealthStatus.Unhealthy, null) };
        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(context)).Status);

        // Another program replaces the file (and its write-ahead log) with something else; no idle pooled connection
        // may answer from its page cache.
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(t.Path + suffix);
        }
        await File.WriteAllBytesAsync(t.Path, Enumerable.Repeat((byte)0x5A, 8192).ToArray());
        var result = await check.CheckHealthAsync(context);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.IsType<StoreUnavailableException>(result.Exception);
        Assert.Equal(result.Exception!.Message, result.Description);
        Assert.Contains(t.Path, result.Description);
    }

    [Fact]
    public async Task HealthCheck_ReportsTheRegistrationsFailureStatus_ForADisposedStore()
    {
        var store = await AllocationStore.OpenAsync(NewPath());
        await store.DisposeAsync();
        var check = new AllocationStoreHealthCheck(store);
        var context = new HealthCheckContext { Registration = new HealthCheckRegistration("allocations", check, HealthStatus.Degraded, null) };

        var result = await check.CheckHealthAsync(context);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.IsType<ObjectDisposedException>(result.Exception);
    }
}
