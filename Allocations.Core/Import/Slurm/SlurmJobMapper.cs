using System.Globalization;
using Allocations.Domain;
using NodaTime;
using NodaTime.Text;

namespace Allocations.Import.Slurm;

/// <summary>A job mapped to a usage record, or the reason it is not recorded.</summary>
internal readonly record struct MappedJob(UsageRecord? Record, SlurmSkip? Skip, bool NotStarted, Instant? End);

/// <summary>Turns parsed sacct jobs into usage records; pure (the caller resolves allocation names and SKUs).</summary>
/// <remarks>
/// <para>Key: <c>slurm:{cluster, lower-case}:{JobIDRaw}:{Submit as Unix seconds}</c>, so each run of a requeued job (a new
/// Submit) and a job id reused after a counter reset are distinct, a re-import is idempotent, and the spelling of the
/// cluster's case in the mapping does not matter (Slurm itself lower-cases ClusterName).</para>
/// <para>Status: a job without a start, in a pending state, or starting after the snapshot records nothing; a job without an end, or in a running state (RUNNING,
/// SUSPENDED, COMPLETING, …), is Estimated over <c>[Start, Start + ElapsedRaw)</c> (what sacct measured when it printed
/// the line; without ElapsedRaw, from its start to the snapshot instant) and replaced on each run; every
/// other state with an end (COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, NODE_FAIL,
/// PREEMPTED, REQUEUED, and any state a newer Slurm adds) is finished and Confirmed.</para>
/// <para>Interval of a finished job: <c>[Start, Start + ElapsedRaw)</c>. ElapsedRaw is a duration and so immune to
/// DST; when the start was an ambiguous or skipped local time and the end was not, the interval is
/// <c>[End − ElapsedRaw, End)</c> instead. Without ElapsedRaw it is <c>[Start, End)</c>.</para>
/// <para>Quantity: the SKU's source as a level (PerHour SKUs); for a PerUnit SKU, level × hours. Rounded half to
/// even to a millionth.</para>
/// </remarks>
internal static class SlurmJobMapper
{
    private static readonly HashSet<string> RunningStates = new(StringComparer.Ordinal)
    {
        "RUNNING", "SUSPENDED", "COMPLETING", "CONFIGURING", "STOPPED", "RESIZING", "SIGNALING", "STAGE_OUT",
        "UPDATE_DB", "POWER_UP_NODE",
    };

    private static readonly HashSet<string> PendingStates = new(StringComparer.Ordinal)
    {
        "PENDING", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD",
    };

    internal static string Key(string cluster, string jobIdRaw, Instant submit) =>
        string.Create(CultureInfo.InvariantCulture, $"slurm:{cluster.ToLowerInvariant()}:{jobIdRaw}:{submit.ToUnixTimeSeconds()}");

    /// <summary>Maps one job. <paramref name="resolve"/> gives the allocation id and SKU basis for the job's account
    /// (with the allocation names it maps to), the start of the job's interval and its SKU, or a refusal message.</summary>
    internal static MappedJob Map(
        SacctJob job,
        SlurmMapping mapping,
        Instant snapshot,
        Func<string, IReadOnlyList<string>, Instant, SkuCode, (AllocationId Allocation, RateBasis Basis, string? Refusal)> resolve)
    {
        try
        {
            return MapChecked(job, mapping, snapshot, resolve);
        }
        catch (OverflowException ex)
        {
            // A time plus ElapsedRaw past the end of time, a length past 292 years: the line is reported, never thrown.
            return new MappedJob(null, new SlurmSkip(job.LineNumber, job.JobId, SlurmSkipReason.Malformed, $"a time or length is out of range: {ex.Message}"), false, null);
        }
    }

