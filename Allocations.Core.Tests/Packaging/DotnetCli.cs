using System.Diagnostics;
using System.Text;

namespace Allocations.Tests.Packaging;

/// <summary>The result of one child process: its exit code and everything it wrote.</summary>
internal sealed record ProcessResult(string Command, int ExitCode, string Output, string Errors)
{
    /// <summary>The command and its output, for assertion messages.</summary>
    public override string ToString() => $"$ {Command}\nexit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Errors}";
}

/// <summary>Runs the <c>dotnet</c> CLI (or a program it produced) as a child process, with a time limit and an
/// environment cleaned of the variables the test host's own MSBuild run leaves behind.</summary>
internal static class DotnetCli
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(8);

    /// <summary>The <c>dotnet</c> executable that runs these tests (the SDK's host), or <c>dotnet</c> on PATH.</summary>
    internal static string Host =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Runs <c>dotnet ARGS</c> in <paramref name="directory"/>.</summary>
    internal static ProcessResult Dotnet(string directory, params string[] args) => Run(Host, directory, null, args);

    /// <summary>Runs <paramref name="program"/> in <paramref name="directory"/> with extra environment variables.</summary>
    internal static ProcessResult Run(string program, string directory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        // The test host runs under MSBuild (dotnet test): its MSBuild* variables would point a child build at the
        // parent's MSBuild and SDK resolver state.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(name);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        // No build servers left running after the test.
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        info.Environment["UseSharedCompilation"] = "false";
        if (environment is not null)
        {
            foreach (var (name, value) in environment)
            {
                info.Environment[name] = value;
            }
        }

        var command = program + " " + string.Join(' ', args);
        using var process = new Process { StartInfo = info };
        var output = new StringBuilder();
        var errors = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) { lock (output) { output.AppendLine(line); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) { lock (errors) { errors.AppendLine(line); } } };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"'{command}' did not finish within {Limit}:\n{output}\n{errors}");
        }
        process.WaitForExit();
        return new ProcessResult(command, process.ExitCode, output.ToString(), errors.ToString());
    }
}
