using NodaTime;

namespace Allocations.Import.Slurm;

/// <summary>Options of one Slurm sync run.</summary>
public sealed record SlurmSyncOptions
{
    /// <summary>Gets a value indicating whether to work out and report everything but write nothing (no usage, no
    /// watermark, no lock).</summary>
    public bool DryRun { get; init; }

    /// <summary>Gets when the sacct snapshot was taken; null for the store clock's now. Running jobs are recorded
    /// up to this instant, and it becomes the watermark.</summary>
    public Instant? SnapshotAt { get; init; }

    /// <summary>Gets a start for the sacct window that overrides the watermark (to re-import after fixing the
    /// mapping); null to use the watermark minus the overlap.</summary>
    public Instant? Since { get; init; }

    /// <summary>Gets a query for the clusters sacct knows (for example <see cref="SlurmCommands.ListClustersAsync"/>,
    /// which runs <c>sacctmgr list clusters</c>); null not to ask.</summary>
    /// <remarks>Asked only when a run reads no job of the mapping's cluster: if sacct knows clusters and the mapping's
    /// is not among them, the report carries a warning (see <see cref="SlurmSyncReport.Warnings"/>). Its failures
    /// propagate like the fetch's: the lock is released and nothing is written.</remarks>
    public Func<CancellationToken, Task<IReadOnlyList<string>>>? ListClusters { get; init; }
}

/// <summary>The window a run asks sacct for: jobs that ran at any time from <see cref="Since"/> on.</summary>
/// <param name="Since">The start (the watermark minus the overlap, or the first run's lookback).</param>
/// <param name="Until">The snapshot instant (now).</param>
public sealed record SlurmQueryWindow(Instant Since, Instant Until);

/// <summary>How a run ended.</summary>
public enum SlurmSyncOutcome
{
    /// <summary>The run finished (see the counts and skips; a dry run wrote nothing).</summary>
    Completed = 1,

    /// <summary>Another run holds the lock; this run read and wrote nothing.</summary>
    LockBusy = 2,

    /// <summary>This run's lock expired and another run took it over; this run wrote nothing.</summary>
    LockLost = 3,
}

/// <summary>Why a line or job was not recorded.</summary>
public enum SlurmSkipReason
{
    /// <summary>The line could not be parsed (wrong field count, a bad time or number). A failure.</summary>
    Malformed = 1,

    /// <summary>The job's account is not in the mapping.</summary>
    UnmappedAccount = 2,

    /// <summary>The job's partition is not in the mapping.</summary>
    UnmappedPartition = 3,

    /// <summary>The line belongs to another cluster.</summary>
    OtherCluster = 4,

    /// <summary>The job lacks the figure its SKU's quantity source needs (for example no billing TRES). A failure.</summary>
    NoQuantity = 5,

    /// <summary>The store refused the record for a reason a fix of the mapping or the catalogue can cure (allocation
    /// or SKU not found, a SKU in another unit, no rate in force, access). A failure; the watermark is held at the
    /// job's end so later runs retry it.</summary>
    Rejected = 6,

    /// <summary>The job is already recorded as a Confirmed event and sacct now gives it different content that is not
    /// older news (not a running snapshot, not an earlier end). A failure that holds the watermark at the job's end; the
    /// detail names each differing field with the stored and the sacct value.</summary>
    Conflict = 7,

    /// <summary>The store refused the record for a reason no fix can cure (a field too long, a key over the limit, a
    /// figure out of range). A failure reported with its line; the watermark is not held, so later runs move on.</summary>
    Unrecordable = 8,
}

/// <summary>One line or job that was not recorded, and why.</summary>
/// <param name="LineNumber">The 1-based line number in the sacct output (0 when not tied to a line).</param>
/// <param name="JobId">The job id as sacct displays it, when known.</param>
/// <param name="Reason">Why.</param>
/// <param name="Detail">A message naming the values involved.</param>
public sealed record SlurmSkip(int LineNumber, string? JobId, SlurmSkipReason Reason, string Detail)
{
    /// <summary>Gets whether this skip is a failure (malformed input, a missing quantity, a refused record) rather
    /// than an expected exclusion.</summary>
    public bool IsFailure => Reason is SlurmSkipReason.Malformed or SlurmSkipReason.NoQuantity or SlurmSkipReason.Rejected
        or SlurmSkipReason.Conflict or SlurmSkipReason.Unrecordable;
}

