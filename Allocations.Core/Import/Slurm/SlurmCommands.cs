using System.ComponentModel;
using System.Diagnostics;
using Allocations.Exceptions;
using NodaTime;

namespace Allocations.Import.Slurm;

/// <summary>Runs the Slurm commands the importer needs: <c>sacct</c> for a window's jobs and <c>sacctmgr</c> for the
/// clusters the accounting database knows. Each run has a timeout and honours cancellation by killing the command.</summary>
/// <remarks>
/// <para>Pass <see cref="RunSacctAsync"/> as the fetch delegate of
/// <see cref="AllocationStore.SyncSlurmFromSacctAsync"/> and <see cref="ListClustersAsync"/> as
/// <see cref="SlurmSyncOptions.ListClusters"/>. A timeout or a non-zero exit is a <see cref="SlurmCommandException"/>;
/// cancellation is an <see cref="OperationCanceledException"/>. Either way the sync releases its lock and writes
/// nothing.</para>
/// <para>Why <c>sacctmgr</c>: <c>sacct --clusters NAME</c> with a cluster the database does not know prints only the
/// header and exits 0 (slurm 22.05), exactly as for an idle cluster, so sacct alone cannot tell a misspelt cluster.</para>
/// </remarks>
public static class SlurmCommands
{
    /// <summary>The fields the importer asks sacct for (<c>--format</c>). ElapsedRaw is whole seconds, which the
    /// importer uses as the length of finished jobs and as the measured run time of running ones.</summary>
    public const string SacctFormat = "JobID,JobIDRaw,Cluster,Account,Partition,QOS,User,State,Submit,Start,End,ElapsedRaw,AllocCPUS,AllocTRES,NNodes";

    /// <summary>The default time a command may take before it is killed: 5 minutes.</summary>
    public static readonly Duration DefaultTimeout = Duration.FromMinutes(5);

    /// <summary>Gets the sacct arguments for a window: all users, every run of requeued jobs, the mapping's cluster,
    /// from the window's start (in the cluster's local time, as sacct reads it).</summary>
    /// <param name="mapping">The cluster's mapping.</param>
    /// <param name="window">The window.</param>
    /// <returns>The arguments, one per element (no shell quoting needed).</returns>
    /// <exception cref="InvalidInputException">An argument is null.</exception>
    public static IReadOnlyList<string> SacctArguments(SlurmMapping mapping, SlurmQueryWindow window)
    {
        Utility.Preconditions.CheckNotNull(mapping, "mapping");
        return
        [
            "--parsable2", "--allusers", "--duplicates", "--clusters", mapping.Cluster,
            "--starttime", mapping.FormatSacctTime(window.Since), "--format", SacctFormat,
        ];
    }

    /// <summary>Runs sacct for a window with <c>SLURM_TIME_FORMAT=%s</c> (epoch output times) and <c>TZ</c> set to the
    /// mapping's zone, and returns its output.</summary>
    /// <param name="sacctPath">The sacct executable (a name on PATH or a path).</param>
    /// <param name="mapping">The cluster's mapping.</param>
    /// <param name="window">The window.</param>
    /// <param name="timeout">How long sacct may run; null for <see cref="DefaultTimeout"/>.</param>
    /// <param name="cancellationToken">Kills sacct and cancels the call.</param>
    /// <returns>The output, read in full.</returns>
    /// <exception cref="InvalidInputException">An argument is null or the timeout is not positive.</exception>
    /// <exception cref="SlurmCommandException">sacct cannot be started, exits non-zero, or outlives the timeout.</exception>
    /// <exception cref="OperationCanceledException">The call was cancelled.</exception>
    public static async Task<TextReader> RunSacctAsync(
        string sacctPath, SlurmMapping mapping, SlurmQueryWindow window, Duration? timeout = null, CancellationToken cancellationToken = default)
    {
        var arguments = SacctArguments(mapping, window);
        var output = await RunAsync(
            sacctPath,
            arguments,
            new Dictionary<string, string> { ["SLURM_TIME_FORMAT"] = "%s", ["TZ"] = mapping.TimeZone.Id },
            timeout,
            cancellationToken).ConfigureAwait(false);
        return new StringReader(output);
    }

