using System.Diagnostics;
using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using NodaTime;
using NodaTime.Text;

namespace Allocations.Sample.Commands;

/// <summary>The Slurm importer's command line, for cron:
/// <c>slurm sync --config mapping.json [--db FILE] [--org ID] [--actor USER] [--sacct-file FILE|- | --sacct-bin PATH] [--since INSTANT] [--dry-run]</c>
/// and <c>slurm check --config mapping.json [--db FILE] [--org ID] [--actor USER]</c>.</summary>
/// <remarks>Exit codes: 0 done, nothing failed; 1 something failed (malformed lines, refused jobs, sacct failed, bad
/// mapping); 2 usage error; 75 another sync holds the lock (try again later).</remarks>
internal static class SlurmCommand
{
    /// <summary>The fields the importer asks sacct for.</summary>
    internal const string Format = "JobID,JobIDRaw,Cluster,Account,Partition,QOS,User,State,Submit,Start,End,ElapsedRaw,AllocCPUS,AllocTRES,NNodes";

    private const int LockBusyExit = 75;

    internal static async Task<int> RunAsync(string[] args)
    {
        var sub = args.Length > 0 ? args[0] : "";
        var rest = args.Length > 0 ? args[1..] : args;
        switch (sub)
        {
            case "sync":
                return await SyncAsync(rest);
            case "check":
                return await CheckAsync(rest);
            default:
                Console.Error.WriteLine("usage: slurm sync --config mapping.json [--db FILE] [--org ID] [--actor USER] [--sacct-file FILE|- | --sacct-bin PATH] [--since 2026-11-01T00:00:00Z] [--dry-run]");
                Console.Error.WriteLine("       slurm check --config mapping.json [--db FILE] [--org ID] [--actor USER]");
                return 2;
        }
    }

    private static SlurmMapping? LoadMapping(string[] args)
    {
        var path = SampleOptions.Value(args, "--config");
        if (path is null)
        {
            Console.Error.WriteLine("slurm: --config FILE is required");
            return null;
        }
        try
        {
            return SlurmMapping.Load(path);
        }
        catch (InvalidInputException ex)
        {
            Console.Error.WriteLine($"slurm: mapping {path}: {ex.Message}");
            return null;
        }
    }

    private static (OrganizationId Org, Principal Actor)? Who(string[] args)
    {
        var orgText = SampleOptions.Value(args, "--org") ?? "1";
        if (!long.TryParse(orgText, NumberStyles.None, CultureInfo.InvariantCulture, out var org) || org <= 0)
        {
            Console.Error.WriteLine($"slurm: --org '{orgText}' is not an organization id");
            return null;
        }
        var actor = SampleOptions.Value(args, "--actor") is { } user ? Principal.User(user) : Principal.System;
        return (new OrganizationId(org), actor);
    }

    private static async Task<int> CheckAsync(string[] args)
    {
        var mapping = LoadMapping(args);
        if (mapping is null)
        {
            return 1;
        }
        Console.WriteLine($"mapping: cluster '{mapping.Cluster}', time zone {mapping.TimeZone.Id}, {mapping.Accounts.Count} account(s), {mapping.Partitions.Count} partition(s)");
        foreach (var (partition, sku) in mapping.Partitions)
        {
            Console.WriteLine($"  partition {partition} → {sku} by {SlurmMapping.Name(mapping.QuantitySourceFor(sku))}");
        }
        foreach (var (account, allocation) in mapping.Accounts)
        {
            Console.WriteLine($"  account {account} → allocation '{allocation}'");
        }
        var db = SampleOptions.Value(args, "--db");
        if (db is null)
        {
            Console.WriteLine("mapping is valid (pass --db FILE to check it against a store)");
            return 0;
        }
        if (Who(args) is not { } who)
        {
            return 2;
        }
        using var store = await AllocationStore.OpenAsync(db);
        var problems = await store.CheckSlurmMappingAsync(who.Actor, who.Org, mapping);
        foreach (var problem in problems)
        {
            Console.WriteLine("problem: " + problem);
        }
        Console.WriteLine(problems.Count == 0 ? $"mapping fits {db}" : $"{problems.Count} problem(s)");
        return problems.Count == 0 ? 0 : 1;
    }

