using System.CommandLine;
using System.Diagnostics;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using Allocations.Sample.Cli;

namespace Allocations.Sample.Commands;

/// <summary>The Slurm importer for cron and systemd: <c>slurm check</c>, <c>slurm sync</c>. Every line it prints
/// starts with a UTC time stamp, and each sync ends with one summary line.</summary>
internal static class SlurmCommand
{
    /// <summary>The fields the importer asks sacct for.</summary>
    internal const string Format = "JobID,JobIDRaw,Cluster,Account,Partition,QOS,User,State,Submit,Start,End,ElapsedRaw,AllocCPUS,AllocTRES,NNodes";

    internal static Command Slurm()
    {
        var slurm = new Command("slurm", "Import usage from Slurm's accounting (sacct), for cron or a systemd timer");
        slurm.Add(Check());
        slurm.Add(Sync());
        return slurm;
    }

    private static Option<string> Config() => new("--config") { Description = "The cluster's mapping (JSON)", HelpName = "FILE", Required = true };

    private static void Log(string line) => Console.WriteLine(Tool.Stamp(line));

    private static SlurmMapping LoadMapping(string path)
    {
        try
        {
            return SlurmMapping.Load(path);
        }
        catch (InvalidInputException ex)
        {
            throw new ToolFailedException($"mapping {path}: {ex.Message}", ex);
        }
    }

    private static Command Check()
    {
        var check = new Command("check", "Check a mapping file and that every allocation and SKU it names exists (writes nothing)");
        var config = Config();
        check.Add(config);
        Scope.Action(check, Needs.Organization, async (s, p, ct) =>
        {
            Tool.TimestampLines = true;
            var mapping = LoadMapping(p.GetValue(config)!);
            Log($"mapping: cluster '{mapping.Cluster}', time zone {mapping.TimeZone.Id}, {mapping.Accounts.Count} account(s), {mapping.Partitions.Count} partition(s)");
            foreach (var (partition, sku) in mapping.Partitions)
            {
                Log($"  partition {partition} -> {sku} by {SlurmMapping.Name(mapping.QuantitySourceFor(sku))}");
            }
            foreach (var (account, allocation) in mapping.Accounts)
            {
                Log($"  account {account} -> allocation '{allocation}'");
            }
            var problems = await s.Store.CheckSlurmMappingAsync(s.Actor, await s.OrgAsync(ct), mapping, ct);
            foreach (var problem in problems)
            {
                Log("problem: " + problem);
            }
            if (problems.Count > 0)
            {
                Console.Error.WriteLine(Tool.Stamp($"error: {problems.Count} problem(s) in {p.GetValue(config)}"));
                return ExitCodes.Failed;
            }
            Log($"mapping fits {s.Path}");
            return ExitCodes.Done;
        });
        return check;
    }

