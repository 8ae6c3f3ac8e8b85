using System.CommandLine;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using Allocations.Sample.Cli;
using NodaTime;

namespace Allocations.Sample.Commands;

/// <summary>The Slurm importer for cron and systemd: <c>slurm check</c>, <c>slurm sync</c>, <c>slurm unlock</c>. Every
/// line it prints starts with a UTC time stamp, and each sync ends with one summary line.</summary>
internal static class SlurmCommand
{
    internal static Command Slurm()
    {
        var slurm = new Command("slurm", "Import usage from Slurm's accounting (sacct), for cron or a systemd timer");
        slurm.Add(Check());
        slurm.Add(Sync());
        slurm.Add(Unlock());
        return slurm;
    }

    private static Option<string> Config() => new("--config") { Description = "The cluster's mapping (JSON)", HelpName = "FILE", Required = true };

    private static Option<string?> Sacctmgr() => new("--sacctmgr-bin")
    {
        Description = "Also ask this sacctmgr which clusters the accounting database knows (warns about a misspelt cluster)",
        HelpName = "PATH",
    };

    private static Func<CancellationToken, Task<IReadOnlyList<string>>>? ListClusters(string? sacctmgr, Duration timeout) =>
        sacctmgr is null ? null : ct => SlurmCommands.ListClustersAsync(sacctmgr, timeout, ct);

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
        var sacctmgr = Sacctmgr();
        check.Add(config);
        check.Add(sacctmgr);
        Scope.Action(check, Needs.Organization, async (s, p, ct) =>
        {
            Tool.TimestampLines = true;
            var mapping = LoadMapping(p.GetValue(config)!);
            Log($"mapping: cluster '{mapping.Cluster}', time zone {mapping.TimeZone.Id}, {mapping.Accounts.Count} account(s), {mapping.Partitions.Count} partition(s)");
            foreach (var (partition, sku) in mapping.Partitions)
            {
                Log($"  partition {partition} -> {sku} by {SlurmMapping.Name(mapping.QuantitySourceFor(sku))}");
            }
            foreach (var (account, allocations) in mapping.Accounts)
            {
                Log($"  account {account} -> allocation{(allocations.Count == 1 ? "" : "s")} {string.Join(", ", allocations.Select(a => $"'{a}'"))}");
            }
            var org = await s.OrgAsync(ct);
            var problems = (await s.Store.CheckSlurmMappingAsync(s.Actor, org, mapping, ct)).ToList();
            if (ListClusters(p.GetValue(sacctmgr), SlurmCommands.DefaultTimeout) is { } list)
            {
                problems.AddRange(await s.Store.CheckSlurmClusterAsync(s.Actor, org, mapping, list, ct));
            }
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
        var timeout = new Option<int>("--sacct-timeout")
        {
            Description = "Kill sacct (and sacctmgr) after this many seconds (1 to 86400)",
            HelpName = "SECONDS",
            DefaultValueFactory = _ => (int)SlurmCommands.DefaultTimeout.TotalSeconds,
        };
        timeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is <= 0 or > 86_400)
            {
                r.AddError("--sacct-timeout must be 1 to 86400 seconds");
            }
        });
        var sacctmgr = Sacctmgr();
        var dryRun = new Option<bool>("--dry-run") { Description = "Parse and rate, show what would change, write nothing (takes no lock)" };
        foreach (var option in new Option[] { config, bin, file, since, snapshot, timeout, sacctmgr, dryRun })
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
            var limit = Duration.FromSeconds(p.GetValue(timeout));
            var options = new SlurmSyncOptions
            {
                DryRun = p.GetValue(dryRun),
                Since = p.GetValue(since),
                SnapshotAt = p.GetValue(snapshot),
                ListClusters = ListClusters(p.GetValue(sacctmgr), limit),
            };
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
                    report = await s.Store.SyncSlurmAsync(s.Actor, org, mapping, new ProgressReader(reader), options, ct);
                }
            }
            else
            {
                // The library's runner kills sacct (and its children) at the timeout or on cancellation.
                var program = p.GetValue(bin) ?? "sacct";
                report = await s.Store.SyncSlurmFromSacctAsync(s.Actor, org, mapping, async (window, token) => new ProgressReader(await SlurmCommands.RunSacctAsync(program, mapping, window, limit, token)), options, ct);
            }
            return Print(mapping, report);
        });
        return sync;
    }

    private static Command Unlock()
    {
        var unlock = new Command("unlock", "Clear a cluster's run lock by hand (after a crashed run) and print whose it was");
        var cluster = new Option<string>("--cluster") { Description = "The cluster (as in the mapping's \"cluster\")", HelpName = "NAME", Required = true };
        unlock.Add(cluster);
        Scope.Action(unlock, Needs.Organization, async (s, p, ct) =>
        {
            Tool.TimestampLines = true;
            var name = p.GetValue(cluster)!;
            var held = await s.Store.ReleaseSlurmLockAsync(s.Actor, await s.OrgAsync(ct), name, ct);
            Log(held is null ? $"slurm unlock {name}: no lock was held (nothing changed)" : $"slurm unlock {name}: cleared the lock of {held}");
            return ExitCodes.Done;
        });
        return unlock;
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
        foreach (var warning in report.Warnings)
        {
            Log($"  warning: {warning}");
        }
        var failures = report.Skipped.Count(s => s.IsFailure);
        var window = report.Window is { } w ? $"window {Values.Instant(w.Since)}..{Values.Instant(w.Until)}, " : "";
        var watermark = report.Watermark is { } mark ? Values.Instant(mark) + (report.WatermarkAdvanced ? " (moved)" : " (held)") : "none";
        Log($"{prefix}: completed; {window}lines {report.LinesRead}, jobs {report.Jobs}, recorded {report.Recorded}, replaced {report.Replaced}, "
            + $"unchanged {report.Unchanged} (stale {report.Stale}), skipped {report.Skipped.Count} ({failures} failure(s)), steps ignored {report.StepsIgnored}, not started {report.NotStarted}, warnings {report.Warnings.Count}; watermark {watermark}");
        if (report.HasFailures)
        {
            Console.Error.WriteLine(Tool.Stamp($"error: {failures} job(s) or line(s) could not be imported (see the skipped lines)"));
            return ExitCodes.Failed;
        }
        return ExitCodes.Done;
    }

    /// <summary>Passes sacct output through to the importer, showing a running line count on stderr while it is read,
    /// only when stderr is a terminal (never in cron logs or pipes).</summary>
    private sealed class ProgressReader(TextReader inner) : TextReader
    {
        private readonly bool terminal = !Console.IsErrorRedirected;
        private long lines;
        private bool shown;

        public override string? ReadLine()
        {
            var line = inner.ReadLine();
            if (line is null)
            {
                Clear();
                return null;
            }
            if (terminal && ++lines % 10_000 == 0)
            {
                Console.Error.Write($"\rread {lines:N0} lines of sacct output…");
                shown = true;
            }
            return line;
        }

        public override int Peek() => inner.Peek();

        public override int Read() => inner.Read();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Clear();
                inner.Dispose();
            }
            base.Dispose(disposing);
        }

        private void Clear()
        {
            if (shown)
            {
                Console.Error.Write("\r" + new string(' ', 48) + "\r");
                shown = false;
            }
        }
    }
}