/// <summary>What one Slurm sync run did.</summary>
/// <param name="Outcome">How the run ended.</param>
/// <param name="DryRun">Whether nothing was written on purpose.</param>
/// <param name="Window">The sacct window of the run.</param>
/// <param name="LinesRead">Lines of sacct output read.</param>
/// <param name="Jobs">Job allocation lines read (steps excluded).</param>
/// <param name="StepsIgnored">Step lines ignored (a job counts once, by its allocation line).</param>
/// <param name="NotStarted">Jobs that never started (pending, or cancelled before starting): nothing to record.</param>
/// <param name="Recorded">New usage events.</param>
/// <param name="Replaced">Estimated events replaced (a running job's new estimate, or its final Confirmed usage).</param>
/// <param name="Unchanged">Jobs already recorded with the same content.</param>
/// <param name="Skipped">Every line or job not recorded, with its reason.</param>
/// <param name="Watermark">The watermark after the run (null when none was ever set).</param>
/// <param name="WatermarkAdvanced">Whether this run moved the watermark.</param>
/// <param name="Message">For <see cref="SlurmSyncOutcome.LockBusy"/> or <see cref="SlurmSyncOutcome.LockLost"/>,
/// who holds the lock until when; otherwise null.</param>
public sealed record SlurmSyncReport(
    SlurmSyncOutcome Outcome,
    bool DryRun,
    SlurmQueryWindow? Window,
    int LinesRead,
    int Jobs,
    int StepsIgnored,
    int NotStarted,
    int Recorded,
    int Replaced,
    int Unchanged,
    IReadOnlyList<SlurmSkip> Skipped,
    Instant? Watermark,
    bool WatermarkAdvanced,
    string? Message = null)
{
    /// <summary>Gets how many of <see cref="Unchanged"/> were older news: a job already Confirmed that the output shows
    /// still running, or with an earlier end (a stale capture replayed after a newer one). Nothing is changed for them.</summary>
    public int Stale { get; init; }

    /// <summary>Gets warnings that are not failures of a line but suggest the run imported less than it should, such
    /// as no job of the mapping's cluster while sacct knows other clusters (a misspelt <c>cluster</c>).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Gets whether the run has warnings.</summary>
    public bool HasWarnings => Warnings.Count > 0;

    /// <summary>Gets whether anything failed: the run did not complete, or a skip is a failure.</summary>
    public bool HasFailures => Outcome != SlurmSyncOutcome.Completed || Skipped.Any(s => s.IsFailure);

    /// <summary>Gets how many skips there are of a reason.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The count.</returns>
    public int Count(SlurmSkipReason reason) => Skipped.Count(s => s.Reason == reason);
}

/// <summary>Who held a cluster's run lock, as <see cref="AllocationStore.ReleaseSlurmLockAsync"/> found it.</summary>
public sealed class SlurmLockInfo
{
    internal SlurmLockInfo(string owner, string? host, int? processId, Instant? acquiredAt, Instant expiresAt)
    {
        Owner = owner;
        Host = host;
        ProcessId = processId;
        AcquiredAt = acquiredAt;
        ExpiresAt = expiresAt;
    }

    /// <summary>Gets the principal id of the run that took the lock (for a lock written by an older version, its whole
    /// owner text).</summary>
    public string Owner { get; }

    /// <summary>Gets the host name of the process that took the lock, or null when the lock does not record it.</summary>
    public string? Host { get; }

    /// <summary>Gets the process id of the run that took the lock, or null when the lock does not record it.</summary>
    public int? ProcessId { get; }

    /// <summary>Gets when the lock was taken, or null when the lock does not record it.</summary>
    public Instant? AcquiredAt { get; }

    /// <summary>Gets when the lock expires (another run may take it over from then on).</summary>
    public Instant ExpiresAt { get; }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Owner}{(Host is null ? "" : " on " + Host)}{(ProcessId is { } pid ? $" (pid {pid})" : "")}" +
        $"{(AcquiredAt is { } at ? $", taken {at}" : "")}, expires {ExpiresAt}";
}
