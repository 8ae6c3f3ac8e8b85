using System.Diagnostics.Metrics;
using Allocations;
using Allocations.Exceptions;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers an <see cref="AllocationStore"/> in a host's service container.</summary>
public static class AllocationStoreServiceCollectionExtensions
{
    /// <summary>Registers one <see cref="AllocationStore"/> over a database file as a singleton with the default options,
    /// opened on first use and disposed with the container; see
    /// <see cref="AddAllocationStore(IServiceCollection, string, Action{AllocationStoreOptions}?)"/>.</summary>
    /// <param name="services">The container's services.</param>
    /// <param name="path">The database file's path; created when missing.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="InvalidInputException">The path is empty.</exception>
    public static IServiceCollection AddAllocationStore(this IServiceCollection services, string path) =>
        services.AddAllocationStore(path, (Action<AllocationStoreOptions>?)null);

    /// <summary>Registers one <see cref="AllocationStore"/> over a database file as a singleton, opened on first use and
    /// disposed with the container.</summary>
    /// <remarks>
    /// <para>The store is opened when it is first resolved, by the same synchronous work <see cref="AllocationStore.OpenAsync"/>
    /// does (opening a SQLite file and upgrading its schema does not wait on anything asynchronous). A file that cannot
    /// be opened fails that resolution with <see cref="StoreUnavailableException"/>; resolve the store (or run the
    /// <see cref="Allocations.Diagnostics.AllocationStoreHealthCheck"/>) at start-up to fail fast.</para>
    /// <para>Options the configure callback leaves null are taken from the container when it has them:
    /// <see cref="ILoggerFactory"/>, <see cref="IMeterFactory"/> and NodaTime's <see cref="IClock"/>. A second call
    /// for the same container does nothing (the first registration wins).</para>
    /// </remarks>
    /// <param name="services">The container's services.</param>
    /// <param name="path">The database file's path; created when missing.</param>
    /// <param name="configure">Sets options; null for the defaults.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="InvalidInputException">The path is empty.</exception>
    public static IServiceCollection AddAllocationStore(this IServiceCollection services, string path, Action<AllocationStoreOptions>? configure)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new InvalidInputException("path", path, "a file path is required");
        }
        return services.AddAllocationStore(_ => path, configure is null ? null : (_, options) => configure(options));
    }

    /// <summary>Registers one <see cref="AllocationStore"/> as a singleton whose path and options come from the
    /// container (configuration, say); see <see cref="AddAllocationStore(IServiceCollection, string, Action{AllocationStoreOptions}?)"/>.</summary>
    /// <param name="services">The container's services.</param>
    /// <param name="path">Gives the database file's path.</param>
    /// <param name="configure">Sets options; null for the defaults.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="InvalidInputException">A service collection or path callback is missing.</exception>
    public static IServiceCollection AddAllocationStore(
        this IServiceCollection services,
        Func<IServiceProvider, string> path,
        Action<IServiceProvider, AllocationStoreOptions>? configure)
    {
        if (services is null)
        {
            throw new InvalidInputException("services", null, "a service collection is required");
        }
        if (path is null)
        {
            throw new InvalidInputException("path", null, "a path callback is required");
        }
        services.TryAddSingleton(provider =>
        {
            var options = new AllocationStoreOptions();
            configure?.Invoke(provider, options);
            options.LoggerFactory ??= provider.GetService<ILoggerFactory>();
            options.MeterFactory ??= provider.GetService<IMeterFactory>();
            options.Clock ??= provider.GetService<IClock>();
            var file = path(provider);
            if (string.IsNullOrWhiteSpace(file))
            {
                throw new InvalidInputException("path", file, "a file path is required");
            }
            return AllocationStore.OpenSynchronously(file, options);
        });
        return services;
    }
}