    private static async Task<int> SyncAsync(string[] args)
    {
        var mapping = LoadMapping(args);
        if (mapping is null)
        {
            return 1;
        }
        if (Who(args) is not { } who)
        {
            return 2;
        }
        var file = SampleOptions.Value(args, "--sacct-file");
        var bin = SampleOptions.Value(args, "--sacct-bin");
        if (file is not null && bin is not null)
        {
            Console.Error.WriteLine("slurm: give --sacct-file or --sacct-bin, not both");
            return 2;
        }
        Instant? since = null;
        if (SampleOptions.Value(args, "--since") is { } sinceText)
        {
            var parsed = InstantPattern.General.Parse(sinceText);
            if (!parsed.Success)
            {
                Console.Error.WriteLine($"slurm: --since '{sinceText}' is not an instant such as 2026-11-01T00:00:00Z");
                return 2;
            }
            since = parsed.Value;
        }
        var options = new SlurmSyncOptions { DryRun = SampleOptions.Flag(args, "--dry-run"), Since = since };
        var db = SampleOptions.Value(args, "--db") ?? SampleOptions.DefaultDatabasePath();
        using var store = await AllocationStore.OpenAsync(db);
        SlurmSyncReport report;
        try
        {
            if (file is not null)
            {
                using var reader = file == "-" ? Console.In : new StreamReader(file);
                report = await store.SyncSlurmAsync(who.Actor, who.Org, mapping, reader, options);
            }
            else
            {
                report = await store.SyncSlurmFromSacctAsync(who.Actor, who.Org, mapping, (window, ct) => RunSacctAsync(bin ?? "sacct", mapping, window, ct), options);
            }
        }
        catch (SacctFailedException ex)
        {
            Console.Error.WriteLine("slurm: " + ex.Message);
            return 1;
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"slurm: cannot read {file}: {ex.Message}");
            return 1;
        }
        Print(mapping, report);
        return report.Outcome == SlurmSyncOutcome.LockBusy ? LockBusyExit : report.HasFailures ? 1 : 0;
    }

    /// <summary>The sacct command line for a window (also shown in the README).</summary>
    internal static string[] SacctArguments(SlurmMapping mapping, SlurmQueryWindow window) =>
    [
        "--parsable2", "--allusers", "--duplicates", "--clusters", mapping.Cluster,
        "--starttime", mapping.FormatSacctTime(window.Since), "--format", Format,
    ];

    private static async Task<TextReader> RunSacctAsync(string bin, SlurmMapping mapping, SlurmQueryWindow window, CancellationToken cancellationToken)
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
            process = Process.Start(start) ?? throw new SacctFailedException($"{bin} did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new SacctFailedException($"cannot run {bin}: {ex.Message}");
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var error = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
            {
                throw new SacctFailedException($"{bin} exited with {process.ExitCode}: {(await error).Trim()}");
            }
            return new StringReader(await output);
        }
    }

    private static void Print(SlurmMapping mapping, SlurmSyncReport report)
    {
        var prefix = report.DryRun ? "slurm sync (dry run, nothing written)" : "slurm sync";
        if (report.Outcome != SlurmSyncOutcome.Completed)
        {
            Console.WriteLine($"{prefix} {mapping.Cluster}: {report.Outcome}: {report.Message}");
            return;
        }
        var window = report.Window is { } w ? $" window {w.Since}..{w.Until}" : "";
        Console.WriteLine($"{prefix} {mapping.Cluster}:{window}");
        Console.WriteLine($"  lines {report.LinesRead}, jobs {report.Jobs}, steps ignored {report.StepsIgnored}, not started {report.NotStarted}");
        Console.WriteLine($"  recorded {report.Recorded}, replaced {report.Replaced}, unchanged {report.Unchanged}, skipped {report.Skipped.Count}");
        foreach (var group in report.Skipped.GroupBy(s => s.Reason).OrderBy(g => g.Key))
        {
            Console.WriteLine($"  skipped {group.Key}: {group.Count()}{(group.First().IsFailure ? " (failure)" : "")}");
        }
        foreach (var skip in report.Skipped)
        {
            Console.WriteLine($"    line {skip.LineNumber}{(skip.JobId is { } id ? " job " + id : "")}: {skip.Reason}: {skip.Detail}");
        }
        Console.WriteLine($"  watermark {(report.Watermark?.ToString() ?? "none")}{(report.WatermarkAdvanced ? " (moved)" : "")}");
    }

    private sealed class SacctFailedException(string message) : Exception(message);
}
