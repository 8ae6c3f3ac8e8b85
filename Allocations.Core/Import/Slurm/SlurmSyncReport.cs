using NodaTime;

namespace Allocations.Import.Slurm;

/// <summary>Options of one Slurm sync run.</summary>
public sealed class SlurmSyncOptions
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

    /// <summary>Returns the options that are set.</summary>
    /// <returns>Such as <c>dry run, since 2025-11-01T00:00:00Z</c>, or <c>defaults</c>.</returns>
    public override string ToString()
    {
        var parts = new List<string>();
        if (DryRun)
        {
            parts.Add("dry run");
        }
        if (SnapshotAt is { } at)
        {
            parts.Add("snapshot at " + at);
        }
        if (Since is { } since)
        {
            parts.Add("since " + since);
        }
        if (ListClusters is not null)
        {
            parts.Add("listing clusters");
        }
        return parts.Count == 0 ? "defaults" : string.Join(", ", parts);
    }
}

/// <summary>The window a run asks sacct for: jobs that ran at any time from <see cref="Since"/> on.</summary>
/// <remarks>Two windows are equal when their instants are. The default value is the empty window at the epoch.</remarks>
public readonly struct SlurmQueryWindow : IEquatable<SlurmQueryWindow>
{
    /// <summary>Initializes a window.</summary>
    /// <param name="since">The start (the watermark minus the overlap, or the first run's lookback).</param>
    /// <param name="until">The snapshot instant (now).</param>
    public SlurmQueryWindow(Instant since, Instant until)
    {
        Since = since;
        Until = until;
    }

    /// <summary>Gets the start (the watermark minus the overlap, or the first run's lookback).</summary>
    public Instant Since { get; }

    /// <summary>Gets the snapshot instant (now).</summary>
    public Instant Until { get; }

    /// <inheritdoc />
    public bool Equals(SlurmQueryWindow other) => Since == other.Since && Until == other.Until;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SlurmQueryWindow other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Since, Until);

    /// <summary>Returns the window as a half-open range.</summary>
    /// <returns>Such as <c>[2025-11-01T00:00:00Z, 2025-11-02T00:00:00Z)</c>.</returns>
    public override string ToString() => $"[{Since}, {Until})";

    /// <summary>Compares two windows for equality.</summary>
    /// <param name="left">The first window.</param>
    /// <param name="right">The second window.</param>
    /// <returns>True when both instants are equal.</returns>
    public static bool operator ==(SlurmQueryWindow left, SlurmQueryWindow right) => left.Equals(right);

    /// <summary>Compares two windows for inequality.</summary>
    /// <param name="left">The first window.</param>
    /// <param name="right">The second window.</param>
    /// <returns>True when an instant differs.</returns>
    public static bool operator !=(SlurmQueryWindow left, SlurmQueryWindow right) => !left.Equals(right);
}

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
public sealed class SlurmSkip
{
    /// <summary>Initializes a skip.</summary>
    /// <param name="lineNumber">The 1-based line number (0 when not tied to a line).</param>
    /// <param name="jobId">The job id, when known.</param>
    /// <param name="reason">Why.</param>
    /// <param name="detail">A message naming the values involved.</param>
    internal SlurmSkip(int lineNumber, string? jobId, SlurmSkipReason reason, string detail)
    {
        LineNumber = lineNumber;
        JobId = jobId;
        Reason = reason;
        Detail = detail;
    }

    /// <summary>Gets the 1-based line number in the sacct output (0 when not tied to a line).</summary>
    public int LineNumber { get; }

    /// <summary>Gets the job id as sacct displays it, when known.</summary>
    public string? JobId { get; }

    /// <summary>Gets why the line or job was not recorded.</summary>
    public SlurmSkipReason Reason { get; }

    /// <summary>Gets a message naming the values involved.</summary>
    public string Detail { get; }

    /// <summary>Gets whether this skip is a failure (malformed input, a missing quantity, a refused record) rather
    /// than an expected exclusion.</summary>
    public bool IsFailure => Reason is SlurmSkipReason.Malformed or SlurmSkipReason.NoQuantity or SlurmSkipReason.Rejected
        or SlurmSkipReason.Conflict or SlurmSkipReason.Unrecordable;

    /// <summary>Returns the line, the job, the reason and the detail.</summary>
    /// <returns>Such as <c>line 12 job 1234: UnmappedAccount: account 'x' is not in the mapping</c>.</returns>
    public override string ToString() => $"line {LineNumber}{(JobId is null ? "" : " job " + JobId)}: {Reason}: {Detail}";
}

