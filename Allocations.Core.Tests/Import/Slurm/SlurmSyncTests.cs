using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;
using static Allocations.Tests.Import.Slurm.SlurmFixture;

namespace Allocations.Tests.Import.Slurm;

public class SlurmSyncTests
{
    // CPU_HOUR costs 2 and GPU_HOUR 4 per hour on 2026-11-24 (TestStore's rates).
    private static readonly decimal PhysicsUsed =
        Rated(1, 5, 2) + Rated(1, 2, 2) + Rated(1, 77, 2) // jobs 1, 6 (FAILED), 11 (TIMEOUT) on cpu
        + Rated(2, 6, 4) + Rated(1, 5, 4);                 // jobs 3 and 5 on gpu, by gres/gpu

    private static readonly decimal ChemistryUsed =
        Rated(2, 8, 2) + Rated(1, 3, 2)                    // jobs 2, 7 (CANCELLED by 0)
        + Rated(1, 3, 2) + Rated(1, 6, 2)                  // job 10: the REQUEUED run and the final run
        + Rated(2, 3, 2) + Rated(2, 4, 2) + Rated(2, 5, 2); // array tasks 4_1, 4_2, 4_3

    private static readonly decimal ChemistryEstimated = Rated(2, 5, 2); // job 14, running from 02:42:51, ElapsedRaw 5

    [Theory, Engines]
    public async Task Sync_RealCapture_RecordsEachJobRunOnceWithItsSku(Engine engine)
    {
        var (t, physics, chemistry) = await CreateAsync(engine);
        using var _ = t;

        var report = await SyncAsync(t, Capture("sacct-requested.txt"));

        Assert.Equal(SlurmSyncOutcome.Completed, report.Outcome);
        Assert.Equal(13, report.Recorded);
        Assert.Equal(29, report.StepsIgnored);
        Assert.Empty(report.Skipped);
        Assert.False(report.HasFailures);
        Assert.Equal((Amount.FromDecimal(PhysicsUsed), Amount.Zero), await FiguresAsync(t, physics));
        Assert.Equal((Amount.FromDecimal(ChemistryUsed), Amount.FromDecimal(ChemistryEstimated)), await FiguresAsync(t, chemistry));
        Assert.True((await t.Store.VerifyAsync(TestStore.Admin, t.Organization)).IsClean);
    }

    [Theory, Engines]
    public async Task Sync_CaptureWithoutSteps_AfterTheFullOne_IsUnchanged(Engine engine)
    {
        var (t, physics, chemistry) = await CreateAsync(engine);
        using var _ = t;
        await SyncAsync(t, Capture("sacct-requested.txt"));
        var hashBefore = (await FiguresAsync(t, physics), await FiguresAsync(t, chemistry));

        var report = await SyncAsync(t, Capture("sacct-requested-X.txt"));

        Assert.Equal((0, 0, 13), (report.Recorded, report.Replaced, report.Unchanged));
        Assert.Equal(0, report.StepsIgnored);
        Assert.Equal(hashBefore, (await FiguresAsync(t, physics), await FiguresAsync(t, chemistry)));
    }

    [Theory, Engines]
    public async Task Sync_SameCaptureLater_ChangesNothing_TheRunningJobKeepsItsMeasuredElapsedTime(Engine engine)
    {
        var (t, physics, chemistry) = await CreateAsync(engine);
        using var _ = t;
        await SyncAsync(t, Capture("sacct-requested.txt"));
        t.Clock.Advance(Duration.FromDays(3)); // a replay days later: the capture still says job 14 had run 5 s

        var report = await SyncAsync(t, Capture("sacct-requested.txt"));

        Assert.Equal((0, 0, 13), (report.Recorded, report.Replaced, report.Unchanged));
        Assert.Equal((Amount.FromDecimal(PhysicsUsed), Amount.Zero), await FiguresAsync(t, physics));
        Assert.Equal((Amount.FromDecimal(ChemistryUsed), Amount.FromDecimal(ChemistryEstimated)), await FiguresAsync(t, chemistry));
    }

    [Theory, Engines]
    public async Task Sync_RunningJobThatFinishes_IsReplacedByItsConfirmedUsage(Engine engine)
    {
        var (t, _, chemistry) = await CreateAsync(engine);
        using var __ = t;
        await SyncAsync(t, Capture("sacct-requested.txt"));
        var finished = Text(Line("14", "COMPLETED", "2026-11-24T02:42:50", "2026-11-24T02:42:51", "2026-11-24T03:42:51", 3600, cpus: 2, account: "chem"));

        var report = await SyncAsync(t, finished);

        Assert.Equal((0, 1, 0), (report.Recorded, report.Replaced, report.Unchanged));
        Assert.Equal((Amount.FromDecimal(ChemistryUsed + Rated(2, 3600, 2)), Amount.Zero), await FiguresAsync(t, chemistry));
    }

