using System.Diagnostics;
using Allocations.Domain;
using Allocations.Import.Slurm;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;
using static Allocations.Tests.Import.Slurm.SlurmFixture;

namespace Allocations.Tests.Import.Slurm;

/// <summary>Lines that used to crash a run, refusals that pinned the watermark, stale captures, the lock after a
/// crash, and a misspelt cluster.</summary>
public class SlurmHardeningTests
{
    private static readonly string Good = Line("2", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600);

    [Theory]
    [InlineData("billing=1,cpu=1,mem=79228162514264337593543950335P,node=1", "cpu")]
    [InlineData("billing=1,cpu=1,mem=79228162514264337593543950335P,node=1", "mem")]
    [InlineData("billing=1,cpu=1,gres/gpu:a100=79228162514264337593543950335,gres/gpu:v100=1,node=1", "gres/gpu")]
    [InlineData("billing=79228162514264337593543950335,cpu=1,node=1", "billing")]
    public async Task Sync_LineWithAFigureOutOfRange_IsSkippedWithItsLineAndTheRestImports(string tres, string source)
    {
        var (t, physics, _) = await CreateAsync();
        using var __ = t;
        // The LICENSE SKU is PerUnit: level × hours, so a huge level overflows the product.
        var mapping = SlurmMapping.Parse(MappingJson(extraSkus: $", \"LICENSE\": \"{source}\""));
        var bad = Line("1", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T03:00:00", 7200, partition: "lic", tres: tres);

        var report = await SyncAsync(t, Text(bad, Good), mapping);

        Assert.Equal(SlurmSyncOutcome.Completed, report.Outcome);
        var skip = Assert.Single(report.Skipped);
        Assert.Equal(2, skip.LineNumber);
        Assert.True(skip.IsFailure);
        Assert.NotEqual(SlurmSkipReason.Rejected, skip.Reason); // nothing to fix: the watermark moves on
        Assert.Equal(1, report.Recorded);
        Assert.Equal(t.Clock.GetCurrentInstant(), report.Watermark);
        Assert.Equal(Amount.FromDecimal(Rated(1, 3600, 2)), (await FiguresAsync(t, physics)).Used);
    }

    [Theory, Engines]
    public async Task Sync_ClusterSpelledInAnotherCase_IsTheSameJob(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        var lines = Text(Good);

        var reports = new List<SlurmSyncReport>();
        foreach (var spelling in new[] { "lab", "LAB", "Lab" })
        {
            var mapping = SlurmMapping.Parse(MappingJson().Replace("\"cluster\": \"lab\"", $"\"cluster\": \"{spelling}\"", StringComparison.Ordinal));
            reports.Add(await SyncAsync(t, lines.Replace("|lab|", $"|{spelling}|", StringComparison.Ordinal), mapping));
        }

        Assert.Equal([1, 0, 0], reports.Select(r => r.Recorded));
        Assert.Equal([0, 1, 1], reports.Select(r => r.Unchanged));
        Assert.Equal(Amount.FromDecimal(Rated(1, 3600, 2)), (await FiguresAsync(t, physics)).Used);
        var events = await t.Store.ListEventsAsync(TestStore.Admin, physics.Id);
        Assert.Equal("slurm:lab:2:" + Instant.FromUtc(2026, 11, 24, 1, 0).ToUnixTimeSeconds(), Assert.Single(events.Events).ExternalKey);
    }

    [Theory, Engines]
    public async Task Sync_RefusalNoFixCanCure_IsReportedWithItsLineAndDoesNotHoldTheWatermark(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        var longUser = Line("1", "COMPLETED", "2026-11-24T00:00:00", "2026-11-24T00:00:00", "2026-11-24T00:30:00", 1800).Replace("|alice|", "|" + new string('u', 1001) + "|", StringComparison.Ordinal);
        var longKey = Line(new string('7', 400), "COMPLETED", "2026-11-24T00:10:00", "2026-11-24T00:10:00", "2026-11-24T00:40:00", 1800);

        var report = await SyncAsync(t, Text(longUser, longKey, Good));

        Assert.Equal([(2, SlurmSkipReason.Unrecordable), (3, SlurmSkipReason.Unrecordable)], report.Skipped.Select(s => (s.LineNumber, s.Reason)));
        Assert.Contains("user", report.Skipped[0].Detail, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("externalKey", report.Skipped[1].Detail, StringComparison.Ordinal);
        Assert.True(report.HasFailures);
        Assert.Equal(t.Clock.GetCurrentInstant(), report.Watermark);
        Assert.Equal(1, report.Recorded);
        Assert.Equal(Amount.FromDecimal(Rated(1, 3600, 2)), (await FiguresAsync(t, physics)).Used);
    }

    [Theory, Engines]
    public async Task Sync_RunningJobReplayedOnAnyClock_IsEstimatedOverItsElapsedRaw(Engine engine)
    {
        var (t, _, chemistry) = await CreateAsync(engine);
        using var __ = t;
        var running = Text(Line("14", "RUNNING", "2026-11-24T02:00:00", "2026-11-24T02:00:00", "Unknown", 600, cpus: 2, account: "chem"));

        var first = await SyncAsync(t, running);
        t.Clock.Advance(Duration.FromDays(7));
        var second = await SyncAsync(t, running);

        Assert.Equal((1, 0, 0), (first.Recorded, first.Replaced, first.Unchanged));
        Assert.Equal((0, 0, 1), (second.Recorded, second.Replaced, second.Unchanged));
        Assert.Equal(Amount.FromDecimal(Rated(2, 600, 2)), (await FiguresAsync(t, chemistry)).Estimated);
    }

    [Theory, Engines]
    public async Task Sync_RunningJobWithoutElapsedRaw_IsEstimatedToTheSnapshotGiven(Engine engine)
    {
        var (t, _, chemistry) = await CreateAsync(engine);
        using var __ = t;
        var running = Text(Line("14", "RUNNING", "2026-11-24T02:00:00", "2026-11-24T02:00:00", "Unknown", 0, cpus: 2, account: "chem")).Replace("|Unknown|0|", "|Unknown||", StringComparison.Ordinal);
        var options = new SlurmSyncOptions { SnapshotAt = Instant.FromUtc(2026, 11, 24, 2, 30) };

        await SyncAsync(t, running, options: options);
        t.Clock.Advance(Duration.FromDays(7));
        var second = await SyncAsync(t, running, options: options);

        Assert.Equal(1, second.Unchanged);
        Assert.Equal(Amount.FromDecimal(Rated(2, 1800, 2)), (await FiguresAsync(t, chemistry)).Estimated);
    }

    [Theory, Engines]
    public async Task Sync_StaleCaptureAfterANewerOne_IsOlderNewsAndChangesNothing(Engine engine)
    {
        var (t, _, chemistry) = await CreateAsync(engine);
        using var __ = t;
        var finished = Text(
            Line("14", "COMPLETED", "2026-11-24T02:42:50", "2026-11-24T02:42:51", "2026-11-24T03:42:51", 3600, cpus: 2, account: "chem"),
            Line("15", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, account: "chem"));
        await SyncAsync(t, finished);
        var figures = await FiguresAsync(t, chemistry);
        var hash = t.ContentHash();
        t.Clock.Advance(Duration.FromMinutes(5));
        var stale = Text(
            Line("14", "RUNNING", "2026-11-24T02:42:50", "2026-11-24T02:42:51", "Unknown", 5, cpus: 2, account: "chem"),
            Line("15", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T01:30:00", 1800, account: "chem"));

        var report = await SyncAsync(t, stale, options: new SlurmSyncOptions { DryRun = true });
        var written = await SyncAsync(t, stale);

        Assert.Equal((0, 0, 2, 2), (report.Recorded, report.Replaced, report.Unchanged, report.Stale));
        Assert.Equal((0, 0, 2, 2), (written.Recorded, written.Replaced, written.Unchanged, written.Stale));
        Assert.False(written.HasFailures);
        Assert.Empty(written.Skipped);
        Assert.Equal(t.Clock.GetCurrentInstant(), written.Watermark);
        Assert.Equal(figures, await FiguresAsync(t, chemistry));
        Assert.Equal(2, (await t.Store.ListEventsAsync(TestStore.Admin, chemistry.Id)).Events.Count);
        Assert.NotEqual(hash, t.ContentHash()); // only the watermark moved
    }

    [Theory, Engines]
    public async Task Sync_ConfirmedJobResentOnAnotherAllocation_IsAConflictNamingBothSides(Engine engine)
    {
        var (t, physics, chemistry) = await CreateAsync(engine);
        using var __ = t;
        await SyncAsync(t, Text(Good));
        var moved = Good.Replace("|physics|", "|chem|", StringComparison.Ordinal);

        var report = await SyncAsync(t, Text(moved));

        var skip = Assert.Single(report.Skipped);
        Assert.Equal((2, SlurmSkipReason.Conflict), (skip.LineNumber, skip.Reason));
        Assert.Contains("allocation stored Physics, sacct Chemistry", skip.Detail, StringComparison.Ordinal);
        Assert.Contains("attribute account stored 'physics', sacct 'chem'", skip.Detail, StringComparison.Ordinal);
        Assert.Equal(Instant.FromUtc(2026, 11, 24, 2, 0), report.Watermark);
        Assert.Equal(Amount.FromDecimal(Rated(1, 3600, 2)), (await FiguresAsync(t, physics)).Used);
        Assert.Equal(Amount.Zero, (await FiguresAsync(t, chemistry)).Used);
    }

    [Theory, Engines]
    public async Task Sync_LockOfADeadProcessOnThisHost_IsTakenOverAtOnce(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        await SyncAsync(t, Text());
        var deadPid = await DeadProcessIdAsync();
        var expires = t.Clock.GetCurrentInstant() + Duration.FromMinutes(25);
        SetLock(t, $"run=crashed host={Environment.MachineName} pid={deadPid} at={(expires - Duration.FromMinutes(30)).ToUnixTimeTicks() * 100} by=admin", expires);

        var report = await SyncAsync(t, Text(Good));

        Assert.Equal((SlurmSyncOutcome.Completed, 1), (report.Outcome, report.Recorded));
        Assert.Equal(Amount.FromDecimal(Rated(1, 3600, 2)), (await FiguresAsync(t, physics)).Used);
        Assert.Null(await t.Store.ReleaseSlurmLockAsync(TestStore.Admin, t.Organization, "lab"));
    }

    [Theory]
    [InlineData("run=other host=some-other-host pid={0} at=0 by=admin")]
    [InlineData("0123456789abcdef0123456789abcdef")] // a lock written before owners named their host
    public async Task Sync_LockOfAnotherHostOrAnUnknownOwner_WaitsForItsExpiry(string ownerFormat)
    {
        var (t, _, _) = await CreateAsync();
        using var __ = t;
        await SyncAsync(t, Text());
        SetLock(t, string.Format(System.Globalization.CultureInfo.InvariantCulture, ownerFormat, await DeadProcessIdAsync()), t.Clock.GetCurrentInstant() + Duration.FromMinutes(25));

        var report = await SyncAsync(t, Text(Good));

        Assert.Equal(SlurmSyncOutcome.LockBusy, report.Outcome);
        Assert.Equal(0, report.Recorded);
    }

    [Theory, Engines]
    public async Task ReleaseSlurmLock_WhileARunHoldsIt_SaysWhoseItWasAndTheRunWritesNothing(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        var fetched = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var taken = t.Clock.GetCurrentInstant();
        var run = t.Store.SyncSlurmFromSacctAsync(TestStore.Admin, t.Organization, Mapping(), async (_, _) =>
        {
            fetched.SetResult();
            await release.Task;
            return new StringReader(Text(Good));
        });
        await fetched.Task;

        var info = await t.Store.ReleaseSlurmLockAsync(TestStore.Admin, t.Organization, "LAB");
        var again = await t.Store.ReleaseSlurmLockAsync(TestStore.Admin, t.Organization, "lab");
        release.SetResult();
        var report = await run;

        Assert.NotNull(info);
        Assert.Equal(("admin", Environment.MachineName, Environment.ProcessId), (info.Owner, info.Host, info.ProcessId));
        Assert.Equal(taken, info.AcquiredAt);
        Assert.Equal(taken + Duration.FromMinutes(30), info.ExpiresAt);
        Assert.Null(again);
        Assert.Equal(SlurmSyncOutcome.LockLost, report.Outcome);
        Assert.Equal(Amount.Zero, (await FiguresAsync(t, physics)).Used);
    }

    [Theory, Engines]
    public async Task Sync_NoJobOfTheClusterWhileTheOutputHasOthers_Warns(Engine engine)
    {
        var (t, _, _) = await CreateAsync(engine);
        using var __ = t;
        var mapping = SlurmMapping.Parse(MappingJson().Replace("\"cluster\": \"lab\"", "\"cluster\": \"lba\"", StringComparison.Ordinal));

        var report = await SyncAsync(t, Text(Good), mapping);

        Assert.Equal(1, report.Count(SlurmSkipReason.OtherCluster));
        var warning = Assert.Single(report.Warnings);
        Assert.Contains("'lba'", warning, StringComparison.Ordinal);
        Assert.Contains("'lab'", warning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lba", true)]
    [InlineData("lab", false)]
    public async Task Sync_NoJobAtAll_WarnsWhenSacctDoesNotKnowTheCluster(string cluster, bool warns)
    {
        var (t, _, _) = await CreateAsync();
        using var __ = t;
        var mapping = SlurmMapping.Parse(MappingJson().Replace("\"cluster\": \"lab\"", $"\"cluster\": \"{cluster}\"", StringComparison.Ordinal));
        var options = new SlurmSyncOptions { ListClusters = _ => Task.FromResult<IReadOnlyList<string>>(["lab", "other"]) };

        var report = await t.Store.SyncSlurmFromSacctAsync(TestStore.Admin, t.Organization, mapping, (_, _) => Task.FromResult<TextReader>(new StringReader(Text())), options);
        var problems = await t.Store.CheckSlurmClusterAsync(TestStore.Admin, t.Organization, mapping, options.ListClusters);

        Assert.Equal(SlurmSyncOutcome.Completed, report.Outcome);
        Assert.Equal(warns, report.HasWarnings);
        Assert.Equal(warns, problems.Count == 1);
        if (warns)
        {
            Assert.Contains("sacct does not know that cluster (it knows 'lab', 'other')", report.Warnings[0], StringComparison.Ordinal);
            Assert.Contains("'lba'", problems[0], StringComparison.Ordinal);
        }
    }

    [Theory, Engines]
    public async Task Sync_CancelledWhileFetching_ReleasesTheLockAndWritesNothing(Engine engine)
    {
        var (t, _, _) = await CreateAsync(engine);
        using var __ = t;
        await SyncAsync(t, Text()); // the cluster's state row exists, as after any earlier run
        var hash = t.ContentHash();
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t.Store.SyncSlurmFromSacctAsync(TestStore.Admin, t.Organization, Mapping(), async (_, ct) =>
        {
            await cts.CancelAsync();
            ct.ThrowIfCancellationRequested();
            return new StringReader(Text(Good));
        }, cancellationToken: cts.Token));

        Assert.Equal(hash, t.ContentHash());
        Assert.Equal(0, LocksHeld(t));
    }

    [Theory, Engines]
    public async Task Sync_CancelledAfterTheOutputWasRead_ReleasesTheLockAndWritesNothing(Engine engine)
    {
        var (t, _, _) = await CreateAsync(engine);
        using var __ = t;
        await SyncAsync(t, Text()); // the cluster's state row exists, as after any earlier run
        var hash = t.ContentHash();
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t.Store.SyncSlurmFromSacctAsync(
            TestStore.Admin, t.Organization, Mapping(), (_, _) => Task.FromResult<TextReader>(new CancelAtEnd(Capture("sacct-requested.txt"), cts)), cancellationToken: cts.Token));

        Assert.Equal(hash, t.ContentHash());
        Assert.Equal(0, LocksHeld(t));
    }

    /// <summary>A reader that cancels a token when its text has been read to the end (a SIGTERM mid-run).</summary>
    private sealed class CancelAtEnd(string text, CancellationTokenSource cts) : StringReader(text)
    {
        public override string? ReadLine()
        {
            var line = base.ReadLine();
            if (line is null)
            {
                cts.Cancel();
            }
            return line;
        }
    }

    /// <summary>The id of a process that ran on this host and has exited.</summary>
    internal static async Task<int> DeadProcessIdAsync()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await process.WaitForExitAsync();
        return process.Id;
    }

    private static void SetLock(TestStore t, string owner, Instant expires)
    {
        Assert.Equal(1, t.Raw("UPDATE slurm_sync_state SET lock_owner = @owner, lock_expires_ns = @expires WHERE cluster = 'lab'", scalar: false, ("owner", owner), ("expires", expires.ToUnixTimeTicks() * 100)));
    }

    private static long LocksHeld(TestStore t)
    {
        return (long)t.Raw("SELECT COUNT(*) FROM slurm_sync_state WHERE lock_owner IS NOT NULL", scalar: true)!;
    }
}
