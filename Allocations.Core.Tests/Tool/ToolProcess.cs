using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace Allocations.Tests.Tool;

/// <summary>What one run of the tool did.</summary>
internal sealed record ToolResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>Runs the built admin tool (<c>dotnet Allocations.Sample.dll ...</c>) as a process in a scratch folder, with
/// a scratch per-user data folder and none of the tool's environment variables unless a test sets them.</summary>
internal sealed class ToolProcess : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    public ToolProcess()
    {
        Directory = Path.Combine(Path.GetTempPath(), "allocations-tool-" + Guid.NewGuid().ToString("N"));
        DataHome = Path.Combine(Directory + "-home");
        System.IO.Directory.CreateDirectory(Directory);
        System.IO.Directory.CreateDirectory(DataHome);
    }

    /// <summary>The working folder of every run.</summary>
    public string Directory { get; }

    /// <summary>XDG_DATA_HOME of every run: the per-user data folder where the demos keep their files.</summary>
    public string DataHome { get; }

    public Dictionary<string, string> Environment { get; } = [];

    public string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>The built tool: its path is stamped into the test assembly at build time.</summary>
    public static string ToolAssembly()
    {
        var stamped = typeof(ToolProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SampleAssembly").Value!;
        var path = Path.GetFullPath(stamped);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"the tool is not built at {path}; build the test project first", path);
        }
        return path;
    }

    public Process Start(params string[] args)
    {
        var dotnet = System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var info = new ProcessStartInfo(dotnet)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(ToolAssembly());
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var name in new[] { "ALLOCATIONS_DB", "ALLOCATIONS_ORG", "ALLOCATIONS_DEBUG" })
        {
            info.Environment.Remove(name);
        }
        info.Environment["XDG_DATA_HOME"] = DataHome;
        foreach (var (name, value) in Environment)
        {
            info.Environment[name] = value;
        }
        var process = Process.Start(info)!;
        process.StandardInput.Close();
        return process;
    }

    public async Task<ToolResult> RunAsync(params string[] args)
    {
        using var process = Start(args);
        return await WaitAsync(process);
    }

    /// <summary>Runs the tool and asserts it succeeded, showing its output when it did not.</summary>
    public async Task<ToolResult> OkAsync(params string[] args)
    {
        var r = await RunAsync(args);
        Xunit.Assert.True(r.ExitCode == 0, $"{string.Join(' ', args)}\n{r}");
        return r;
    }

    /// <summary>A fresh file <paramref name="file"/> as the default store, organization Physics (the default, admin
    /// alice), unit core-hours, CPU_HOUR at 1 per core and hour from 2026, and an allocation Physics of
    /// <paramref name="total"/>.</summary>
    public async Task SetUpPhysicsAsync(string file, string total)
    {
        Environment["ALLOCATIONS_DB"] = PathOf(file);
        Environment["ALLOCATIONS_ORG"] = "Physics";
        await OkAsync("org", "create", "Physics", "--admin", "alice");
        await OkAsync("unit", "create", "core-hours", "--precision", "2");
        await OkAsync("sku", "create", "CPU_HOUR", "--unit", "core-hours");
        await OkAsync("rate", "add", "CPU_HOUR", "--rate", "1", "--from", "2026-01-01");
        await OkAsync("alloc", "create", "Physics", "--unit", "core-hours", "--total", total);
    }

    public static async Task<ToolResult> WaitAsync(Process process)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the tool did not finish within {Timeout}");
        }
        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Every file in the working and data folders (to prove a command created none).</summary>
    public string[] Files() =>
        System.IO.Directory.GetFiles(Directory, "*", SearchOption.AllDirectories)
            .Concat(System.IO.Directory.GetFiles(DataHome, "*", SearchOption.AllDirectories))
            .ToArray();

    public void Dispose()
    {
        foreach (var folder in new[] { Directory, DataHome })
        {
            try
            {
                System.IO.Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a scratch folder under the temp directory.
            }
        }
    }
}
