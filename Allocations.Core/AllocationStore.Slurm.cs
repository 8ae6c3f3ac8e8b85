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
    /// <exception cref="InvalidInputException">An option is out of range.</exception>
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
        Observed("slurm_sync", () => SyncSlurmCoreAsync(actor, organization, mapping, fetchSacct, options, cancellationToken), (t, r) =>
        {
            if (!r.DryRun)
            {
                CountSlurm(t, r);
            }
        });

    private async Task<SlurmSyncReport> SyncSlurmCoreAsync(
        Principal actor,
        OrganizationId organization,
        SlurmMapping mapping,
        Func<SlurmQueryWindow, CancellationToken, Task<TextReader>> fetchSacct,
        SlurmSyncOptions? options,
        CancellationToken cancellationToken)
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
        var owner = new SlurmLockOwner(Guid.NewGuid().ToString("N"), Environment.MachineName, Environment.ProcessId, clock.GetCurrentInstant(), actor.Id).Format();
        var begin = options.DryRun
            ? await engine.ReadAsync(session => BeginSlurmSync(session, actor, organization, mapping, owner, takeLock: false), cancellationToken).ConfigureAwait(false)
            : await engine.WriteAsync(session => BeginSlurmSync(session, actor, organization, mapping, owner, takeLock: true), cancellationToken).ConfigureAwait(false);
        if (begin.BusyMessage is { } busy)
        {
            var busyReport = new SlurmSyncReport(SlurmSyncOutcome.LockBusy, options.DryRun, null, 0, 0, 0, 0, 0, 0, 0, [], begin.Watermark, false, busy);
            LogSlurmReport(mapping.Cluster, busyReport);
            return busyReport;
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
            var warnings = await SlurmClusterWarningsAsync(mapping, window, parsed, options.ListClusters, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var report = options.DryRun
                ? await engine.ReadAsync(session => CommitSlurmSync(session, actor, organization, mapping, owner, window, parsed, write: false, cancellationToken), cancellationToken).ConfigureAwait(false)
                : await engine.WriteAsync(session => CommitSlurmSync(session, actor, organization, mapping, owner, window, parsed, write: true, cancellationToken), cancellationToken).ConfigureAwait(false);
            finished = report.Outcome == SlurmSyncOutcome.Completed;
            report = warnings.Count == 0 ? report : report.WithWarnings(warnings);
            LogSlurmReport(mapping.Cluster, report);
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
        var key = cluster.Trim().ToLowerInvariant();
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ImportUsage);
                var state = session.GetSlurmState(organization.Value, key);
                if (state is not { LockOwner: { } owner, LockExpiresNs: { } expires })
                {
                    return null;
                }
                state.LockOwner = null;
                state.LockExpiresNs = null;
                session.PutSlurmState(state);
                return LockInfo(owner, expires);
            },
            cancellationToken);
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
    public async Task<IReadOnlyList<string>> CheckSlurmClusterAsync(
        Principal actor,
        OrganizationId organization,
        SlurmMapping mapping,
        Func<CancellationToken, Task<IReadOnlyList<string>>> listClusters,
        CancellationToken cancellationToken = default)
    {
        Preconditions.CheckNotNull(mapping, "mapping");
        Preconditions.CheckNotNull(listClusters, "listClusters");
        await engine.ReadAsync(session => AccessResolver.RequireOrganization(session, actor, organization, Operation.ImportUsage), cancellationToken).ConfigureAwait(false);
        var known = await listClusters(cancellationToken).ConfigureAwait(false) ?? [];
        if (known.Any(c => string.Equals(c?.Trim(), mapping.Cluster, StringComparison.OrdinalIgnoreCase)))
        {
            return [];
        }
        return known.Count == 0
            ? [$"cluster: sacct knows no cluster at all, so '{mapping.Cluster}' cannot be checked"]
            : [$"cluster: sacct does not know cluster '{mapping.Cluster}' (it knows {string.Join(", ", known.Select(c => $"'{c}'"))}); every sync would read no job"];
    }

    /// <summary>The warnings of a run that read no job of the mapping's cluster: other clusters in the output, or
    /// a known-cluster list without the mapping's.</summary>
    private static async Task<IReadOnlyList<string>> SlurmClusterWarningsAsync(
        SlurmMapping mapping,
        SlurmQueryWindow window,
        SacctParseResult parsed,
        Func<CancellationToken, Task<IReadOnlyList<string>>>? listClusters,
        CancellationToken cancellationToken)
    {
        if (parsed.Jobs.Any(j => j.Cluster is null || string.Equals(j.Cluster, mapping.Cluster, StringComparison.OrdinalIgnoreCase)))
        {
            return [];
        }
        var warnings = new List<string>();
        var seen = parsed.Jobs.Select(j => j.Cluster!.ToLowerInvariant()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (seen.Count > 0)
        {
            warnings.Add($"no job of cluster '{mapping.Cluster}' from {window.Since} to {window.Until}, but the output has jobs of {string.Join(", ", seen.Select(c => $"'{c}'"))}; check the mapping's cluster");
        }
        if (listClusters is not null)
        {
            var known = await listClusters(cancellationToken).ConfigureAwait(false) ?? [];
            var names = known.Where(c => !string.IsNullOrWhiteSpace(c)).Select(c => c.Trim().ToLowerInvariant()).Distinct(StringComparer.Ordinal).ToList();
            if (names.Count > 0 && !names.Contains(mapping.Cluster, StringComparer.Ordinal))
            {
                warnings.Add($"no job of cluster '{mapping.Cluster}' from {window.Since} to {window.Until}, and sacct does not know that cluster (it knows {string.Join(", ", names.Select(c => $"'{c}'"))}); check the mapping's cluster");
            }
        }
        return warnings;
    }

    /// <summary>Whether a lock's owner ran on this host and its process no longer exists (a crashed run).</summary>
    private static bool OwnerProcessIsGone(string ownerText)
    {
        var owner = SlurmLockOwner.Parse(ownerText);
        if (owner.Host is null || owner.ProcessId is not { } pid || !string.Equals(owner.Host, Environment.MachineName, StringComparison.OrdinalIgnoreCase))
        {
            return false; // another host, or a lock of an older version: wait for the expiry
        }
        if (pid == Environment.ProcessId)
        {
            return false; // another run of this very process
        }
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true; // no process with that id is running
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    private static SlurmLockInfo LockInfo(string ownerText, long expiresNs)
    {
        var owner = SlurmLockOwner.Parse(ownerText);
        return new SlurmLockInfo(owner.Principal, owner.Host, owner.ProcessId, owner.AcquiredAt, InstantCodec.FromNs(expiresNs));
    }

    /// <summary>A refusal a fix of the mapping, the catalogue or the grants can cure (so the job is retried).</summary>
    private static bool IsFixable(AllocationsException ex) =>
        ex is NoRateException or NotFoundException or AccessDeniedException
        || (ex is InvalidInputException { Field: "sku" or "allocation" });

    /// <summary>A stored Confirmed event is newer than what the output says: the output shows the job still
    /// running, or finished earlier.</summary>
    private static bool IsOlderNews(EventRow existing, UsageRecord incoming)
    {
        if (existing.Status != (int)UsageStatus.Confirmed)
        {
            return false;
        }
        return incoming.Status == UsageStatus.Estimated || InstantCodec.ToNsUnchecked(incoming.End) < existing.EndNs;
    }

    /// <summary>Names each field in which a stored Confirmed event and the output's record differ, with both values.</summary>
    private static string DescribeConflict(EventRow existing, UsageRecord incoming, Dictionary<string, AllocationRow> allocations)
    {
        string AllocationName(long id) => allocations.Values.FirstOrDefault(a => a.Id == id)?.Name ?? new AllocationId(id).ToString();
        var fields = new List<string>();
        void Field(string name, string stored, string sacct)
        {
            if (!string.Equals(stored, sacct, StringComparison.Ordinal))
            {
                fields.Add($"{name} stored {stored}, sacct {sacct}");
            }
        }
        Field("allocation", AllocationName(existing.AllocationId), AllocationName(incoming.Allocation.Value));
        Field("sku", existing.SkuCode, incoming.Sku.Value);
        Field("quantity", Quantity.FromMicros(existing.Quantity).ToString(), incoming.Quantity.ToString());
        Field("start", InstantCodec.FromNs(existing.StartNs).ToString(), incoming.Start.ToString());
        Field("end", InstantCodec.FromNs(existing.EndNs).ToString(), incoming.End.ToString());
        Field("status", ((UsageStatus)existing.Status).ToString(), incoming.Status.ToString());
        var stored = StoredAttributes(existing.Attributes);
        var sent = incoming.Attributes ?? new Dictionary<string, string>();
        foreach (var name in stored.Keys.Union(sent.Keys).Order(StringComparer.Ordinal))
        {
            Field($"attribute {name}", stored.TryGetValue(name, out var a) ? $"'{a}'" : "(none)", sent.TryGetValue(name, out var b) ? $"'{b}'" : "(none)");
        }
        return $"already recorded as Confirmed event {new UsageEventId(existing.Id)} ({InvalidInputException.Display(existing.ExternalKey)}) and sacct now differs: "
            + (fields.Count == 0 ? "(no field differs as read back)" : string.Join("; ", fields));
    }

    private static Dictionary<string, string> StoredAttributes(string? json)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(json))
        {
            return result;
        }
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(json);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                result[property.Name] = property.Value.ValueKind == System.Text.Json.JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
            }
        }
        catch (System.Text.Json.JsonException)
        {
            result["(stored attributes)"] = json; // shown verbatim: the conflict message must still name both sides
        }
        return result;
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
        if (state is { LockOwner: { } holder, LockExpiresNs: { } expires } && expires > now && !OwnerProcessIsGone(holder))
        {
            var info = LockInfo(holder, expires);
            return (state.WatermarkNs, watermark, $"another sync of cluster '{mapping.Cluster}' holds the lock: {info}");
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
        var stale = 0;
        void Refused(int index, AllocationsException ex)
        {
            var (record, job, end) = items[index];
            if (ex is ConflictException && writer.Known(organization.Value, record.ExternalKey!) is { } existing)
            {
                if (IsOlderNews(existing, record))
                {
                    stale++; // a stale capture replayed after a newer one: what is stored is newer
                    return;
                }
                skipped.Add(new SlurmSkip(job.LineNumber, job.JobId, SlurmSkipReason.Conflict, DescribeConflict(existing, record, allocations)));
                Hold(end); // keep the job in later windows until someone resolves it
                return;
            }
            if (ex is ConflictException)
            {
                skipped.Add(new SlurmSkip(job.LineNumber, job.JobId, SlurmSkipReason.Conflict, ex.Message));
                Hold(end);
                return;
            }
            if (IsFixable(ex))
            {
                skipped.Add(new SlurmSkip(job.LineNumber, job.JobId, SlurmSkipReason.Rejected, ex.Message));
                Hold(end); // a missing rate or allocation can be fixed, so later runs retry the job
                return;
            }
            skipped.Add(new SlurmSkip(job.LineNumber, job.JobId, SlurmSkipReason.Unrecordable, ex.Message));
        }
        int recorded = 0, replaced = 0, unchanged = 0;
        if (write)
        {
            var result = ApplyBatch(writer, records, cancellationToken, BatchMode.PerItem);
            writer.Flush();
            (recorded, replaced, unchanged) = (result.Recorded, result.Replaced, result.Unchanged);
            foreach (var refusal in result.Refusals)
            {
                Refused(refusal.Index, refusal.Error!);
            }
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
            unchanged + stale,
            skipped,
            write ? newWatermark : oldWatermark,
            write && newWatermark != oldWatermark,
            stale: stale);
    }
}