    [Theory, Engines]
    public async Task Sync_RequeuedJob_CountsEveryRun(Engine engine)
    {
        var (t, _, chemistry) = await CreateAsync(engine);
        using var __ = t;

        var report = await SyncAsync(t, Capture("sacct-requeued.txt"));

        Assert.Equal(2, report.Recorded);
        Assert.Equal(Amount.FromDecimal(Rated(1, 3, 2) + Rated(1, 6, 2)), (await FiguresAsync(t, chemistry)).Used);
    }

    [Theory, Engines]
    public async Task Sync_JobsThatNeverStarted_RecordNothing(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        var hash = t.ContentHash();
        var report = await SyncAsync(t, Capture("sacct-cancelled-pending.txt"), options: new SlurmSyncOptions { DryRun = true });
        Assert.Equal(hash, t.ContentHash());

        report = await SyncAsync(t, Capture("sacct-cancelled-pending.txt"));

        Assert.Equal((2, 0), (report.NotStarted, report.Recorded));
        Assert.Equal((Amount.Zero, Amount.Zero), await FiguresAsync(t, physics));
    }

    [Theory]
    [InlineData("OUT_OF_MEMORY")]
    [InlineData("BOOT_FAIL")]
    [InlineData("DEADLINE")]
    [InlineData("NODE_FAIL")]
    [InlineData("PREEMPTED")]
    [InlineData("TIMEOUT")]
    [InlineData("FAILED")]
    [InlineData("REQUEUED")]
    [InlineData("CANCELLED by 1001")]
    [InlineData("CANCELLED+")]
    public async Task Sync_EveryTerminalState_IsConfirmed(string state)
    {
        var (t, physics, _) = await CreateAsync();
        using var __ = t;

        await SyncAsync(t, Text(Line("5", state, "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T01:30:00", 1800)));

        Assert.Equal((Amount.FromDecimal(Rated(1, 1800, 2)), Amount.Zero), await FiguresAsync(t, physics));
    }

    [Theory, Engines]
    public async Task Sync_JobIdReusedAfterACounterReset_IsANewJob(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        await SyncAsync(t, Text(Line("5", "COMPLETED", "2026-11-20T01:00:00", "2026-11-20T01:00:00", "2026-11-20T02:00:00", 3600)));

        var report = await SyncAsync(t, Text(Line("5", "COMPLETED", "2026-11-23T01:00:00", "2026-11-23T01:00:00", "2026-11-23T03:00:00", 7200)));

        Assert.Equal(1, report.Recorded);
        Assert.Equal(Amount.FromDecimal(Rated(1, 3600, 2) + Rated(1, 7200, 2)), (await FiguresAsync(t, physics)).Used);
    }

    [Theory, Engines]
    public async Task Sync_UnmappedAccountPartitionOrCluster_IsSkippedWithItsLineAndNotGuessed(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        var text = Text(
            Line("1", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, account: "biology"),
            Line("2", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, partition: "debug"),
            Line("3", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, cluster: "other"),
            Line("4", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600));

        var report = await SyncAsync(t, text);

        Assert.Equal(1, report.Recorded);
        Assert.Equal(
            [(2, SlurmSkipReason.UnmappedAccount), (3, SlurmSkipReason.UnmappedPartition), (4, SlurmSkipReason.OtherCluster)],
            report.Skipped.Select(s => (s.LineNumber, s.Reason)));
        Assert.Contains("biology", report.Skipped[0].Detail);
        Assert.False(report.HasFailures);
        Assert.Equal(Amount.FromDecimal(Rated(1, 3600, 2)), (await FiguresAsync(t, physics)).Used);
    }

