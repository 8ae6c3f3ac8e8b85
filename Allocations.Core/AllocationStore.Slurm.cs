using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using Allocations.Recording;
using Allocations.Storage;
using Allocations.Utility;
using NodaTime;

namespace Allocations;

public sealed partial class AllocationStore
{
    /// <summary>Imports a Slurm cluster's jobs: runs <paramref name="fetchSacct"/> for the window since the
    /// watermark (minus the overlap) while holding the cluster's run lock, then records every job in one transaction
    /// together with the new watermark.</summary>
    /// <remarks>
    /// <para>Idempotent: each job run is keyed by cluster, JobIDRaw and Submit, so repeated and overlapping windows
    /// count nothing twice; running jobs are Estimated up to the snapshot and replaced on each run; finished jobs
    /// are Confirmed. Usage and watermark commit together, so a crash leaves both as they were.</para>
    /// <para>Lock: one row per organization and cluster with an owner and an expiry (<see cref="SlurmMapping.LockTimeout"/>),
    /// taken in a write transaction before fetching. A second run while it is held returns
    /// <see cref="SlurmSyncOutcome.LockBusy"/> and does nothing; a run whose lock expired and was taken over returns
    /// <see cref="SlurmSyncOutcome.LockLost"/> and writes nothing.</para>
    /// <para>Watermark: the snapshot instant, except that when the store refused a job for a reason that can be
    /// fixed (no rate, unknown allocation or SKU) it is held at that job's end so later runs retry it; a conflict (a
    /// Confirmed job re-sent with different content) is reported but does not hold it. A dry run takes no lock and writes
    /// nothing. The caller owns the returned reader.</para>
    /// </remarks>
    /// <param name="actor">An organization admin (or the system actor).</param>
    /// <param name="organization">The organization the mapped allocations and SKUs belong to.</param>
    /// <param name="mapping">The cluster's mapping.</param>
    /// <param name="fetchSacct">Produces <c>sacct --parsable2</c> output (with a header) for the window.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the run; nothing is recorded when cancelled.</param>
    /// <returns>What the run did.</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
    public async Task<SlurmSyncReport> SyncSlurmFromSacctAsync(
        Principal actor,
        OrganizationId organization,
        SlurmMapping mapping,
        Func<SlurmQueryWindow, CancellationToken, Task<TextReader>> fetchSacct,
        SlurmSyncOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        Preconditions.CheckNotNull(mapping, "mapping");
        Preconditions.CheckNotNull(fetchSacct, "fetchSacct");
        options ??= new SlurmSyncOptions();
        var snapshot = options.SnapshotAt ?? clock.GetCurrentInstant();
        InstantCodec.ToNs(snapshot, "snapshotAt");
        if (options.Since is { } since)
        {
            InstantCodec.ToNs(since, "since");
        }
        var owner = Guid.NewGuid().ToString("N");
        var begin = options.DryRun
            ? await engine.ReadAsync(session => BeginSlurmSync(session, actor, organization, mapping, owner, takeLock: false), cancellationToken).ConfigureAwait(false)
            : await engine.WriteAsync(session => BeginSlurmSync(session, actor, organization, mapping, owner, takeLock: true), cancellationToken).ConfigureAwait(false);
        if (begin.BusyMessage is { } busy)
        {
            return new SlurmSyncReport(SlurmSyncOutcome.LockBusy, options.DryRun, null, 0, 0, 0, 0, 0, 0, 0, [], begin.Watermark, false, busy);
        }
        var from = options.Since ?? (begin.Watermark is { } mark ? mark - mapping.Overlap : snapshot - mapping.FirstLookback);
        var window = new SlurmQueryWindow(from, snapshot);
        var finished = false;
        try
        {
            var reader = await fetchSacct(window, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidInputException("fetchSacct", null, "returned no reader");
            var parsed = SacctParser.Parse(reader, mapping.TimeZone);
            cancellationToken.ThrowIfCancellationRequested();
            var report = options.DryRun
                ? await engine.ReadAsync(session => CommitSlurmSync(session, actor, organization, mapping, owner, window, parsed, write: false, cancellationToken), cancellationToken).ConfigureAwait(false)
                : await engine.WriteAsync(session => CommitSlurmSync(session, actor, organization, mapping, owner, window, parsed, write: true, cancellationToken), cancellationToken).ConfigureAwait(false);
            finished = report.Outcome == SlurmSyncOutcome.Completed;
            return report;
        }
        finally
        {
            if (!options.DryRun && !finished)
            {
                await engine.WriteAsync(session => ReleaseSlurmLock(session, organization, mapping.Cluster, owner), CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

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
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
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

    /// <summary>Checks a mapping against the store: every allocation and SKU it names exists, and each SKU's unit
    /// matches its allocations'. Writes nothing.</summary>
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
        return engine.ReadAsync<IReadOnlyList<string>>(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ImportUsage);
                var problems = new List<string>();
                var allocations = AllocationsByName(session, organization);
                foreach (var (account, name) in mapping.Accounts)
                {
                    if (!allocations.ContainsKey(Preconditions.NameKey(name)))
                    {
                        problems.Add($"accounts.{account}: allocation '{name}' does not exist in {organization}");
                    }
                }
                foreach (var (partition, sku) in mapping.Partitions)
                {
                    var row = session.FindSku(organization.Value, CodeRules.Key(sku.Value));
                    if (row is null)
                    {
                        problems.Add($"partitions.{partition}: SKU '{sku}' does not exist in {organization}");
                        continue;
                    }
                    foreach (var (account, name) in mapping.Accounts)
                    {
                        if (allocations.TryGetValue(Preconditions.NameKey(name), out var allocation) && allocation.UnitId != row.UnitId)
                        {
                            problems.Add($"partitions.{partition}: SKU '{sku}' is in '{row.UnitCode}' but allocation '{name}' (account {account}) is in '{allocation.UnitCode}'");
                        }
                    }
                }
                foreach (var sku in mapping.QuantitySources.Keys)
                {
                    if (!mapping.Partitions.Values.Contains(sku))
                    {
                        problems.Add($"skus.{sku}: no partition maps to this SKU");
                    }
                }
                return problems;
            },
            cancellationToken);
    }

    private static Dictionary<string, AllocationRow> AllocationsByName(IStorageSession session, OrganizationId organization) =>
        session.ListAllocations(organization.Value).ToDictionary(r => Preconditions.NameKey(r.Name), StringComparer.Ordinal);

    private (long? WatermarkNsRaw, Instant? Watermark, string? BusyMessage) BeginSlurmSync(
        IStorageSession session, Principal actor, OrganizationId organization, SlurmMapping mapping, string owner, bool takeLock)
    {
        AccessResolver.RequireOrganization(session, actor, organization, Operation.ImportUsage);
        var state = session.GetSlurmState(organization.Value, mapping.Cluster);
        Instant? watermark = state?.WatermarkNs is { } ns ? InstantCodec.FromNs(ns) : null;
        if (!takeLock)
        {
            return (state?.WatermarkNs, watermark, null);
        }
        var now = NowNs();
        if (state is { LockOwner: not null, LockExpiresNs: { } expires } && expires > now)
        {
            return (state.WatermarkNs, watermark, $"another sync of cluster '{mapping.Cluster}' holds the lock until {InstantCodec.FromNs(expires)}");
        }
        state ??= new SlurmStateRow { OrgId = organization.Value, Cluster = mapping.Cluster };
        state.LockOwner = owner;
        state.LockExpiresNs = checked(now + mapping.LockTimeout.ToInt64Nanoseconds());
        session.PutSlurmState(state);
        return (state.WatermarkNs, watermark, null);
    }

    private static int ReleaseSlurmLock(IStorageSession session, OrganizationId organization, string cluster, string owner)
    {
        var state = session.GetSlurmState(organization.Value, cluster);
        if (state is null || state.LockOwner != owner)
        {
            return 0;
        }
        state.LockOwner = null;
        state.LockExpiresNs = null;
        session.PutSlurmState(state);
        return 1;
    }

    private SlurmSyncReport CommitSlurmSync(
        IStorageSession session,
        Principal actor,
        OrganizationId organization,
        SlurmMapping mapping,
        string owner,
        SlurmQueryWindow window,
        SacctParseResult parsed,
        bool write,
        CancellationToken cancellationToken)
    {
        AccessResolver.RequireOrganization(session, actor, organization, Operation.ImportUsage);
        var state = session.GetSlurmState(organization.Value, mapping.Cluster);
        Instant? oldWatermark = state?.WatermarkNs is { } ns ? InstantCodec.FromNs(ns) : null;
        if (write && state?.LockOwner != owner)
        {
            var holder = state?.LockExpiresNs is { } expires ? $" (held by another run until {InstantCodec.FromNs(expires)})" : "";
            return new SlurmSyncReport(
                SlurmSyncOutcome.LockLost, false, window, parsed.LinesRead, parsed.Jobs.Count, parsed.StepLines, 0, 0, 0, 0, [], oldWatermark, false,
                $"this run's lock on cluster '{mapping.Cluster}' expired and was taken over{holder}; nothing was written");
        }

        var skipped = parsed.Problems.Select(p => new SlurmSkip(p.LineNumber, null, SlurmSkipReason.Malformed, p.Reason)).ToList();
        var allocations = AllocationsByName(session, organization);
        var skus = new Dictionary<SkuCode, SkuRow?>();
        (AllocationId, RateBasis, string?) Resolve(string allocationName, SkuCode sku)
        {
            if (!allocations.TryGetValue(Preconditions.NameKey(allocationName), out var allocation))
            {
                return (default, default, $"allocation '{allocationName}' does not exist in {organization}");
            }
            if (!skus.TryGetValue(sku, out var skuRow))
            {
                skuRow = session.FindSku(organization.Value, CodeRules.Key(sku.Value));
                skus[sku] = skuRow;
            }
            return skuRow is null
                ? (default, default, $"SKU '{sku}' does not exist in {organization}")
                : (new AllocationId(allocation.Id), (RateBasis)skuRow.Basis, null);
        }

        // One record per key; when a key repeats in one snapshot, the later line wins.
        var byKey = new Dictionary<string, (UsageRecord Record, SacctJob Job, Instant? End)>(StringComparer.Ordinal);
        var order = new List<string>();
        var notStarted = 0;
        Instant? holdAt = null;
        void Hold(Instant? end)
        {
            var at = end ?? window.Until;
            holdAt = holdAt is { } h && h < at ? h : at;
        }
        foreach (var job in parsed.Jobs)
        {
            var mapped = SlurmJobMapper.Map(job, mapping, window.Until, Resolve);
            if (mapped.NotStarted)
            {
                notStarted++;
            }
            else if (mapped.Skip is { } skip)
            {
                skipped.Add(skip);
                if (skip.Reason == SlurmSkipReason.Rejected)
                {
                    Hold(mapped.End);
                }
            }
            else if (mapped.Record is { } record)
            {
                if (!byKey.ContainsKey(record.ExternalKey!))
                {
                    order.Add(record.ExternalKey!);
                }
                byKey[record.ExternalKey!] = (record, job, mapped.End);
            }
        }
        var items = order.Select(k => byKey[k]).ToList();
        var records = items.Select(i => i.Record).ToList();

        var writer = Writer(session, actor, EventSources.Slurm);
        void Refused(int index, AllocationsException ex)
        {
            var job = items[index].Job;
            skipped.Add(new SlurmSkip(job.LineNumber, job.JobId, SlurmSkipReason.Rejected, ex.Message));
            if (ex is not ConflictException)
            {
                Hold(items[index].End); // a missing rate or allocation can be fixed, so later runs retry the job
            }
        }
        int recorded = 0, replaced = 0, unchanged = 0;
        if (write)
        {
            var result = ApplyBatch(writer, records, cancellationToken, Refused);
            writer.Flush();
            (recorded, replaced, unchanged) = (result.Recorded, result.Replaced, result.Unchanged);
        }
        else
        {
            writer.Prefetch(records);
            for (var i = 0; i < records.Count; i++)
            {
                try
                {
                    switch (writer.Plan(records[i], Operation.RecordUsage, records[i].Status).Disposition)
                    {
                        case RecordDisposition.Recorded: recorded++; break;
                        case RecordDisposition.Replaced: replaced++; break;
                        default: unchanged++; break;
                    }
                }
                catch (AllocationsException ex)
                {
                    Refused(i, ex);
                }
            }
        }

        var newWatermark = holdAt is { } held && held < window.Until ? held : window.Until;
        if (write)
        {
            state ??= new SlurmStateRow { OrgId = organization.Value, Cluster = mapping.Cluster };
            state.WatermarkNs = InstantCodec.ToNsUnchecked(newWatermark);
            state.LastRunNs = NowNs();
            state.LockOwner = null;
            state.LockExpiresNs = null;
            session.PutSlurmState(state);
        }
        skipped.Sort((a, b) => a.LineNumber.CompareTo(b.LineNumber));
        return new SlurmSyncReport(
            SlurmSyncOutcome.Completed,
            !write,
            window,
            parsed.LinesRead,
            parsed.Jobs.Count,
            parsed.StepLines,
            notStarted,
            recorded,
            replaced,
            unchanged,
            skipped,
            write ? newWatermark : oldWatermark,
            write && newWatermark != oldWatermark);
    }
}
