using System.Diagnostics.Metrics;
using Allocations.Diagnostics;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NodaTime;
using NodaTime.Testing;
using Xunit;

namespace Allocations.Tests.DependencyInjection;

public class AddAllocationStoreTests
{
    private static readonly Instant Now = Instant.FromUtc(2026, 11, 20, 12, 0);

    private static string NewPath() => Path.Combine(TestStore.NewDirectory(), "allocations.db");

    [Fact]
    public async Task Store_IsOneSingleton_OpenedWithTheContainersLoggerFactoryMeterFactoryAndClock()
    {
        var path = NewPath();
        var logs = new CapturingLoggerFactory();
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(logs);
        services.AddMetrics();
        services.AddSingleton<IClock>(new FakeClock(Now));
        services.AddAllocationStore(path, options => options.DurableWrites = false);
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        var store = provider.GetRequiredService<AllocationStore>();
        Assert.Same(store, provider.GetRequiredService<AllocationStore>());
        Assert.Equal(Path.GetFullPath(path), store.Location);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 100 && e.Category == AllocationsTelemetry.StorageLogCategory);
        Assert.Same(provider.GetRequiredService<IMeterFactory>(), store.Telemetry.Meter.Scope);
        var org = await store.CreateOrganizationAsync(Principal.System, "Lab", "admin");
        var journal = await store.GetOrganizationJournalAsync(Principal.User("admin"), org.Id);
        Assert.Equal(Now, journal[0].At);
    }

    [Fact]
    public async Task DisposingTheContainer_DisposesTheStore()
    {
        var services = new ServiceCollection().AddAllocationStore(NewPath());
        AllocationStore store;
        await using (var provider = services.BuildServiceProvider())
        {
            store = provider.GetRequiredService<AllocationStore>();
            await store.ListOrganizationsAsync(Principal.System);
        }
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.ListOrganizationsAsync(Principal.System));
    }

    [Fact]
    public async Task PathAndOptions_CanComeFromTheContainer_AndTheFirstRegistrationWins()
    {
        var path = NewPath();
        var services = new ServiceCollection();
        services.AddSingleton(new StoreSettings(path));
        services.AddAllocationStore(sp => sp.GetRequiredService<StoreSettings>().Path, (sp, options) => options.BusyTimeout = Duration.FromSeconds(1));
        services.AddAllocationStore(NewPath());
        await using var provider = services.BuildServiceProvider();

        Assert.Single(services, d => d.ServiceType == typeof(AllocationStore));
        Assert.Equal(Path.GetFullPath(path), provider.GetRequiredService<AllocationStore>().Location);
    }

    [Fact]
    public void EmptyPath_IsRefusedAtRegistration()
    {
        var ex = Assert.Throws<InvalidInputException>(() => new ServiceCollection().AddAllocationStore(" "));
        Assert.Equal("path", ex.Field);
    }

    [Fact]
    public async Task AFileThatIsNotADatabase_FailsTheResolution_WithStoreUnavailable()
    {
        var path = NewPath();
        await File.WriteAllTextAsync(path, "this is not a database, it is a shopping list");
        await using var provider = new ServiceCollection().AddAllocationStore(path).BuildServiceProvider();

        var ex = Assert.Throws<StoreUnavailableException>(() => provider.GetRequiredService<AllocationStore>());
        Assert.Contains("not a SQLite database", ex.Message);
    }

    [Fact]
    public async Task AwaitUsing_DisposesTheStore()
    {
        AllocationStore kept;
        await using (var store = await AllocationStore.OpenAsync(NewPath()))
        {
            kept = store;
            await store.ListOrganizationsAsync(Principal.System);
        }
        await Assert.ThrowsAsync<ObjectDisposedException>(() => kept.ListOrganizationsAsync(Principal.System));
    }

    private sealed record StoreSettings(string Path);
}
