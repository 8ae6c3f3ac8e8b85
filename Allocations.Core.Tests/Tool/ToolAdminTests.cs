using System.Diagnostics;
using Xunit;

namespace Allocations.Tests.Tool;

/// <summary>The tool used as an admin would, with no C#: set-up, a Slurm import from a real capture, reads, and the
/// failures an admin meets (a missing output folder, a file without the organization, a busy or hung importer).</summary>
public sealed class ToolAdminTests : IDisposable
{
    internal const string Mapping = """
        {
          "cluster": "lab",
          "timeZone": "UTC",
          "accounts": { "physics": "Physics", "chem": "Chemistry" },
          "partitions": { "cpu": "CPU_HOUR", "gpu": "GPU_HOUR" },
          "skus": { "GPU_HOUR": "gres/gpu" },
          "defaults": { "quantity": "cpu" }
        }
        """;

    private readonly ToolProcess tool = new();

    public ToolAdminTests()
    {
        File.WriteAllText(tool.PathOf("slurm.json"), Mapping);
    }

    public void Dispose() => tool.Dispose();

    /// <summary>Writes an executable stand-in for sacct (these tests run on Unix, as the importer does).</summary>
    private static void WriteScript(string path, string text)
    {
        File.WriteAllText(path, text);
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the sacct stand-ins are shell scripts");
        }
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static string Capture(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", "slurm", name);

    private async Task<ToolResult> OkAsync(params string[] args)
    {
        var r = await tool.RunAsync(args);
        Assert.True(r.ExitCode == 0, $"{string.Join(' ', args)}\n{r}");
        return r;
    }

    /// <summary>Sets up organization Physics with CPU_HOUR (rate 1) and GPU_HOUR (rate 16) in core-hours and the
    /// allocations Physics and Chemistry, through ALLOCATIONS_DB and ALLOCATIONS_ORG.</summary>
    private async Task SetUpAsync()
    {
        tool.Environment["ALLOCATIONS_DB"] = tool.PathOf("admin.db");
        tool.Environment["ALLOCATIONS_ORG"] = "Physics";
        Assert.Contains("created organization 'Physics'", (await OkAsync("org", "create", "Physics", "--admin", "alice")).Stdout);
        Assert.Contains("created unit core-hours (precision 2)", (await OkAsync("unit", "create", "core-hours", "--precision", "2")).Stdout);
        Assert.Contains("created SKU CPU_HOUR (core-hours, per-hour)", (await OkAsync("sku", "create", "CPU_HOUR", "--unit", "core-hours")).Stdout);
        await OkAsync("sku", "create", "GPU_HOUR", "--unit", "core-hours", "--basis", "per-hour");
        Assert.Contains("added CPU_HOUR rate 1 from 2026-01-01T00:00:00Z", (await OkAsync("rate", "add", "CPU_HOUR", "--rate", "1", "--from", "2026-01-01")).Stdout);
        await OkAsync("rate", "add", "GPU_HOUR", "--rate", "16", "--from", "2026-01-01");
        await OkAsync("price", "add", "core-hours", "--usd", "0.02", "--from", "2026-01-01");
        Assert.Contains("created allocation 'Physics'", (await OkAsync("alloc", "create", "Physics", "--unit", "core-hours", "--total", "10000")).Stdout);
        await OkAsync("alloc", "create", "Chemistry", "--unit", "core-hours", "--total", "5000");
    }

    [Fact]
    public async Task AllocTransfer_MovesBudgetBetweenTotals_AndRefusesMoreThanTheSourceHasFree()
    {
        await SetUpAsync();
        var moved = await OkAsync("alloc", "transfer", "Physics", "Chemistry", "--amount", "1500", "--reason", "rebalance for the spring");
        Assert.Contains("moved 1500.00 core-hours from 'Physics' (total 8500.00) to 'Chemistry' (total 6500.00)", moved.Stdout.Replace(",", ""));
        var shown = (await OkAsync("alloc", "show", "Chemistry")).Stdout;
        Assert.Contains("transfer from allocation:", shown);
        Assert.Contains("rebalance for the spring", shown);

        var refused = await tool.RunAsync("alloc", "transfer", "Physics", "Chemistry", "--amount", "9000", "--reason", "too much");
        Assert.Equal(1, refused.ExitCode);
        Assert.Single(refused.Stderr.Trim().Split('\n'));
        Assert.Contains("amount", refused.Stderr);
        Assert.Contains("8500.00", (await OkAsync("alloc", "show", "Physics")).Stdout.Replace(",", ""));
    }

    [Fact]
    public async Task AllocPeriod_IsSetAtCreationAndChanged_AndUsageOutsideItIsRefusedInOneLine()
    {
        await SetUpAsync();
        var created = await OkAsync("alloc", "create", "physics-2026", "--unit", "core-hours", "--total", "100", "--start", "2026-01-01", "--end", "2027-01-01");
        Assert.Contains("created allocation 'physics-2026'", created.Stdout);
        Assert.Contains("period [2026-01-01T00:00:00Z, 2027-01-01T00:00:00Z)", created.Stdout);
        Assert.Contains("period      [2026-01-01T00:00:00Z, 2027-01-01T00:00:00Z)", (await OkAsync("alloc", "show", "physics-2026")).Stdout);

        var reversed = await tool.RunAsync("alloc", "create", "backwards", "--unit", "core-hours", "--total", "1", "--start", "2027-01-01", "--end", "2026-01-01");
        Assert.Equal(1, reversed.ExitCode);
        Assert.Single(reversed.StderrLines);
        Assert.Contains("periodEnd", reversed.Stderr);
        var child = await tool.RunAsync("alloc", "create", "physics-2026-lab", "--unit", "core-hours", "--total", "1", "--parent", "physics-2026", "--end", "2027-06-01");
        Assert.Equal(1, child.ExitCode);
        Assert.Contains("within the period", child.Stderr);

        var outside = await tool.RunAsync("usage", "record", "--allocation", "physics-2026", "--sku", "CPU_HOUR", "--quantity", "1", "--start", "2027-01-01", "--end", "2027-01-02");
        Assert.Equal(1, outside.ExitCode);
        Assert.Single(outside.StderrLines);
        Assert.Contains("takes usage starting in [2026-01-01T00:00:00Z, 2027-01-01T00:00:00Z)", outside.Stderr);
        var hold = await tool.RunAsync("usage", "reserve", "--allocation", "physics-2026", "--sku", "CPU_HOUR", "--quantity", "1", "--start", "2025-12-31", "--end", "2026-01-01");
        Assert.Equal(1, hold.ExitCode);
        Assert.Equal("error: reservation refused: outside the period; 'physics-2026' takes usage starting in [2026-01-01T00:00:00Z, 2027-01-01T00:00:00Z), this starts at 2025-12-31T00:00:00Z", Assert.Single(hold.StderrLines));

        var changed = await OkAsync("alloc", "period", "physics-2026", "--start", "2026-01-01");
        Assert.Contains("period of 'physics-2026': [2026-01-01T00:00:00Z, 2027-01-01T00:00:00Z) -> [2026-01-01T00:00:00Z, open)", changed.Stdout);
        await OkAsync("usage", "record", "--allocation", "physics-2026", "--sku", "CPU_HOUR", "--quantity", "1", "--start", "2027-01-01", "--end", "2027-01-02");
        var cleared = await OkAsync("alloc", "period", "physics-2026");
        Assert.Contains("-> (none)", cleared.Stdout);
        Assert.Contains("allocation.period", (await OkAsync("journal", "list", "--allocation", "physics-2026")).Stdout);
    }

    [Fact]
    public async Task SlurmAccountSharedBySuccessiveAllocations_IsCheckedAndImportedByPeriod()
    {
        await SetUpAsync();
        // The capture's physics jobs start at 02:41:23 (jobs 1, 3) and from 02:41:31 on (jobs 5, 6, 11).
        await OkAsync("alloc", "create", "physics-a", "--unit", "core-hours", "--total", "100", "--start", "2026-11-01", "--end", "2026-11-24T02:41:30Z");
        await OkAsync("alloc", "create", "physics-b", "--unit", "core-hours", "--total", "100", "--start", "2026-11-24T02:41:30Z", "--end", "2026-12-01");
        File.WriteAllText(tool.PathOf("shared.json"), Mapping.Replace("\"physics\": \"Physics\"", "\"physics\": [\"physics-a\", \"physics-b\"]", StringComparison.Ordinal));

        var check = await OkAsync("slurm", "check", "--config", "shared.json");
        Assert.Contains("account physics -> allocations 'physics-a', 'physics-b'", check.Stdout);
        Assert.Contains("mapping fits", check.Stdout);
        var sync = await OkAsync("slurm", "sync", "--config", "shared.json", "--sacct-file", Capture("sacct-requested.txt"));
        Assert.Contains("jobs 13, recorded 13,", sync.Stdout);
        Assert.Contains("2 event(s) of 'physics-a'", (await OkAsync("usage", "list", "--allocation", "physics-a")).Stdout);
        Assert.Contains("3 event(s) of 'physics-b'", (await OkAsync("usage", "list", "--allocation", "physics-b")).Stdout);

        // Widening one period into the other makes the mapping ambiguous: check reports it, sync refuses it.
        await OkAsync("alloc", "period", "physics-a", "--start", "2026-11-01", "--end", "2026-11-25");
        var ambiguous = await tool.RunAsync("slurm", "check", "--config", "shared.json");
        Assert.Equal(1, ambiguous.ExitCode);
        Assert.Contains("accounts.physics: allocations 'physics-a' [2026-11-01T00:00:00Z, 2026-11-25T00:00:00Z) and 'physics-b'", ambiguous.Stdout);
        var refused = await tool.RunAsync("slurm", "sync", "--config", "shared.json", "--sacct-file", Capture("sacct-requested.txt"));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("accounts.physics", refused.Stderr);
    }

    [Fact]
    public async Task AsOf_ShowsTheFiguresOfAnEarlierInstant_AndVerifyReplayChecksTheJournal()
    {
        await SetUpAsync();
        // Each tool run is a process of its own, so this instant lies after the set-up and before the top-up.
        var between = NodaTime.Text.InstantPattern.ExtendedIso.Format(NodaTime.SystemClock.Instance.GetCurrentInstant());
        await OkAsync("alloc", "total", "Physics", "--total", "12000", "--reason", "top-up");

        var then = (await OkAsync("alloc", "show", "Physics", "--as-of", between)).Stdout.Replace(",", "");
        Assert.Contains("as of       ", then);
        Assert.Matches(@"(?m)^total\s+10000\.00\s*$", then);
        Assert.Matches(@"(?m)^total\s+12000\.00\s*$", (await OkAsync("alloc", "show", "Physics")).Stdout.Replace(",", ""));
        var table = (await OkAsync("report", "--as-of", between)).Stdout.Replace(",", "");
        Assert.Matches(@"(?m)^Physics\s+core-hours\s+10000\.00\s", table);
        Assert.Matches(@"(?m)^Physics\s+core-hours\s+10000\.00\s", (await OkAsync("alloc", "list", "--as-of", between)).Stdout.Replace(",", ""));

        var early = await tool.RunAsync("alloc", "show", "Physics", "--as-of", "2000-01-01");
        Assert.Equal(1, early.ExitCode);
        Assert.Single(early.StderrLines);
        Assert.Contains("asOf", early.Stderr);
        var mixed = await tool.RunAsync("report", "--as-of", between, "--by", "allocation");
        Assert.Equal(2, mixed.ExitCode);

        Assert.Contains("replayed: ", (await OkAsync("verify", "--replay")).Stdout);
        Tests.Support.RawSqlite.Execute(tool.PathOf("admin.db"), "UPDATE allocations SET total = total + 1 WHERE name = 'Chemistry'");
        var tampered = await tool.RunAsync("verify", "--replay");
        Assert.Equal(1, tampered.ExitCode);
        Assert.Contains("differs from the journal: allocations allocation:", tampered.Stdout);
        Assert.Contains("total", tampered.Stdout);
    }

    [Fact]
    public async Task AdminWalkThrough_SetsUpImportsAndReports_WithNoCSharp()
    {
        await SetUpAsync();
        Assert.Contains("created allocation 'Physics-Lab'", (await OkAsync("alloc", "create", "Physics-Lab", "--unit", "core-hours", "--total", "2000", "--parent", "Physics")).Stdout);
        Assert.Contains("created group physicists", (await OkAsync("group", "create", "physicists")).Stdout);
        var added = await OkAsync("group", "add", "physicists", "alice", "bob");
        Assert.Contains("added alice to physicists", added.Stdout);
        Assert.Contains("added bob to physicists", added.Stdout);
        Assert.Contains("granted Use on 'Physics' to group physicists", (await OkAsync("grant", "set", "Physics", "--group", "physicists", "--level", "use")).Stdout);
        Assert.Contains("group physicists", (await OkAsync("grant", "list", "Physics")).Stdout);

        // --if-missing makes set-up scripts re-runnable; without it a second create is refused.
        Assert.Contains("exists: organization 'Physics'", (await OkAsync("org", "create", "Physics", "--admin", "alice", "--if-missing")).Stdout);
        Assert.Contains("exists: unit core-hours", (await OkAsync("unit", "create", "core-hours", "--if-missing")).Stdout);
        Assert.Contains("exists: SKU CPU_HOUR", (await OkAsync("sku", "create", "CPU_HOUR", "--unit", "core-hours", "--if-missing")).Stdout);
        Assert.Contains("exists: CPU_HOUR rate 1", (await OkAsync("rate", "add", "CPU_HOUR", "--rate", "1", "--from", "2026-01-01", "--if-missing")).Stdout);
        Assert.Contains("exists: allocation 'Physics'", (await OkAsync("alloc", "create", "Physics", "--unit", "core-hours", "--total", "10000", "--if-missing")).Stdout);
        Assert.Contains("exists: group physicists", (await OkAsync("group", "create", "physicists", "--if-missing")).Stdout);
        var again = await tool.RunAsync("alloc", "create", "Physics", "--unit", "core-hours", "--total", "10000");
        Assert.True(again.ExitCode == 1, again.ToString());
        Assert.StartsWith("error: ", again.Stderr);
        Assert.Single(again.StderrLines);

        // The organization by id works as well as by name.
        Assert.Contains("fits", (await OkAsync("slurm", "check", "--config", "slurm.json", "--org", "1")).Stdout);

        var sync = await OkAsync("slurm", "sync", "--config", "slurm.json", "--sacct-file", Capture("sacct-requested.txt"));
        var summary = Assert.Single(sync.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("slurm sync lab:"));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ slurm sync lab: completed", summary);
        Assert.Contains("jobs 13, recorded 13,", summary);
        var rerun = await OkAsync("slurm", "sync", "--config", "slurm.json", "--sacct-file", Capture("sacct-requested.txt"));
        Assert.Contains("recorded 0,", rerun.Stdout);

        // Physics' finished jobs in the capture (account physics): job 1, 1 CPU × 5 s; job 3, 2 GPUs × 6 s; job 5,
        // 1 GPU × 5 s; job 6, 1 CPU × 2 s; job 11, 1 CPU × 77 s. At 1 per CPU-hour and 16 per GPU-hour:
        // (5 + 2 + 77) / 3600 + 16 × (12 + 5) / 3600 = 0.098889 core-hours, 0.10 at the unit's two decimals.
        var table = await OkAsync("report");
        var physics = Assert.Single(table.Stdout.Split('\n'), l => l.StartsWith("Physics ", StringComparison.Ordinal));
        Assert.Matches(@"^Physics\s+core-hours\s+10000\.00\s+0\.10\s", physics);
        var byAllocation = await OkAsync("report", "--by", "allocation", "--from", "2026-11-01", "--to", "2026-12-01");
        Assert.Matches(@"(?m)^Physics\s+core-hours\s+0\.10\s+0\.00\s+5\s*$", byAllocation.Stdout);
        Assert.Contains("verified:", (await OkAsync("verify")).Stdout);
        Assert.Contains("journal intact", (await OkAsync("journal", "verify")).Stdout);
        Assert.Contains("5 event(s) of 'Physics'", (await OkAsync("usage", "list", "--allocation", "Physics")).Stdout);

        await OkAsync("export", "--allocation", "Physics", "--format", "csv", "--out", "physics.csv");
        Assert.Equal(6, File.ReadAllLines(tool.PathOf("physics.csv")).Length); // header + 5 events
    }

    [Fact]
    public async Task OutputInAMissingFolder_ExitsOne_WithOneLine()
    {
        await SetUpAsync();
        var r = await tool.RunAsync("report", "--format", "csv", "--out", Path.Combine(tool.Directory, "no-such-folder", "report.csv"));
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Single(r.StderrLines);
        Assert.StartsWith("error: cannot write ", r.Stderr);
        Assert.DoesNotContain(" at ", r.Stderr);
        var export = await tool.RunAsync("export", "--allocation", "Physics", "--out", Path.Combine(tool.Directory, "no-such-folder", "e.csv"));
        Assert.True(export.ExitCode == 1, export.ToString());
        Assert.StartsWith("error: cannot write ", export.Stderr);
    }

    [Fact]
    public async Task ReadingAFileWithoutTheOrganization_FailsAndSeedsNothing()
    {
        Assert.Contains("database ready", (await OkAsync("init", "--db", "empty.db")).Stdout);
        var r = await tool.RunAsync("report", "--db", "empty.db", "--org", "1");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Single(r.StderrLines);
        Assert.StartsWith("error: ", r.Stderr);
        var byName = await tool.RunAsync("report", "--db", "empty.db", "--org", "Sample University");
        Assert.True(byName.ExitCode == 1, byName.ToString());
        var list = await OkAsync("org", "list", "--db", "empty.db");
        Assert.Equal(2, list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // header and rule: no organization
    }

    [Fact]
    public async Task SlurmSync_WhileAnotherRunHoldsTheLock_ExitsSeventyFive_AndSigtermReleasesIt()
    {
        await SetUpAsync();
        var started = tool.PathOf("sacct-started");
        var sacct = tool.PathOf("slow-sacct.sh");
        WriteScript(sacct, $"#!/bin/sh\ntouch '{started}'\nexec sleep 120\n");

        using var holder = tool.Start("slurm", "sync", "--config", "slurm.json", "--sacct-bin", sacct);
        var holderResult = ToolProcess.WaitAsync(holder);
        // The lock is taken before sacct runs: once the script has started, the first run holds it.
        var waited = Stopwatch.StartNew();
        while (!File.Exists(started))
        {
            Assert.False(holderResult.IsCompleted, "the first run ended before it ran sacct");
            Assert.True(waited.Elapsed < TimeSpan.FromMinutes(2), "the first run never started sacct");
            await Task.Delay(50);
        }

        var busy = await tool.RunAsync("slurm", "sync", "--config", "slurm.json", "--sacct-file", Capture("sacct-requested.txt"));
        Assert.True(busy.ExitCode == 75, busy.ToString());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ slurm sync lab: lock busy", busy.Stdout.Trim());

        // SIGTERM cancels the first run: it kills sacct, releases the lock and exits with one line.
        using (var kill = Process.Start("kill", ["-TERM", holder.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        var cancelled = await holderResult;
        Assert.True(cancelled.ExitCode == 1, cancelled.ToString());
        Assert.Contains("SIGTERM received", cancelled.Stderr);
        Assert.Contains("error: cancelled", cancelled.Stderr);

        var after = await OkAsync("slurm", "sync", "--config", "slurm.json", "--sacct-file", Capture("sacct-requested.txt"));
        Assert.Contains("recorded 13,", after.Stdout);
    }

    [Fact]
    public async Task SlurmUnlock_ClearsAHeldLock_AndSaysWhoseItWas()
    {
        await SetUpAsync();
        Assert.Contains("slurm unlock lab: no lock was held", (await OkAsync("slurm", "unlock", "--cluster", "lab")).Stdout);
        var started = tool.PathOf("sacct-started");
        var sacct = tool.PathOf("slow-sacct.sh");
        WriteScript(sacct, $"#!/bin/sh\ntouch '{started}'\nexec sleep 120\n");
        using var holder = tool.Start("slurm", "sync", "--config", "slurm.json", "--sacct-bin", sacct);
        var holderResult = ToolProcess.WaitAsync(holder);
        var waited = Stopwatch.StartNew();
        while (!File.Exists(started))
        {
            Assert.False(holderResult.IsCompleted, "the first run ended before it ran sacct");
            Assert.True(waited.Elapsed < TimeSpan.FromMinutes(2), "the first run never started sacct");
            await Task.Delay(50);
        }
        var busy = await tool.RunAsync("slurm", "sync", "--config", "slurm.json", "--sacct-file", Capture("sacct-requested.txt"));
        Assert.True(busy.ExitCode == 75, busy.ToString());

        var unlock = await OkAsync("slurm", "unlock", "--cluster", "lab");
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ slurm unlock lab: cleared the lock of ", unlock.Stdout.Trim());
        Assert.Contains($"pid {holder.Id}", unlock.Stdout);
        var after = await OkAsync("slurm", "sync", "--config", "slurm.json", "--sacct-file", Capture("sacct-requested.txt"));
        Assert.Contains("recorded 13,", after.Stdout);
        holder.Kill(entireProcessTree: true);
        await holderResult;
    }

    [Fact]
    public async Task SlurmSync_WithAHungSacct_KillsItAtTheTimeout_AndReleasesTheLock()
    {
        await SetUpAsync();
        var sacct = tool.PathOf("hung-sacct.sh");
        WriteScript(sacct, "#!/bin/sh\nexec sleep 120\n");
        var watch = Stopwatch.StartNew();
        var r = await tool.RunAsync("slurm", "sync", "--config", "slurm.json", "--sacct-bin", sacct, "--sacct-timeout", "1");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(100), $"took {watch.Elapsed}: sacct was not killed");
        Assert.Contains("did not finish within", r.Stderr);
        Assert.Single(r.StderrLines);
        var after = await OkAsync("slurm", "sync", "--config", "slurm.json", "--sacct-file", Capture("sacct-requested.txt"));
        Assert.Contains("recorded 13,", after.Stdout);
    }

    [Fact]
    public async Task Demos_RunInAnyOrder_AndRepeatedly_EachOnItsOwnFile()
    {
        var first = await OkAsync(); // no arguments: the main demo
        Assert.Contains("verified:", first.Stdout);
        await OkAsync("demo", "access");
        await OkAsync("demo", "credits");
        var again = await OkAsync("demo");
        Assert.Contains("verified:", again.Stdout);
        var access = await OkAsync("demo", "access");
        Assert.Contains("chain intact", access.Stdout);
        var folder = Path.Combine(tool.DataHome, "Allocations");
        foreach (var file in new[] { "demo.db", "demo-credits.db", "demo-access.db" })
        {
            Assert.True(File.Exists(Path.Combine(folder, file)), file);
        }
        Assert.Equal([tool.PathOf("slurm.json")], tool.Files().Where(f => f.StartsWith(tool.Directory + Path.DirectorySeparatorChar, StringComparison.Ordinal)));
    }
}