    /// <summary>Lists the clusters the accounting database knows: <c>sacctmgr --noheader --parsable2 list clusters
    /// format=Cluster</c>.</summary>
    /// <param name="sacctmgrPath">The sacctmgr executable (a name on PATH or a path).</param>
    /// <param name="timeout">How long sacctmgr may run; null for <see cref="DefaultTimeout"/>.</param>
    /// <param name="cancellationToken">Kills sacctmgr and cancels the call.</param>
    /// <returns>The cluster names, lower-cased, in the order printed.</returns>
    /// <exception cref="InvalidInputException">The path is null or the timeout is not positive.</exception>
    /// <exception cref="SlurmCommandException">sacctmgr cannot be started, exits non-zero, or outlives the timeout.</exception>
    /// <exception cref="OperationCanceledException">The call was cancelled.</exception>
    public static async Task<IReadOnlyList<string>> ListClustersAsync(string sacctmgrPath, Duration? timeout = null, CancellationToken cancellationToken = default)
    {
        var output = await RunAsync(
            sacctmgrPath, ["--noheader", "--parsable2", "list", "clusters", "format=Cluster"], null, timeout, cancellationToken).ConfigureAwait(false);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.TrimEnd('|').ToLowerInvariant())
            .Where(name => name.Length > 0)
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    private static async Task<string> RunAsync(
        string path, IReadOnlyList<string> arguments, Dictionary<string, string>? environment, Duration? timeout, CancellationToken cancellationToken)
    {
        Utility.Preconditions.CheckNotNull(path, "path");
        var limit = timeout ?? DefaultTimeout;
        if (limit <= Duration.Zero || limit > Duration.FromDays(1))
        {
            throw new InvalidInputException("timeout", limit.ToString(), "must be more than zero and at most one day");
        }
        var start = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }
        var command = $"{path} {string.Join(' ', arguments)}";
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new SlurmCommandException(command, null, "did not start");
        }
        catch (Exception ex) when (ex is Win32Exception or InvalidOperationException or PlatformNotSupportedException)
        {
            throw new SlurmCommandException(command, null, "cannot be run: " + ex.Message, ex);
        }
        using (process)
        using (var timer = new CancellationTokenSource(limit.ToTimeSpan()))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token))
        {
            process.StandardInput.Close();
            var output = process.StandardOutput.ReadToEndAsync(linked.Token);
            var error = process.StandardError.ReadToEndAsync(linked.Token);
            try
            {
                await process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
                var text = await output.ConfigureAwait(false);
                var errorText = (await error.ConfigureAwait(false)).Trim();
                if (process.ExitCode != 0)
                {
                    throw new SlurmCommandException(command, process.ExitCode, $"exited with {process.ExitCode}{(errorText.Length > 0 ? ": " + errorText : "")}");
                }
                return text;
            }
            catch (OperationCanceledException ex)
            {
                Kill(process);
                await Task.WhenAll(output, error).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                throw new SlurmCommandException(command, null, $"did not finish within {limit} and was killed", ex);
            }
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // it exited between the timeout and the kill
        }
    }
}

/// <summary>A Slurm command (sacct, sacctmgr) could not be run, failed, or outlived its timeout.</summary>
public sealed class SlurmCommandException : AllocationsException
{
    internal SlurmCommandException(string command, int? exitCode, string problem, Exception? innerException = null)
        : base($"{command}: {problem}", innerException)
    {
        Command = command;
        ExitCode = exitCode;
    }

    /// <summary>Gets the command line that was run.</summary>
    public string Command { get; }

    /// <summary>Gets the command's exit code, or null when it did not exit by itself (not started, killed).</summary>
    public int? ExitCode { get; }
}
