using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using Allocations.Utility;

namespace Allocations;

public sealed partial class AllocationStore
{
    /// <summary>Imports a Slurm cluster's jobs: runs <paramref name="fetchSacct"/> for the window since the
    /// watermark (minus the overlap) while holding the cluster's run lock, then records every job in one transaction
    /// together with the new watermark.</summary>
    /// <remarks>
    /// <para>Idempotent: each job run is keyed by cluster (lower-cased), JobIDRaw and Submit, so repeated and
    /// overlapping windows count nothing twice; running jobs are Estimated over <c>[Start, Start + ElapsedRaw)</c>, what
    /// sacct measured when it printed (without ElapsedRaw, up to the snapshot), and replaced on each run; finished jobs
    /// are Confirmed. The same output imported twice changes nothing, whatever the clock says. A Confirmed job seen
    /// again as running or with an earlier end is older news (a stale capture): counted in
    /// <see cref="SlurmSyncReport.Unchanged"/> and <see cref="SlurmSyncReport.Stale"/>, nothing changed. Usage and
    /// watermark commit together, so a crash or a cancellation leaves both as they were.</para>
    /// <para>Lock: one row per organization and cluster with an owner (run token, host, process id, when, who) and an
    /// expiry (<see cref="SlurmMapping.LockTimeout"/>), taken in a write transaction before fetching. A second run while
    /// it is held returns <see cref="SlurmSyncOutcome.LockBusy"/> and does nothing, unless the holder ran on this host
    /// and its process is gone (a crashed run): then the lock is taken over at once. A run whose lock expired and was
    /// taken over returns <see cref="SlurmSyncOutcome.LockLost"/> and writes nothing. <see cref="ReleaseSlurmLockAsync"/>
    /// clears a lock by hand.</para>
    /// <para>Accounts mapped to several allocations: a job goes to the one whose period (its own, within its parent's)
    /// holds the job's start; a job whose start none of them holds is reported as <see cref="SlurmSkipReason.Rejected"/>
    /// naming the account, the allocations with their periods and the start, and is retried by later runs.</para>
    /// <para>Watermark: the snapshot instant, except that it is held at a job's end (so later runs retry it) when the
    /// store refused the job for a reason that can be fixed (<see cref="SlurmSkipReason.Rejected"/>: no rate, unknown
    /// allocation or SKU, a SKU in another unit, access) or the job is a <see cref="SlurmSkipReason.Conflict"/> (a
    /// Confirmed job re-sent with content that is not older news; the skip names each differing field, stored and
    /// sacct value). A refusal no fix can cure (<see cref="SlurmSkipReason.Unrecordable"/>: a field too long, a key over
    /// the limit, a figure out of range) and a malformed line are reported with their line and do not hold it. A dry
    /// run takes no lock and writes nothing. The caller owns the returned reader.</para>
    /// <para>Warnings: a run that reads no job of the mapping's cluster while the output shows other clusters, or
    /// while <see cref="SlurmSyncOptions.ListClusters"/> names clusters that do not include the mapping's, says so in
    /// <see cref="SlurmSyncReport.Warnings"/>.</para>
    /// </remarks>
    /// <param name="actor">An organization admin (or the system actor).</param>
    /// <param name="organization">The organization the mapped allocations and SKUs belong to.</param>
    /// <param name="mapping">The cluster's mapping.</param>
    /// <param name="fetchSacct">Produces <c>sacct --parsable2</c> output (with a header) for the window.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the run: the lock is released and nothing is recorded.</param>
    /// <returns>What the run did.</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="InvalidInputException">An option is out of range, or the mapping maps an account to allocations
    /// whose periods overlap (the field is <c>accounts.ACCOUNT</c>); nothing was written.</exception>
    /// <exception cref="OperationCanceledException">The run was cancelled; the lock was released and nothing written.</exception>
    /// <exception cref="SlurmCommandException">The fetch (for example <see cref="SlurmCommands.RunSacctAsync"/>) failed;
    /// the lock was released and nothing written. Any other exception of the fetch propagates the same way.</exception>
    public Task<SlurmSyncReport> SyncSlurmFromSacctAsync(
        Principal actor,
        OrganizationId organization,
        SlurmMapping mapping,
        Func<SlurmQueryWindow, CancellationToken, Task<TextReader>> fetchSacct,
        SlurmSyncOptions? options = null,
        CancellationToken cancellationToken = default) =>
        Observed("slurm_sync", () => slurm.SyncAsync(actor, organization, mapping, fetchSacct, options, cancellationToken), (t, r) =>
        {
            if (!r.DryRun)
            {
                CountSlurm(t, r);
            }
        });