    private static Command Sync()
    {
        var sync = new Command("sync", "Import the jobs since the last run (idempotent; one run per cluster at a time)");
        var config = Config();
        var bin = new Option<string?>("--sacct-bin") { Description = "The sacct program to run (default: sacct on PATH)", HelpName = "PATH" };
        var file = new Option<string?>("--sacct-file") { Description = "Read captured sacct --parsable2 output instead ('-' for stdin)", HelpName = "FILE" };
        var since = Values.InstantOption("--since", "Query from this instant instead of the watermark");
        var snapshot = Values.InstantOption("--snapshot-at", "The instant the sacct output was taken (default: now)");
        var timeout = new Option<int>("--sacct-timeout") { Description = "Kill sacct after this many seconds", HelpName = "SECONDS", DefaultValueFactory = _ => 300 };
        timeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() <= 0)
            {
                r.AddError("--sacct-timeout must be a positive number of seconds");
            }
        });
        var dryRun = new Option<bool>("--dry-run") { Description = "Parse and rate, show what would change, write nothing (takes no lock)" };
        foreach (var option in new Option[] { config, bin, file, since, snapshot, timeout, dryRun })
        {
            sync.Add(option);
        }
        sync.Validators.Add(r =>
        {
            if (r.GetResult(bin) is { Implicit: false } && r.GetResult(file) is { Implicit: false })
            {
                r.AddError("give --sacct-bin or --sacct-file, not both");
            }
        });
        Scope.Action(sync, Needs.Organization, async (s, p, ct) =>
        {
            Tool.TimestampLines = true;
            var mapping = LoadMapping(p.GetValue(config)!);
            var org = await s.OrgAsync(ct);
            var options = new SlurmSyncOptions { DryRun = p.GetValue(dryRun), Since = p.GetValue(since), SnapshotAt = p.GetValue(snapshot) };
            SlurmSyncReport report;
            if (p.GetValue(file) is { } path)
            {
                TextReader reader;
                try
                {
                    reader = path == "-" ? Console.In : new StreamReader(path);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new ToolFailedException($"cannot read {path}: {Tool.OneLine(ex.Message)}", ex);
                }
                using (reader)
                {
                    report = await s.Store.SyncSlurmAsync(s.Actor, org, mapping, reader, options, ct);
                }
            }
            else
            {
                var program = p.GetValue(bin) ?? "sacct";
                var limit = TimeSpan.FromSeconds(p.GetValue(timeout));
                report = await s.Store.SyncSlurmFromSacctAsync(s.Actor, org, mapping, (window, token) => RunSacctAsync(program, mapping, window, limit, token), options, ct);
            }
            return Print(mapping, report);
        });
        return sync;
    }

    /// <summary>The sacct command line for a window.</summary>
    internal static string[] SacctArguments(SlurmMapping mapping, SlurmQueryWindow window) =>
    [
        "--parsable2", "--allusers", "--duplicates", "--clusters", mapping.Cluster,
        "--starttime", mapping.FormatSacctTime(window.Since), "--format", Format,
    ];

    /// <summary>Runs sacct for the window; kills it (and its children) when it outlives <paramref name="limit"/> or the
    /// run is cancelled.</summary>
    private static async Task<TextReader> RunSacctAsync(string bin, SlurmMapping mapping, SlurmQueryWindow window, TimeSpan limit, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(bin)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in SacctArguments(mapping, window))
        {
            start.ArgumentList.Add(argument);
        }
        // Epoch output times are unambiguous; TZ makes sacct read --starttime in the mapping's zone.
        start.Environment["SLURM_TIME_FORMAT"] = "%s";
        start.Environment["TZ"] = mapping.TimeZone.Id;
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new ToolFailedException($"{bin} did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new ToolFailedException($"cannot run {bin}: {ex.Message}", ex);
        }
        using (process)
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            deadline.CancelAfter(limit);
            var output = process.StandardOutput.ReadToEndAsync(deadline.Token);
            var error = process.StandardError.ReadToEndAsync(deadline.Token);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
                await Task.WhenAll(output, error);
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                if (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                throw new ToolFailedException($"{bin} did not finish within {limit.TotalSeconds:0} s (--sacct-timeout); killed it, nothing imported");
            }
            if (process.ExitCode != 0)
            {
                throw new ToolFailedException($"{bin} exited with {process.ExitCode}: {Tool.OneLine(await error)}");
            }
            return new StringReader(await output);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // It exited on its own meanwhile.
        }
    }

    private static int Print(SlurmMapping mapping, SlurmSyncReport report)
    {
        var prefix = report.DryRun ? $"slurm sync {mapping.Cluster} (dry run, nothing written)" : $"slurm sync {mapping.Cluster}";
        if (report.Outcome == SlurmSyncOutcome.LockBusy)
        {
            Log($"{prefix}: lock busy: {report.Message}");
            return ExitCodes.LockBusy;
        }
        if (report.Outcome != SlurmSyncOutcome.Completed)
        {
            Log($"{prefix}: {report.Outcome}: {report.Message}");
            return ExitCodes.Failed;
        }
        foreach (var skip in report.Skipped)
        {
            Log($"  skipped line {skip.LineNumber}{(skip.JobId is { } id ? " job " + id : "")}: {skip.Reason}{(skip.IsFailure ? " (failure)" : "")}: {skip.Detail}");
        }
        var failures = report.Skipped.Count(s => s.IsFailure);
        var window = report.Window is { } w ? $"window {Values.Instant(w.Since)}..{Values.Instant(w.Until)}, " : "";
        var watermark = report.Watermark is { } mark ? Values.Instant(mark) + (report.WatermarkAdvanced ? " (moved)" : " (held)") : "none";
        Log($"{prefix}: completed; {window}lines {report.LinesRead}, jobs {report.Jobs}, recorded {report.Recorded}, replaced {report.Replaced}, "
            + $"unchanged {report.Unchanged}, skipped {report.Skipped.Count} ({failures} failure(s)), steps ignored {report.StepsIgnored}, not started {report.NotStarted}; watermark {watermark}");
        if (report.HasFailures)
        {
            Console.Error.WriteLine(Tool.Stamp($"error: {failures} job(s) or line(s) could not be imported (see the skipped lines)"));
            return ExitCodes.Failed;
        }
        return ExitCodes.Done;
    }
}
