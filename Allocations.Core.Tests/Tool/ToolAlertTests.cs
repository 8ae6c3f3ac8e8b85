using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace Allocations.Tests.Tool;

/// <summary>Alert thresholds and alerts through the tool: set and shown with <c>alloc thresholds</c>, read with
/// <c>alerts list</c> (by cursor, and followed until SIGTERM).</summary>
public sealed class ToolAlertTests : IDisposable
{
    private readonly ToolProcess tool = new();

    public void Dispose() => tool.Dispose();

    private Task<ToolResult> OkAsync(params string[] args) => tool.OkAsync(args);

    /// <summary>Organization Physics, CPU_HOUR at 1 core-hour per core and hour, allocation Physics of 10,000.</summary>
    private async Task SetUpAsync()
    {
        await tool.SetUpPhysicsAsync("alerts.db", "10000");
    }

    /// <summary>Records cores × 10 hours of CPU_HOUR on Physics: cores × 10 core-hours.</summary>
    private Task<ToolResult> RecordAsync(int cores, string key) =>
        OkAsync("usage", "record", "--allocation", "Physics", "--sku", "CPU_HOUR", "--quantity", cores.ToString(CultureInfo.InvariantCulture),
            "--start", "2026-03-01T00:00:00Z", "--end", "2026-03-01T10:00:00Z", "--key", key);

    [Fact]
    public async Task AllocThresholds_SetShowAndClear()
    {
        await SetUpAsync();
        Assert.Contains("set the alert thresholds of 'Physics': 80% used, 100% used, remaining 500", (await OkAsync("alloc", "thresholds", "Physics", "--percent-used", "100", "--percent-used", "80", "--remaining", "500")).Stdout);
        Assert.Contains("alert thresholds of 'Physics': 80% used, 100% used, remaining 500", (await OkAsync("alloc", "thresholds", "Physics")).Stdout);
        Assert.Contains("cleared the alert thresholds of 'Physics'", (await OkAsync("alloc", "thresholds", "Physics", "--clear")).Stdout);
        Assert.Contains("'Physics' has no alert thresholds", (await OkAsync("alloc", "thresholds", "Physics")).Stdout);
    }

    [Theory]
    [InlineData(1, "percent", "--percent-used", "-5")]
    [InlineData(1, "percent", "--percent-used", "1001")]
    [InlineData(1, "thresholds", "--percent-used", "80", "--percent-used", "80")]
    [InlineData(2, "not a number", "--percent-used", "eighty")]
    [InlineData(2, "--clear cannot be combined", "--clear", "--remaining", "5")]
    public async Task AllocThresholds_RefusesBadValues_WithOneLine_AndChangesNothing(int exitCode, string says, params string[] options)
    {
        await SetUpAsync();
        await OkAsync("alloc", "thresholds", "Physics", "--percent-used", "50");

        var refused = await tool.RunAsync(["alloc", "thresholds", "Physics", .. options]);

        Assert.True(refused.ExitCode == exitCode, refused.ToString());
        // One line of error (a usage error adds the line that points at --help).
        Assert.Contains(says, refused.StderrLines[0]);
        Assert.Equal(exitCode == 2 && refused.Stderr.Contains("try '", StringComparison.Ordinal) ? 2 : 1, refused.StderrLines.Length);
        Assert.Contains("alert thresholds of 'Physics': 50% used", (await OkAsync("alloc", "thresholds", "Physics")).Stdout);
    }

    [Fact]
    public async Task AlertsList_PrintsEachCrossingOnce_AndReadsOnAfterACursor()
    {
        await SetUpAsync();
        await OkAsync("alloc", "thresholds", "Physics", "--percent-used", "80", "--percent-used", "100");
        await RecordAsync(700, "job-1");
        await RecordAsync(200, "job-2");

        var first = (await OkAsync("alerts", "list")).Stdout.Trim().Split('\n');
        var line = Assert.Single(first);
        Assert.StartsWith("alert:", line);
        // Amounts at the unit's precision (with group separators, dropped here).
        Assert.Contains("'Physics' reached 80% used: total 10000.00 used 9000.00 estimated 0.00 remaining 1000.00 % used 90.0%; usage.record event:2 by system", line.Replace(",", ""));
        var cursor = line.Split(' ')[0];

        await RecordAsync(200, "job-3");
        var next = (await OkAsync("alerts", "list", "--after", cursor)).Stdout.Trim().Split('\n');
        Assert.Contains("reached 100% used", Assert.Single(next));
        Assert.Equal(2, (await OkAsync("alerts", "list")).Stdout.Trim().Split('\n').Length);

        var bad = await tool.RunAsync("alerts", "list", "--after", "yesterday");
        Assert.True(bad.ExitCode == 2, bad.ToString());
        Assert.Single(bad.StderrLines);
    }

    [Fact]
    public async Task AlertsListFollow_PrintsNewAlertsAsTheyAreRecorded_AndExitsCleanlyOnSigterm()
    {
        await SetUpAsync();
        await OkAsync("alloc", "thresholds", "Physics", "--percent-used", "50");
        using var follower = tool.Start("alerts", "list", "--follow", "--interval", "0.1");
        var stderr = follower.StandardError.ReadToEndAsync();

        await RecordAsync(600, "job-1");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var line = await follower.StandardOutput.ReadLineAsync(timeout.Token);
        Assert.NotNull(line);
        Assert.Contains("reached 50% used", line);
        Assert.False(follower.HasExited, "the follower stopped after the first alert");

        using (var kill = Process.Start("kill", ["-TERM", follower.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        await follower.WaitForExitAsync(timeout.Token);
        Assert.True(follower.ExitCode == 0, await stderr);
        Assert.Contains("SIGTERM received", await stderr);
        Assert.Equal("", (await follower.StandardOutput.ReadToEndAsync()).Trim());
    }

    [Fact]
    public async Task AlertsSweep_SaysHowManyPeriodAlertsItRecorded()
    {
        await SetUpAsync();
        Assert.Contains("recorded 0 period alert(s)", (await OkAsync("alerts", "sweep")).Stdout);
        var refused = await tool.RunAsync("alerts", "sweep", "--as", "bob");
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Single(refused.StderrLines);
    }

    [Fact]
    public async Task AlertsList_Help_ShowsTheOptions_AndWritesNothing()
    {
        var help = await OkAsync("alerts", "list", "--help");
        Assert.Contains("--follow", help.Stdout);
        Assert.Contains("--after", help.Stdout);
        Assert.Contains("--interval", help.Stdout);
        Assert.Empty(tool.Files());
    }
}