    [Theory, Engines]
    public async Task Sync_MalformedLine_IsReportedAndTheRunGoesOn(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        var text = Text(
            Line("1", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600),
            Line("2", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T25:00:00", "2026-11-24T02:00:00", 3600),
            Line("3", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600));

        var report = await SyncAsync(t, text);

        Assert.Equal(2, report.Recorded);
        var skip = Assert.Single(report.Skipped);
        Assert.Equal((3, SlurmSkipReason.Malformed), (skip.LineNumber, skip.Reason));
        Assert.True(report.HasFailures);
        Assert.Equal(Amount.FromDecimal(2 * Rated(1, 3600, 2)), (await FiguresAsync(t, physics)).Used);
    }

    [Theory]
    [InlineData("cpu", 4)]
    [InlineData("node", 2)]
    [InlineData("billing", 6)]
    [InlineData("mem", 3)]
    [InlineData("gres/gpu", 2)]
    public async Task Sync_QuantitySource_MeasuresTheSkuByItsResource(string source, int level)
    {
        var (t, physics, _) = await CreateAsync();
        using var __ = t;
        var mapping = SlurmMapping.Parse(MappingJson(extraSkus: $", \"CPU_HOUR\": \"{source}\""));

        await SyncAsync(t, Text(Line("1", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, cpus: 4, nodes: 2, tres: "billing=6,cpu=4,gres/gpu=2,mem=3G,node=2")), mapping);

        Assert.Equal(Amount.FromDecimal(level * 2m), (await FiguresAsync(t, physics)).Used);
    }

    [Theory, Engines]
    public async Task Sync_PerUnitSku_ChargesLevelTimesHours(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;

        await SyncAsync(t, Text(Line("1", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:30:00", 5400, cpus: 2, partition: "lic")));

        Assert.Equal(Amount.FromDecimal(3m * 20m), (await FiguresAsync(t, physics)).Used); // 3 core-hours × 20
    }

    [Theory, Engines]
    public async Task Sync_LocalTimes_AreReadInTheClusterZone(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        // 17:30–19:30 CST on Nov 14 is 23:30Z–01:30Z: half an hour before the rate change at Nov 15 00:00Z (rate 1),
        // 1.5 hours after (rate 2). Read naively as UTC it would be two hours at rate 1.
        var text = Text(Line("1", "COMPLETED", "2026-11-14T17:00:00", "2026-11-14T17:30:00", "2026-11-14T19:30:00", 7200));

        await SyncAsync(t, text, Mapping("America/Chicago"));

        Assert.Equal(Amount.FromDecimal(0.5m + 3m), (await FiguresAsync(t, physics)).Used);
    }

    [Theory, Engines]
    public async Task Sync_JobAcrossTheFallBackInChicago_ChargesItsElapsedTime(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;

        await SyncAsync(t, Text(Line("1", "COMPLETED", "2026-11-01T00:00:00", "2026-11-01T00:30:00", "2026-11-01T01:30:00", 7200)), Mapping("America/Chicago"));

        Assert.Equal(Amount.FromDecimal(2m), (await FiguresAsync(t, physics)).Used); // 2 h × rate 1, not 1 h
    }

    [Theory, Engines]
    public async Task Sync_WindowStartsAtTheWatermarkMinusTheOverlap_EvenAfterMissedRuns(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        var windows = new List<SlurmQueryWindow>();
        Task<TextReader> Fetch(SlurmQueryWindow w, string text)
        {
            windows.Add(w);
            return Task.FromResult<TextReader>(new StringReader(text));
        }
        var first = t.Clock.GetCurrentInstant();
        await t.Store.SyncSlurmFromSacctAsync(TestStore.Admin, t.Organization, Mapping(), (w, _) => Fetch(w, Text()));

        // Three hours of cron runs are missed; a job ran and finished in the gap.
        t.Clock.Advance(Duration.FromHours(3));
        var ended = first + Duration.FromMinutes(30);
        var job = Line("7", "COMPLETED", Epoch(first), Epoch(first), Epoch(ended), 1800);
        var report = await t.Store.SyncSlurmFromSacctAsync(TestStore.Admin, t.Organization, Mapping(), (w, _) => Fetch(w, w.Since <= ended ? Text(job) : Text()));

        Assert.Equal(new SlurmQueryWindow(first - Duration.FromHours(24), first), windows[0]);
        Assert.Equal(new SlurmQueryWindow(first - Duration.FromHours(1), first + Duration.FromHours(3)), windows[1]);
        Assert.Equal(1, report.Recorded);
        Assert.Equal(first + Duration.FromHours(3), report.Watermark);
        Assert.Equal(Amount.FromDecimal(Rated(1, 1800, 2)), (await FiguresAsync(t, physics)).Used);
    }

    [Theory, Engines]
    public async Task Sync_StateLostAfterPosting_ReimportCountsNothingTwice(Engine engine)
    {
        var (t, physics, chemistry) = await CreateAsync(engine);
        using var __ = t;
        await SyncAsync(t, Capture("sacct-requested.txt"));
        var figures = (await FiguresAsync(t, physics), await FiguresAsync(t, chemistry));
        // The old tool's failure: usage posted, then the process died before saving its state.
        Assert.Equal(1, t.Raw("UPDATE slurm_sync_state SET watermark_ns = NULL", scalar: false));

        var report = await SyncAsync(t, Capture("sacct-requested.txt"));

        Assert.Equal((0, 0, 13), (report.Recorded, report.Replaced, report.Unchanged));
        Assert.Equal(figures, (await FiguresAsync(t, physics), await FiguresAsync(t, chemistry)));
    }

    [Theory, Engines]
    public async Task Sync_FetchFails_WritesNoUsageAndReleasesTheLock(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;

        await Assert.ThrowsAsync<IOException>(() => t.Store.SyncSlurmFromSacctAsync(
            TestStore.Admin, t.Organization, Mapping(), (_, _) => throw new IOException("sacct: cannot reach slurmdbd")));
        var report = await SyncAsync(t, Text(Line("1", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600)));

        Assert.Equal(SlurmSyncOutcome.Completed, report.Outcome);
        Assert.Equal(1, report.Recorded);
        Assert.Equal(Amount.FromDecimal(Rated(1, 3600, 2)), (await FiguresAsync(t, physics)).Used);
        await AssertNoLockHeldAsync(t);
    }

    private static async Task AssertNoLockHeldAsync(TestStore t)
    {
        await Task.Yield();
        Assert.Equal(0L, (long)t.Raw("SELECT COUNT(*) FROM slurm_sync_state WHERE lock_owner IS NOT NULL", scalar: true)!);
    }

    [Theory, Engines]
    public async Task Sync_OverlappingRun_IsRefusedWhileTheFirstHoldsTheLock(Engine engine)
    {
        var (t, _, chemistry) = await CreateAsync(engine);
        using var __ = t;
        var fetched = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var first = t.Store.SyncSlurmFromSacctAsync(TestStore.Admin, t.Organization, Mapping(), async (_, _) =>
        {
            fetched.SetResult();
            await release.Task;
            return new StringReader(Capture("sacct-requested.txt"));
        });
        await fetched.Task;

        var second = await SyncAsync(t, Capture("sacct-requested.txt"));
        release.SetResult();
        var firstReport = await first;

        Assert.Equal(SlurmSyncOutcome.LockBusy, second.Outcome);
        Assert.True(second.HasFailures);
        Assert.Contains("holds the lock", second.Message);
        Assert.Equal((SlurmSyncOutcome.Completed, 13), (firstReport.Outcome, firstReport.Recorded));
        Assert.Equal((Amount.FromDecimal(ChemistryUsed), Amount.FromDecimal(ChemistryEstimated)), await FiguresAsync(t, chemistry));
    }

    [Theory, Engines]
    public async Task Sync_RunPastItsLockTimeout_IsTakenOverAndWritesNothing(Engine engine)
    {
        var (t, _, chemistry) = await CreateAsync(engine);
        using var __ = t;
        var fetched = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var stale = t.Store.SyncSlurmFromSacctAsync(TestStore.Admin, t.Organization, Mapping(), async (_, _) =>
        {
            fetched.SetResult();
            await release.Task;
            return new StringReader(Capture("sacct-requested.txt"));
        });
        await fetched.Task;
        t.Clock.Advance(Duration.FromMinutes(31)); // past the 30-minute default lock timeout

        var takeover = await SyncAsync(t, Capture("sacct-requested.txt"));
        release.SetResult();
        var staleReport = await stale;

        Assert.Equal((SlurmSyncOutcome.Completed, 13), (takeover.Outcome, takeover.Recorded));
        Assert.Equal(SlurmSyncOutcome.LockLost, staleReport.Outcome);
        Assert.Equal(0, staleReport.Recorded);
        Assert.Equal(Amount.FromDecimal(ChemistryUsed), (await FiguresAsync(t, chemistry)).Used);
    }

    [Theory, Engines]
    public async Task Sync_DryRun_WritesNothingButReportsWhatItWouldDo(Engine engine)
    {
        var (t, _, _) = await CreateAsync(engine);
        using var __ = t;
        var hash = t.ContentHash();

        var report = await SyncAsync(t, Capture("sacct-requested.txt"), options: new SlurmSyncOptions { DryRun = true });

        Assert.True(report.DryRun);
        Assert.Equal(13, report.Recorded);
        Assert.Null(report.Watermark);
        Assert.Equal(hash, t.ContentHash());
    }

    [Theory, Engines]
    public async Task Sync_JobTheStoreRefuses_IsReportedAndHoldsTheWatermarkAtItsEnd(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        var refusedEnd = Instant.FromUtc(2026, 10, 20, 2, 0);
        var text = Text(
            Line("1", "COMPLETED", "2026-10-20T01:00:00", "2026-10-20T01:00:00", "2026-10-20T02:00:00", 3600), // before any CPU rate
            Line("2", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600));

        var report = await SyncAsync(t, text);

        Assert.Equal(1, report.Recorded);
        var skip = Assert.Single(report.Skipped);
        Assert.Equal((2, SlurmSkipReason.Rejected), (skip.LineNumber, skip.Reason));
        Assert.Contains("no rate", skip.Detail);
        Assert.True(report.HasFailures);
        Assert.Equal(refusedEnd, report.Watermark);
        Assert.Equal(Amount.FromDecimal(Rated(1, 3600, 2)), (await FiguresAsync(t, physics)).Used);
    }

    [Theory, Engines]
    public async Task Sync_MappingNamingAMissingAllocation_RefusesThoseJobs(Engine engine)
    {
        var (t, _, _) = await CreateAsync(engine);
        using var __ = t;
        var mapping = SlurmMapping.Parse(MappingJson().Replace("\"Chemistry\"", "\"Chem 2027\"", StringComparison.Ordinal));

        var report = await SyncAsync(t, Capture("sacct-requeued.txt"), mapping);
        var problems = await t.Store.CheckSlurmMappingAsync(TestStore.Admin, t.Organization, mapping);

        Assert.Equal(2, report.Count(SlurmSkipReason.Rejected));
        Assert.Contains(problems, p => p.Contains("Chem 2027", StringComparison.Ordinal));
    }

    [Theory, Engines]
    public async Task Sync_ActorWhoIsNotAnOrganizationAdmin_IsDenied(Engine engine)
    {
        var (t, _, _) = await CreateAsync(engine);
        using var __ = t;
        await t.Store.CreateGroupAsync(TestStore.Admin, t.Organization, "staff");
        await t.Store.AddGroupMemberAsync(TestStore.Admin, t.Organization, "staff", "mallory");
        var hash = t.ContentHash();

        // A member of the organization who is not an admin is denied; an outsider does not even see it.
        await Assert.ThrowsAsync<AccessDeniedException>(() =>
            t.Store.SyncSlurmAsync(Principal.User("mallory"), t.Organization, Mapping(), new StringReader(Capture("sacct-requested.txt"))));
        await Assert.ThrowsAsync<NotFoundException>(() =>
            t.Store.SyncSlurmAsync(Principal.User("outsider"), t.Organization, Mapping(), new StringReader(Capture("sacct-requested.txt"))));

        Assert.Equal(hash, t.ContentHash());
    }

    [Theory, Engines]
    public async Task Sync_PendingJobShowingAnExpectedStart_RecordsNothing(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;

        var report = await SyncAsync(t, Text(
            Line("1", "PENDING", "2026-11-24T01:00:00", "2026-11-24T02:00:00", "Unknown", 0),
            Line("2", "RUNNING", "2026-11-24T01:00:00", "2026-11-24T05:00:00", "Unknown", 0)));

        Assert.Equal((2, 0), (report.NotStarted, report.Recorded));
        Assert.Equal((Amount.Zero, Amount.Zero), await FiguresAsync(t, physics));
    }

    [Theory, Engines]
    public async Task Sync_ConfirmedJobResentWithALaterEnd_IsAConflictThatHoldsTheWatermarkAndNamesBothSides(Engine engine)
    {
        var (t, physics, _) = await CreateAsync(engine);
        using var __ = t;
        await SyncAsync(t, Text(Line("1", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600)));
        t.Clock.Advance(Duration.FromHours(3));

        var report = await SyncAsync(t, Text(Line("1", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T03:00:00", 7200)));

        var skip = Assert.Single(report.Skipped);
        Assert.Equal((2, SlurmSkipReason.Conflict), (skip.LineNumber, skip.Reason));
        Assert.Contains("Confirmed", skip.Detail);
        Assert.Contains("end stored 2026-11-24T02:00:00Z, sacct 2026-11-24T03:00:00Z", skip.Detail);
        Assert.True(report.HasFailures);
        Assert.Equal(Instant.FromUtc(2026, 11, 24, 3, 0), report.Watermark); // held at the job's end: later runs see it again
        Assert.Equal(Amount.FromDecimal(Rated(1, 3600, 2)), (await FiguresAsync(t, physics)).Used);
    }
}
