using System.Diagnostics;
using System.Globalization;
using Allocations.Domain;
using Allocations.Import.Slurm;
using Allocations.Tests.Support;
using NodaTime;
using NodaTime.Testing;
using Xunit;
using Xunit.Abstractions;
using static Allocations.Tests.Import.Slurm.SlurmFixture;

namespace Allocations.Tests.Import.Slurm;

/// <summary>The sacct/sacctmgr runner, with scripts standing in for the commands, and (with
/// <c>ALLOCATIONS_SLURM_BIN</c> naming the directory of the real sacct and sacctmgr) against a real cluster.</summary>
public sealed class SlurmCommandsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string directory = TestStore.NewDirectory();

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string Script(string name, string body)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return path;
    }

    private static readonly SlurmQueryWindow Window = new(Instant.FromUtc(2026, 11, 24, 1, 0), Instant.FromUtc(2026, 11, 24, 3, 0));

    [Fact]
    public async Task RunSacct_AsksForElapsedRawInEpochTimesFromTheWindowStart()
    {
        var sacct = Script("sacct", "echo \"$@\"; echo \"$SLURM_TIME_FORMAT $TZ\"");

        var output = await (await SlurmCommands.RunSacctAsync(sacct, Mapping("America/Chicago"), Window)).ReadToEndAsync();

        Assert.Contains("--parsable2 --allusers --duplicates --clusters lab --starttime 2026-11-23T19:00:00 --format ", output, StringComparison.Ordinal);
        Assert.Contains(",ElapsedRaw,", SlurmCommands.SacctFormat, StringComparison.Ordinal);
        Assert.Contains(SlurmCommands.SacctFormat, output, StringComparison.Ordinal);
        Assert.Contains("%s America/Chicago", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunSacct_ThatOutlivesItsTimeout_IsKilledAndReported()
    {
        var sacct = Script("sacct", "exec sleep 60");
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<SlurmCommandException>(() => SlurmCommands.RunSacctAsync(sacct, Mapping(), Window, Duration.FromMilliseconds(500)));

        Assert.Contains("did not finish within", ex.Message, StringComparison.Ordinal);
        Assert.Null(ex.ExitCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task RunSacct_Cancelled_IsKilledAndCancels()
    {
        var sacct = Script("sacct", "exec sleep 60");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => SlurmCommands.RunSacctAsync(sacct, Mapping(), Window, null, cts.Token));
    }

    [Fact]
    public async Task RunSacct_ThatFails_NamesItsExitCodeAndError()
    {
        var sacct = Script("sacct", "echo 'sacct: error: Problem talking to the database' >&2; exit 1");

        var ex = await Assert.ThrowsAsync<SlurmCommandException>(() => SlurmCommands.RunSacctAsync(sacct, Mapping(), Window));

        Assert.Equal(1, ex.ExitCode);
        Assert.Contains("Problem talking to the database", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunSacct_Missing_IsACommandException()
    {
        var ex = await Assert.ThrowsAsync<SlurmCommandException>(() => SlurmCommands.RunSacctAsync(Path.Combine(directory, "no-such-sacct"), Mapping(), Window));

        Assert.Contains("cannot be run", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListClusters_ReadsSacctmgrsList()
    {
        var sacctmgr = Script("sacctmgr", "echo \"$@\" >&2; printf 'lab\\nOther\\n'");

        Assert.Equal(["lab", "other"], await SlurmCommands.ListClustersAsync(sacctmgr));
    }

    /// <summary>Imports twice through the runner: finished jobs once, running jobs estimated by ElapsedRaw, and a
    /// replay of the same output changing nothing. With <c>ALLOCATIONS_SLURM_BIN</c> this runs the real sacct and
    /// sacctmgr of that directory (see shared/slurm-lab); otherwise scripts printing the real capture stand in.</summary>
    [Fact]
    public async Task Sync_ThroughTheRunner_TwiceCountsNothingTwiceAndEstimatesRunningJobsByElapsedRaw()
    {
        var real = Environment.GetEnvironmentVariable("ALLOCATIONS_SLURM_BIN");
        string sacct, sacctmgr;
        Instant now;
        if (string.IsNullOrEmpty(real))
        {
            var capture = Path.Combine(directory, "capture.txt");
            File.WriteAllText(capture, Capture("sacct-requested.txt"));
            sacct = Script("sacct", $"cat '{capture}'");
            sacctmgr = Script("sacctmgr", "echo lab");
            now = CaptureTime;
        }
        else
        {
            (sacct, sacctmgr) = (Path.Combine(real, "sacct"), Path.Combine(real, "sacctmgr"));
            now = Instant.FromUnixTimeSeconds(DateTimeOffset.Now.ToUnixTimeSeconds());
        }
        var (t, physics, chemistry) = await CreateAsync(now);
        using var __ = t;
        var outputs = new List<string>();
        async Task<TextReader> Fetch(SlurmQueryWindow window, CancellationToken ct)
        {
            var text = await (await SlurmCommands.RunSacctAsync(sacct, Mapping(), window, Duration.FromMinutes(1), ct)).ReadToEndAsync(ct);
            outputs.Add(text);
            return new StringReader(text);
        }
        var options = new SlurmSyncOptions { ListClusters = ct => SlurmCommands.ListClustersAsync(sacctmgr, null, ct) };

        var first = await t.Store.SyncSlurmFromSacctAsync(TestStore.Admin, t.Organization, Mapping(), Fetch, options);
        t.Clock.Advance(Duration.FromSeconds(10));
        if (!string.IsNullOrEmpty(real))
        {
            await Task.Delay(TimeSpan.FromSeconds(3)); // let the real running job's ElapsedRaw grow
        }
        var second = await t.Store.SyncSlurmFromSacctAsync(TestStore.Admin, t.Organization, Mapping(), Fetch, options);
        var figures = (await FiguresAsync(t, physics), await FiguresAsync(t, chemistry));
        t.Clock.Advance(Duration.FromDays(2));
        var replay = await SyncAsync(t, outputs[1]);

        foreach (var (name, r) in new[] { ("first", first), ("second", second), ("replay", replay) })
        {
            output.WriteLine($"{name}: {r.Outcome} jobs {r.Jobs} recorded {r.Recorded} replaced {r.Replaced} unchanged {r.Unchanged} stale {r.Stale} skipped {r.Skipped.Count} warnings {r.Warnings.Count} watermark {r.Watermark}");
        }
        output.WriteLine($"figures after the second run (used, estimated): physics {figures.Item1}, chemistry {figures.Item2}; running jobs' ElapsedRaw estimates {string.Join(", ", RunningJobs(outputs[1]))}");
        Assert.Equal(SlurmSyncOutcome.Completed, first.Outcome);
        Assert.True(first.Recorded > 0, "the first run recorded nothing");
        Assert.Empty(first.Warnings);
        Assert.DoesNotContain(first.Skipped, s => s.IsFailure);
        var running = RunningJobs(outputs[0]);
        Assert.NotEmpty(running);
        Assert.Equal(0, second.Recorded);
        Assert.InRange(second.Replaced, 0, running.Count);
        Assert.Equal(first.Recorded, second.Replaced + second.Unchanged);
        Assert.Equal((0, 0), (replay.Recorded, replay.Replaced));
        Assert.Equal(figures, (await FiguresAsync(t, physics), await FiguresAsync(t, chemistry)));
        Assert.Equal(Amount.FromDecimal(RunningJobs(outputs[1]).Sum()), figures.Item1.Item2 + figures.Item2.Item2);
        Assert.Empty(await t.Store.CheckSlurmClusterAsync(TestStore.Admin, t.Organization, Mapping(), options.ListClusters));
        var wrong = SlurmMapping.Parse(MappingJson().Replace("\"cluster\": \"lab\"", "\"cluster\": \"lba\"", StringComparison.Ordinal));
        Assert.Single(await t.Store.CheckSlurmClusterAsync(TestStore.Admin, t.Organization, wrong, options.ListClusters));
        var misspelt = await t.Store.SyncSlurmFromSacctAsync(TestStore.Admin, t.Organization, wrong,
            async (window, ct) => await SlurmCommands.RunSacctAsync(sacct, wrong, window, null, ct), options.WithSince(now - Duration.FromHours(24)));
        output.WriteLine($"misspelt cluster: {misspelt.Outcome} jobs {misspelt.Jobs}; {string.Join(" | ", misspelt.Warnings)}");
        Assert.Equal(real is { Length: > 0 } ? 0 : first.Jobs, misspelt.Jobs); // the stand-in prints the capture whatever the cluster
        Assert.Contains(misspelt.Warnings, w => w.Contains("sacct does not know that cluster", StringComparison.Ordinal));
    }

    /// <summary>The Estimated amount of each running job line, worked out from the output alone: cpus (or gres/gpu on
    /// the gpu partition) × ElapsedRaw × the SKU's rate (CPU_HOUR 2, GPU_HOUR 4).</summary>
    private static List<decimal> RunningJobs(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('$')).ToArray();
        var header = lines[0].Split('|').Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i);
        var result = new List<decimal>();
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split('|');
            if (f[header["JobIDRaw"]].Contains('.', StringComparison.Ordinal) || f[header["State"]] != "RUNNING")
            {
                continue;
            }
            var elapsed = long.Parse(f[header["ElapsedRaw"]], CultureInfo.InvariantCulture);
            var gpu = f[header["Partition"]] == "gpu";
            var level = gpu
                ? f[header["AllocTRES"]].Split(',').Where(e => e.StartsWith("gres/gpu=", StringComparison.Ordinal)).Select(e => decimal.Parse(e[9..], CultureInfo.InvariantCulture)).Sum()
                : decimal.Parse(f[header["AllocCPUS"]], CultureInfo.InvariantCulture);
            result.Add(Rated(level, elapsed, gpu ? 4 : 2));
        }
        return result;
    }
}