/// <summary>What one Slurm sync run did.</summary>
public sealed class SlurmSyncReport
{
    /// <summary>Initializes a report.</summary>
    /// <param name="outcome">How the run ended.</param>
    /// <param name="dryRun">Whether nothing was written on purpose.</param>
    /// <param name="window">The sacct window of the run.</param>
    /// <param name="linesRead">Lines of sacct output read.</param>
    /// <param name="jobs">Job allocation lines read.</param>
    /// <param name="stepsIgnored">Step lines ignored.</param>
    /// <param name="notStarted">Jobs that never started.</param>
    /// <param name="recorded">New usage events.</param>
    /// <param name="replaced">Estimated events replaced.</param>
    /// <param name="unchanged">Jobs already recorded with the same content.</param>
    /// <param name="skipped">Every line or job not recorded.</param>
    /// <param name="watermark">The watermark after the run.</param>
    /// <param name="watermarkAdvanced">Whether this run moved the watermark.</param>
    /// <param name="message">Who holds the lock until when, or null.</param>
    /// <param name="stale">How many of the unchanged jobs were older news.</param>
    /// <param name="warnings">Warnings; null for none.</param>
    internal SlurmSyncReport(
        SlurmSyncOutcome outcome,
        bool dryRun,
        SlurmQueryWindow? window,
        int linesRead,
        int jobs,
        int stepsIgnored,
        int notStarted,
        int recorded,
        int replaced,
        int unchanged,
        IReadOnlyList<SlurmSkip> skipped,
        Instant? watermark,
        bool watermarkAdvanced,
        string? message = null,
        int stale = 0,
        IReadOnlyList<string>? warnings = null)
    {
        Outcome = outcome;
        DryRun = dryRun;
        Window = window;
        LinesRead = linesRead;
        Jobs = jobs;
        StepsIgnored = stepsIgnored;
        NotStarted = notStarted;
        Recorded = recorded;
        Replaced = replaced;
        Unchanged = unchanged;
        Skipped = skipped;
        Watermark = watermark;
        WatermarkAdvanced = watermarkAdvanced;
        Message = message;
        Stale = stale;
        Warnings = warnings ?? [];
    }

    /// <summary>Gets how the run ended.</summary>
    public SlurmSyncOutcome Outcome { get; }

    /// <summary>Gets whether nothing was written on purpose.</summary>
    public bool DryRun { get; }

    /// <summary>Gets the sacct window of the run.</summary>
    public SlurmQueryWindow? Window { get; }

    /// <summary>Gets the lines of sacct output read.</summary>
    public int LinesRead { get; }

    /// <summary>Gets the job allocation lines read (steps excluded).</summary>
    public int Jobs { get; }

    /// <summary>Gets the step lines ignored (a job counts once, by its allocation line).</summary>
    public int StepsIgnored { get; }

    /// <summary>Gets the jobs that never started (pending, or cancelled before starting): nothing to record.</summary>
    public int NotStarted { get; }

    /// <summary>Gets the new usage events.</summary>
    public int Recorded { get; }

    /// <summary>Gets the Estimated events replaced (a running job's new estimate, or its final Confirmed usage).</summary>
    public int Replaced { get; }

    /// <summary>Gets the jobs already recorded with the same content.</summary>
    public int Unchanged { get; }

    /// <summary>Gets every line or job not recorded, with its reason.</summary>
    public IReadOnlyList<SlurmSkip> Skipped { get; }

    /// <summary>Gets the watermark after the run (null when none was ever set).</summary>
    public Instant? Watermark { get; }

    /// <summary>Gets whether this run moved the watermark.</summary>
    public bool WatermarkAdvanced { get; }

    /// <summary>Gets, for <see cref="SlurmSyncOutcome.LockBusy"/> or <see cref="SlurmSyncOutcome.LockLost"/>, who holds
    /// the lock until when; otherwise null.</summary>
    public string? Message { get; }

    /// <summary>Gets how many of <see cref="Unchanged"/> were older news: a job already Confirmed that the output shows
    /// still running, or with an earlier end (a stale capture replayed after a newer one). Nothing is changed for them.</summary>
    public int Stale { get; }

    /// <summary>Gets warnings that are not failures of a line but suggest the run imported less than it should, such
    /// as no job of the mapping's cluster while sacct knows other clusters (a misspelt <c>cluster</c>).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Gets whether the run has warnings.</summary>
    public bool HasWarnings => Warnings.Count > 0;

    /// <summary>Gets whether anything failed: the run did not complete, or a skip is a failure.</summary>
    public bool HasFailures => Outcome != SlurmSyncOutcome.Completed || Skipped.Any(s => s.IsFailure);

    /// <summary>Gets how many skips there are of a reason.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>The count.</returns>
    public int Count(SlurmSkipReason reason) => Skipped.Count(s => s.Reason == reason);

    /// <summary>The same report with these warnings.</summary>
    internal SlurmSyncReport WithWarnings(IReadOnlyList<string> warnings) => new(
        Outcome, DryRun, Window, LinesRead, Jobs, StepsIgnored, NotStarted, Recorded, Replaced, Unchanged, Skipped,
        Watermark, WatermarkAdvanced, Message, Stale, warnings);

    /// <summary>Returns the outcome and the counts.</summary>
    /// <returns>Such as <c>Completed: 12 jobs, 3 recorded, 2 replaced, 7 unchanged, 1 skipped</c>.</returns>
    public override string ToString() =>
        $"{Outcome}{(DryRun ? " (dry run)" : "")}: {Jobs} jobs, {Recorded} recorded, {Replaced} replaced, {Unchanged} unchanged, {Skipped.Count} skipped";
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