    private static MappedJob MapChecked(
        SacctJob job,
        SlurmMapping mapping,
        Instant snapshot,
        Func<string, IReadOnlyList<string>, Instant, SkuCode, (AllocationId Allocation, RateBasis Basis, string? Refusal)> resolve)
    {
        SlurmSkip Skip(SlurmSkipReason reason, string detail) => new(job.LineNumber, job.JobId, reason, detail);

        if (job.Cluster is { } cluster && !string.Equals(cluster, mapping.Cluster, StringComparison.OrdinalIgnoreCase))
        {
            return new MappedJob(null, Skip(SlurmSkipReason.OtherCluster, $"cluster '{cluster}' is not the mapping's '{mapping.Cluster}'"), false, null);
        }
        // A pending job may show the scheduler's expected start; it has not started until it leaves PENDING.
        if (job.Start is not { } start || PendingStates.Contains(job.BaseState) || (job.End is null && start > snapshot))
        {
            return new MappedJob(null, null, true, null);
        }
        if (job.Submit is not { } submit)
        {
            return new MappedJob(null, Skip(SlurmSkipReason.Malformed, "Submit is unknown, so the job has no key"), false, null);
        }
        if (!mapping.Accounts.TryGetValue(job.Account, out var allocationNames))
        {
            return new MappedJob(null, Skip(SlurmSkipReason.UnmappedAccount, $"account '{job.Account}' is not in the mapping"), false, null);
        }
        if (!mapping.Partitions.TryGetValue(job.Partition, out var sku))
        {
            return new MappedJob(null, Skip(SlurmSkipReason.UnmappedPartition, $"partition '{job.Partition}' is not in the mapping"), false, null);
        }

        var state = job.BaseState;
        var finished = job.End is not null && !RunningStates.Contains(state);
        Instant from, to;
        if (finished)
        {
            var end = job.End!.Value;
            if (job.ElapsedSeconds is { } elapsed)
            {
                var length = Duration.FromSeconds(elapsed);
                (from, to) = !job.StartExact && job.EndExact ? (end - length, end) : (start, start + length);
            }
            else
            {
                (from, to) = (start, end);
            }
            if (to < from)
            {
                return new MappedJob(null, Skip(SlurmSkipReason.Malformed, $"End {end} is before Start {start}"), false, null);
            }
        }
        else if (job.ElapsedSeconds is { } measured)
        {
            // What sacct measured when it printed the line, so the same output always gives the same estimate.
            (from, to) = (start, start + Duration.FromSeconds(measured));
        }
        else
        {
            (from, to) = (start, snapshot < start ? start : snapshot);
        }

        var source = mapping.QuantitySourceFor(sku);
        decimal? level = source switch
        {
            SlurmQuantitySource.Cpu => job.AllocCpus ?? job.Tres.Cpu,
            SlurmQuantitySource.Node => job.NNodes ?? job.Tres.Node,
            SlurmQuantitySource.Gpu => job.Tres.Gpu ?? 0m,
            SlurmQuantitySource.Billing => job.Tres.Billing,
            SlurmQuantitySource.MemGB => job.Tres.MemMiB / 1024m,
            _ => null,
        };
        if (level is null)
        {
            return new MappedJob(null, Skip(SlurmSkipReason.NoQuantity, $"SKU '{sku}' is measured by {SlurmMapping.Name(source)}, which the job's line does not give"), false, null);
        }

        var (allocation, basis, refusal) = resolve(job.Account, allocationNames, from, sku);
        if (refusal is not null)
        {
            return new MappedJob(null, Skip(SlurmSkipReason.Rejected, refusal), false, finished ? to : null);
        }
        long micros;
        try
        {
            var quantity = basis == RateBasis.PerUnit
                ? level.Value * ((decimal)(to - from).ToInt64Nanoseconds() / 3_600_000_000_000m)
                : level.Value;
            micros = (long)Math.Round(quantity * 1_000_000m, MidpointRounding.ToEven);
        }
        catch (OverflowException)
        {
            var what = basis == RateBasis.PerUnit ? $"{SlurmMapping.Name(source)} {level.Value} over {to - from}" : $"{SlurmMapping.Name(source)} {level.Value}";
            return new MappedJob(null, Skip(SlurmSkipReason.Malformed, $"the quantity ({what}) is out of range"), false, null);
        }

        var attributes = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["source"] = "slurm",
            ["cluster"] = mapping.Cluster,
            ["jobId"] = job.JobId,
            ["jobIdRaw"] = job.JobIdRaw,
            ["account"] = job.Account,
            ["partition"] = job.Partition,
            ["state"] = state,
            ["submit"] = InstantPattern.General.Format(submit),
        };
        if (job.User.Length > 0)
        {
            attributes["user"] = job.User;
        }
        if (job.Qos is { } qos)
        {
            attributes["qos"] = qos;
        }
        var record = new UsageRecord(
            allocation,
            sku,
            Quantity.FromMicros(micros),
            from,
            to,
            finished ? UsageStatus.Confirmed : UsageStatus.Estimated,
            Key(mapping.Cluster, job.JobIdRaw, submit),
            attributes);
        return new MappedJob(record, null, false, finished ? to : null);
    }
}
