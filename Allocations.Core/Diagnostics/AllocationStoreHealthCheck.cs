using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Allocations.Diagnostics;

/// <summary>A health check over an <see cref="AllocationStore"/>: one short read transaction that touches the database.</summary>
/// <remarks>Register it with <c>services.AddHealthChecks().AddCheck&lt;AllocationStoreHealthCheck&gt;("allocations")</c>
/// after <c>AddAllocationStore</c>. Healthy when the read answers; otherwise the registration's failure status
/// (Unhealthy by default) with the exception's message as the description. The probe reads one row by primary key, so
/// it is cheap enough to run every few seconds; it takes no write lock and never waits for writers.</remarks>
public sealed class AllocationStoreHealthCheck : IHealthCheck
{
    private readonly AllocationStore store;

    /// <summary>Creates the check for a store.</summary>
    /// <param name="store">The store to probe.</param>
    /// <exception cref="Exceptions.InvalidInputException">The store is null.</exception>
    public AllocationStoreHealthCheck(AllocationStore store)
    {
        this.store = store ?? throw new Exceptions.InvalidInputException("store", null, "a store is required");
    }

    /// <summary>Probes the store.</summary>
    /// <param name="context">The check's context (its registration gives the failure status).</param>
    /// <param name="cancellationToken">Cancels the probe.</param>
    /// <returns>Healthy, or the failure status with the reason.</returns>
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["location"] = store.Location };
        try
        {
            await store.ProbeAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy("the store answered a read", data);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            return new HealthCheckResult(context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy, ex.Message, ex, data);
        }
    }
}
