using Allocations.Access;
using Allocations.Diagnostics;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Recording;
using Allocations.Storage;
using Allocations.Utility;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace Allocations.Import.Slurm;

/// <summary>The Slurm importer's runs: the run lock and the watermark (one state row per organization and cluster,
/// read and written under the importer's advisory lock), the fetch between two transactions, and the commit of every
/// job with the new watermark in one.</summary>
internal sealed class SlurmSyncService(Transactions tx, ILogger log)
{
    internal async Task<SlurmSyncReport> SyncAsync(
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
        var snapshot = options.SnapshotAt ?? tx.Clock.GetCurrentInstant();
        InstantCodec.ToNs(snapshot, "snapshotAt");
        if (options.Since is { } since)
        {
            InstantCodec.ToNs(since, "since");
        }
        var owner = new SlurmLockOwner(Guid.NewGuid().ToString("N"), Environment.MachineName, Environment.ProcessId, tx.Clock.GetCurrentInstant(), actor.Id).Format();
        var begin = options.DryRun
            ? await tx.ReadAsync(actor, uow => BeginAsync(uow, organization, mapping, owner, takeLock: false), cancellationToken).ConfigureAwait(false)
            : await tx.WriteAsync(actor, uow => BeginAsync(uow, organization, mapping, owner, takeLock: true), cancellationToken).ConfigureAwait(false);
        if (begin.BusyMessage is { } busy)
        {
            var busyReport = new SlurmSyncReport(SlurmSyncOutcome.LockBusy, options.DryRun, null, 0, 0, 0, 0, 0, 0, 0, [], begin.Watermark, false, busy);
            LogReport(mapping.Cluster, busyReport);
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
            var warnings = await ClusterWarningsAsync(mapping, window, parsed, options.ListClusters, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var report = options.DryRun
                ? await tx.ReadAsync(actor, uow => CommitAsync(uow, organization, mapping, owner, window, parsed, write: false), cancellationToken).ConfigureAwait(false)
                : await tx.WriteAsync(actor, uow => CommitAsync(uow, organization, mapping, owner, window, parsed, write: true), cancellationToken).ConfigureAwait(false);
            finished = report.Outcome == SlurmSyncOutcome.Completed;
            report = warnings.Count == 0 ? report : report.WithWarnings(warnings);
            LogReport(mapping.Cluster, report);
            return report;
        }
        finally
        {
            if (!options.DryRun && !finished)
            {
                await tx.WriteAsync(actor, uow => ReleaseOwnAsync(uow, organization, mapping.Cluster, owner), CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    internal Task<IReadOnlyList<string>> CheckMappingAsync(Principal actor, OrganizationId organization, SlurmMapping mapping, CancellationToken cancellationToken) =>
        tx.Read<IReadOnlyList<string>>(
            actor,
            uow =>
            {
                uow.Access.RequireOrganization(organization, Operation.ImportUsage);
                var problems = new List<string>();
                var allocations = AllocationsByName(uow.Session, organization);
                foreach (var (account, names) in mapping.Accounts)
                {
                    foreach (var name in names.Where(n => !allocations.ContainsKey(Preconditions.NameKey(n))))
                    {
                        problems.Add($"accounts.{account}: allocation '{name}' does not exist in {organization}");
                    }
                }
                problems.AddRange(new SlurmAccounts(allocations).Overlaps(mapping).Select(o => $"accounts.{o.Account}: {o.Problem}"));
                foreach (var (partition, sku) in mapping.Partitions)
                {
                    var row = uow.Session.FindSku(organization.Value, CodeRules.Key(sku.Value));
                    if (row is null)
                    {
                        problems.Add($"partitions.{partition}: SKU '{sku}' does not exist in {organization}");
                        continue;
                    }
                    foreach (var (account, name) in mapping.Accounts.SelectMany(a => a.Value.Select(n => (a.Key, n))))
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

    internal Task<SlurmLockInfo?> ReleaseLockAsync(Principal actor, OrganizationId organization, string key, CancellationToken cancellationToken) =>
        tx.WriteAsync<SlurmLockInfo?>(
            actor,
            async uow =>
            {
                uow.Access.RequireOrganization(organization, Operation.ImportUsage);
                await uow.Session.LockImporterAsync(organization.Value, EventSources.Slurm, key).ConfigureAwait(false);
                var state = uow.Session.GetSlurmState(organization.Value, key);
                if (state is not { LockOwner: { } owner, LockExpiresNs: { } expires })
                {
                    return null;
                }
                state.LockOwner = null;
                state.LockExpiresNs = null;
                uow.Session.PutSlurmState(state);
                return LockInfo(owner, expires);
            },
            cancellationToken);

    internal async Task<IReadOnlyList<string>> CheckClusterAsync(
        Principal actor,
        OrganizationId organization,
        SlurmMapping mapping,
        Func<CancellationToken, Task<IReadOnlyList<string>>> listClusters,
        CancellationToken cancellationToken = default)
    {
        Preconditions.CheckNotNull(mapping, "mapping");
        Preconditions.CheckNotNull(listClusters, "listClusters");
        await tx.Read(actor, uow => uow.Access.RequireOrganization(organization, Operation.ImportUsage), cancellationToken).ConfigureAwait(false);
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
    private static async Task<IReadOnlyList<string>> ClusterWarningsAsync(
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
        ex is NoRateException or NotFoundException or AccessDeniedException or OutsidePeriodException
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

    /// <summary>Refuses a mapping that maps an account to allocations whose periods overlap.</summary>
    /// <exception cref="InvalidInputException">It does; the field is <c>accounts.ACCOUNT</c>.</exception>
    private static void RequireApartPeriods(SlurmAccounts accounts, SlurmMapping mapping)
    {
        foreach (var (account, problem) in accounts.Overlaps(mapping))
        {
            throw new InvalidInputException($"accounts.{account}", string.Join(", ", mapping.Accounts[account]), problem);
        }
    }

    private static Dictionary<string, AllocationRow> AllocationsByName(IStorageSession session, OrganizationId organization) =>
        session.ListAllocations(organization.Value).ToDictionary(r => Preconditions.NameKey(r.Name), StringComparer.Ordinal);

    private static async ValueTask<(long? WatermarkNsRaw, Instant? Watermark, string? BusyMessage)> BeginAsync(
        UnitOfWork uow, OrganizationId organization, SlurmMapping mapping, string owner, bool takeLock)
    {
        var session = uow.Session;
        uow.Access.RequireOrganization(organization, Operation.ImportUsage);
        RequireApartPeriods(new SlurmAccounts(AllocationsByName(session, organization)), mapping); // before the lock is written
        if (takeLock)
        {
            await session.LockImporterAsync(organization.Value, EventSources.Slurm, mapping.Cluster).ConfigureAwait(false);
        }
        var state = session.GetSlurmState(organization.Value, mapping.Cluster);
        Instant? watermark = state?.WatermarkNs is { } ns ? InstantCodec.FromNs(ns) : null;
        if (!takeLock)
        {
            return (state?.WatermarkNs, watermark, null);
        }
        var now = uow.NowNs;
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

    private static async ValueTask<int> ReleaseOwnAsync(UnitOfWork uow, OrganizationId organization, string cluster, string owner)
    {
        var session = uow.Session;
        await session.LockImporterAsync(organization.Value, EventSources.Slurm, cluster).ConfigureAwait(false);
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

    private static async ValueTask<SlurmSyncReport> CommitAsync(
        UnitOfWork uow,
        OrganizationId organization,
        SlurmMapping mapping,
        string owner,
        SlurmQueryWindow window,
        SacctParseResult parsed,
        bool write)
    {
        var session = uow.Session;
        var cancellationToken = uow.CancellationToken;
        uow.Access.RequireOrganization(organization, Operation.ImportUsage);
        if (write)
        {
            await session.LockImporterAsync(organization.Value, EventSources.Slurm, mapping.Cluster).ConfigureAwait(false);
        }
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
        var accounts = new SlurmAccounts(allocations);
        RequireApartPeriods(accounts, mapping); // again: a period may have changed while sacct ran
        var skus = new Dictionary<SkuCode, SkuRow?>();
        (AllocationId, RateBasis, string?) Resolve(string account, IReadOnlyList<string> allocationNames, Instant start, SkuCode sku)
        {
            var (allocation, refusal) = accounts.Pick(account, allocationNames, start, organization);
            if (allocation is null)
            {
                return (default, default, refusal);
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

        var writer = uow.Writer(EventSources.Slurm);
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
            await RecordingService.LockNamedAsync(uow, records).ConfigureAwait(false);
            var result = RecordingService.ApplyBatch(writer, records, cancellationToken, BatchMode.PerItem);
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
            state.LastRunNs = uow.NowNs;
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

    private void LogReport(string cluster, SlurmSyncReport report)
    {
        if (report.Outcome == SlurmSyncOutcome.LockBusy)
        {
            Log.SlurmLockBusy(log, cluster, report.Message);
            return;
        }
        if (log.IsEnabled(LogLevel.Debug))
        {
            foreach (var skip in report.Skipped)
            {
                Log.SlurmJobSkipped(log, cluster, skip.JobId, skip.LineNumber, skip.Reason.ToString(), skip.Detail);
            }
        }
        Log.SlurmSyncFinished(
            log,
            cluster,
            report.Outcome.ToString(),
            report.DryRun ? " (dry run)" : "",
            report.Jobs,
            report.Recorded,
            report.Replaced,
            report.Unchanged,
            report.Skipped.Count,
            report.Watermark?.ToString());
    }
}
