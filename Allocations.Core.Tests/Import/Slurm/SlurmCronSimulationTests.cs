using System.Globalization;
using System.Text;
using Allocations.Domain;
using Allocations.Import.Slurm;
using Allocations.Tests.Support;
using FsCheck;
using FsCheck.Xunit;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Import.Slurm;

/// <summary>A fake cluster: a timeline of job runs, and a fake sacct that prints what sacct would print at an
/// instant for a window (running jobs with End Unknown, pending ones without a Start, finished ones with their final
/// state), in epoch or local Chicago times at random.</summary>
public class SlurmCronSimulationTests
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 11, 20, 0, 0);
    private static readonly DateTimeZone Chicago = DateTimeZoneProviders.Tzdb["America/Chicago"];
    private static readonly string[] FinalStates = ["COMPLETED", "FAILED", "CANCELLED by 1001", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "DEADLINE", "PREEMPTED", "BOOT_FAIL"];

    private sealed record SimRun(string RawId, string JobId, string Account, string Partition, int Cpus, int Gpus, Instant Submit, Instant? Start, Instant End, string FinalState);

    private static List<SimRun> Timeline(Random random)
    {
        var runs = new List<SimRun>();
        var count = random.Next(8, 25);
        for (var i = 0; i < count; i++)
        {
            // Every fifth job reuses an earlier id, as after a counter reset; the others get fresh ids.
            var raw = i > 4 && i % 5 == 0 ? runs[random.Next(runs.Count)].RawId : (100 + i).ToString(CultureInfo.InvariantCulture);
            var account = random.Next(2) == 0 ? "physics" : "chem";
            var gpu = random.Next(3) == 0;
            var cpus = random.Next(1, 9);
            var gpus = gpu ? random.Next(1, 3) : 0;
            var submit = T0 + Duration.FromSeconds(random.Next(0, 20 * 3600));
            if (random.Next(8) == 0)
            {
                // Cancelled before it started: never records anything.
                runs.Add(new SimRun(raw, raw, account, gpu ? "gpu" : "cpu", cpus, gpus, submit, null, submit + Duration.FromSeconds(random.Next(60, 7200)), "CANCELLED by 0"));
                continue;
            }
            var start = submit + Duration.FromSeconds(random.Next(0, 2 * 3600));
            var end = start + Duration.FromSeconds(random.Next(60, 8 * 3600));
            if (random.Next(5) == 0)
            {
                // Requeued: the first run ends REQUEUED; the second has a new Submit, same JobIDRaw.
                runs.Add(new SimRun(raw, raw, account, gpu ? "gpu" : "cpu", cpus, gpus, submit, start, end, "REQUEUED"));
                submit = end;
                start = submit + Duration.FromSeconds(random.Next(0, 3600));
                end = start + Duration.FromSeconds(random.Next(60, 8 * 3600));
            }
            runs.Add(new SimRun(raw, raw, account, gpu ? "gpu" : "cpu", cpus, gpus, submit, start, end, FinalStates[random.Next(FinalStates.Length)]));
        }
        return runs;
    }

    private static string Sacct(IEnumerable<SimRun> runs, SlurmQueryWindow window, Random random)
    {
        var now = window.Until;
        var text = new StringBuilder(SlurmFixture.Header).Append('\n');
        string Time(Instant instant) => random.Next(2) == 0
            ? SlurmFixture.Epoch(instant)
            : instant.InZone(Chicago).LocalDateTime.ToString("uuuu-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        foreach (var run in runs)
        {
            if (run.Submit > now)
            {
                continue;
            }
            var finished = run.End <= now;
            if (finished && run.End < window.Since)
            {
                continue; // sacct -S leaves out jobs that ended before the window
            }
            string state, start, end;
            long elapsed;
            if (run.Start is not { } s)
            {
                (state, start, end, elapsed) = finished ? (run.FinalState, "None", Time(run.End), 0L) : ("PENDING", "Unknown", "Unknown", 0L);
            }
            else if (s > now)
            {
                (state, start, end, elapsed) = ("PENDING", "Unknown", "Unknown", 0L);
            }
            else if (!finished)
            {
                (state, start, end, elapsed) = ("RUNNING", Time(s), "Unknown", (long)(now - s).TotalSeconds);
            }
            else
            {
                (state, start, end, elapsed) = (run.FinalState, Time(s), Time(run.End), (long)(run.End - s).TotalSeconds);
            }
            var tres = $"billing={run.Cpus},cpu={run.Cpus},{(run.Gpus > 0 ? $"gres/gpu={run.Gpus}," : "")}mem=1000M,node=1";
            text.Append(SlurmFixture.Line(run.RawId, state, Time(run.Submit), start, end, elapsed, run.Cpus, run.Account, run.Partition, tres)).Append('\n');
            if (state != "PENDING" && start != "None")
            {
                text.Append(SlurmFixture.Line(run.RawId + ".batch", state, start, start, end, elapsed, run.Cpus, run.Account, "", tres)).Append('\n');
            }
        }
        return text.ToString();
    }

    private static async Task<(IReadOnlyList<(Amount Used, Amount Estimated)> Figures, long Events)> StateAsync(TestStore t, params Allocation[] allocations)
    {
        var figures = new List<(Amount, Amount)>();
        foreach (var allocation in allocations)
        {
            figures.Add(await SlurmFixture.FiguresAsync(t, allocation));
        }
        var verification = await t.Store.VerifyAsync(TestStore.Admin, t.Organization);
        Assert.True(verification.IsClean);
        return (figures, verification.EventsChecked);
    }

    private static async Task CronRunsMatchOneRunAsync(int seed)
    {
        var random = new Random(seed);
        var timeline = Timeline(random);
        var mapping = SlurmFixture.Mapping("America/Chicago");
        var final = T0 + Duration.FromHours(30);

        // Cron: runs at irregular times (some a minute apart, some hours apart: missed runs), then one at the end.
        var (cron, cronPhysics, cronChemistry) = await SlurmFixture.CreateAsync(T0);
        using var cronStore = cron;
        var at = T0;
        while (at < final)
        {
            cron.Clock.Reset(at);
            var report = await cron.Store.SyncSlurmFromSacctAsync(TestStore.Admin, cron.Organization, mapping, (w, _) => Task.FromResult<TextReader>(new StringReader(Sacct(timeline, w, random))));
            Assert.Equal(SlurmSyncOutcome.Completed, report.Outcome);
            Assert.False(report.HasFailures, string.Join("; ", report.Skipped.Select(s => s.Detail)));
            at += Duration.FromSeconds(random.Next(60, 3 * 3600));
        }
        cron.Clock.Reset(final);
        await cron.Store.SyncSlurmFromSacctAsync(TestStore.Admin, cron.Organization, mapping, (w, _) => Task.FromResult<TextReader>(new StringReader(Sacct(timeline, w, random))));

        // One run over the final snapshot, from before the first job.
        var (once, oncePhysics, onceChemistry) = await SlurmFixture.CreateAsync(final);
        using var onceStore = once;
        await once.Store.SyncSlurmFromSacctAsync(TestStore.Admin, once.Organization, mapping, (w, _) => Task.FromResult<TextReader>(new StringReader(Sacct(timeline, w, random))), new SlurmSyncOptions { Since = T0 - Duration.FromDays(1) });

        var cronState = await StateAsync(cron, cronPhysics, cronChemistry);
        var onceState = await StateAsync(once, oncePhysics, onceChemistry);
        Assert.Equal(onceState.Figures, cronState.Figures);
        Assert.Equal(timeline.Count(r => r.Start is { } s && s <= final), onceState.Events);
        Assert.Equal(onceState.Events, cronState.Events);
    }

    [Property(MaxTest = 12)]
    public void CronRunsOverGrowingSnapshots_CountEachJobExactlyOnce(PositiveInt seed) =>
        Task.Run(() => CronRunsMatchOneRunAsync(seed.Get)).GetAwaiter().GetResult();

    [Fact]
    public Task CronRunsOverGrowingSnapshots_FixedSeed() => CronRunsMatchOneRunAsync(20261124);
}