    /// <summary>Imports a Slurm cluster's jobs from sacct output already at hand (a file, stdin), under the run lock.</summary>
    /// <remarks>Everything of <see cref="SyncSlurmFromSacctAsync"/> applies; the reader's content is taken as the snapshot of the
    /// window, and the caller owns (and disposes) the reader.</remarks>
    /// <param name="actor">An organization admin (or the system actor).</param>
    /// <param name="organization">The organization.</param>
    /// <param name="mapping">The cluster's mapping.</param>
    /// <param name="sacctOutput"><c>sacct --parsable2</c> output with a header.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>What the run did.</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="InvalidInputException">An option is out of range, or the mapping maps an account to allocations
    /// whose periods overlap (the field is <c>accounts.ACCOUNT</c>); nothing was written.</exception>
    public Task<SlurmSyncReport> SyncSlurmAsync(
        Principal actor,
        OrganizationId organization,
        SlurmMapping mapping,
        TextReader sacctOutput,
        SlurmSyncOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        Preconditions.CheckNotNull(sacctOutput, "sacctOutput");
        return SyncSlurmFromSacctAsync(actor, organization, mapping, (_, _) => Task.FromResult(sacctOutput), options, cancellationToken);
    }

    /// <summary>Checks a mapping against the store: every allocation and SKU it names exists, each SKU's unit
    /// matches its allocations', and the allocations of an account mapped to several have periods that do not overlap.
    /// Writes nothing.</summary>
    /// <param name="actor">An organization admin (or the system actor).</param>
    /// <param name="organization">The organization.</param>
    /// <param name="mapping">The mapping.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>One message per problem; empty when the mapping fits the store.</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<IReadOnlyList<string>> CheckSlurmMappingAsync(Principal actor, OrganizationId organization, SlurmMapping mapping, CancellationToken cancellationToken = default)
    {
        Preconditions.CheckNotNull(mapping, "mapping");
        return slurm.CheckMappingAsync(actor, organization, mapping, cancellationToken);
    }

    /// <summary>Clears a cluster's run lock by hand (after a crashed run on another host, say) and tells whose it was.</summary>
    /// <remarks>A run that still holds the lock finds it gone when it commits and writes nothing
    /// (<see cref="SlurmSyncOutcome.LockLost"/>); the watermark is not touched. A crashed run on the same host needs no
    /// hand: the next run sees its process gone and takes the lock over at once.</remarks>
    /// <param name="actor">An organization admin (or the system actor).</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cluster">The cluster name, in any case (matched lower-cased, as the mapping stores it).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Who held the lock, or null when no lock was held (an expired one counts as held until cleared).</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="InvalidInputException">The cluster name is null or empty.</exception>
    public Task<SlurmLockInfo?> ReleaseSlurmLockAsync(Principal actor, OrganizationId organization, string cluster, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(cluster))
        {
            throw new InvalidInputException("cluster", cluster, "a cluster name is required");
        }
        return slurm.ReleaseLockAsync(actor, organization, cluster.Trim().ToLowerInvariant(), cancellationToken);
    }

    /// <summary>Checks a mapping's cluster against the clusters the accounting database knows (for example
    /// <see cref="SlurmCommands.ListClustersAsync"/>): a cluster sacct does not know makes every sync read nothing.
    /// Writes nothing.</summary>
    /// <param name="actor">An organization admin (or the system actor).</param>
    /// <param name="organization">The organization.</param>
    /// <param name="mapping">The mapping.</param>
    /// <param name="listClusters">Lists the clusters sacct knows.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>One message per problem; empty when sacct knows the mapping's cluster.</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="InvalidInputException">An argument is null.</exception>
    /// <exception cref="SlurmCommandException">The cluster query failed (from <see cref="SlurmCommands.ListClustersAsync"/>).</exception>
    public Task<IReadOnlyList<string>> CheckSlurmClusterAsync(
        Principal actor,
        OrganizationId organization,
        SlurmMapping mapping,
        Func<CancellationToken, Task<IReadOnlyList<string>>> listClusters,
        CancellationToken cancellationToken = default) =>
        slurm.CheckClusterAsync(actor, organization, mapping, listClusters, cancellationToken);
}
