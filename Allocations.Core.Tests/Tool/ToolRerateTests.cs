using System.Text.RegularExpressions;
using Xunit;

namespace Allocations.Tests.Tool;

/// <summary>The tool's rate correction and re-rating, as an admin runs them: correct, preview (writes nothing), apply
/// the token, apply it again, and a token gone stale.</summary>
public sealed partial class ToolRerateTests : IDisposable
{
    private readonly ToolProcess tool = new();

    public void Dispose() => tool.Dispose();

    private Task<ToolResult> OkAsync(params string[] args) => tool.OkAsync(args);

    [GeneratedRegex("token: ([0-9a-f]{64})")]
    private static partial Regex TokenLine();

    /// <summary>CPU_HOUR at 1 in core-hours, and a 10-core job of 10 h on 2 November: 100 core-hours.</summary>
    private async Task SetUpAsync()
    {
        await tool.SetUpPhysicsAsync("rerate.db", "1000");
        await OkAsync("usage", "record", "--allocation", "Physics", "--sku", "CPU_HOUR", "--quantity", "10", "--start", "2026-11-02T00:00:00Z", "--end", "2026-11-02T10:00:00Z");
    }

    private static string[] Period => ["--from", "2026-11-01", "--to", "2026-12-01"];

    [Fact]
    public async Task RateCorrect_ThenPreviewApplyAndApplyAgain_ReratesOnce()
    {
        await SetUpAsync();
        var corrected = await OkAsync("rate", "correct", "CPU_HOUR", "--rate", "1.5", "--from", "2026-11-01", "--to", "2026-12-01", "--reason", "November was 1.5");
        Assert.Contains("corrected CPU_HOUR to rate 1.5 from 2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z", corrected.Stdout);
        Assert.Contains("100.00", (await OkAsync("alloc", "show", "Physics")).Stdout);
        var before = File.ReadAllBytes(tool.PathOf("rerate.db"));

        var preview = await OkAsync(["sku", "rerate", "CPU_HOUR", .. Period, "--preview"]);
        Assert.Contains("would change 1 event(s); nothing was written", preview.Stdout);
        Assert.Matches(@"Physics\s+Confirmed\s+100\.00\s+150\.00\s+\+50\.00", preview.Stdout);
        Assert.Equal(before, File.ReadAllBytes(tool.PathOf("rerate.db")));
        var token = TokenLine().Match(preview.Stdout).Groups[1].Value;

        var applied = await OkAsync(["sku", "rerate", "CPU_HOUR", .. Period, "--apply", token]);
        Assert.Contains("re-rated 1 CPU_HOUR event(s)", applied.Stdout);
        Assert.Contains("'Physics': used 150.00", applied.Stdout);
        var again = await OkAsync(["sku", "rerate", "CPU_HOUR", .. Period, "--apply", token]);
        Assert.Contains("nothing to apply", again.Stdout);
        Assert.Contains("would change 0 event(s)", (await OkAsync(["sku", "rerate", "CPU_HOUR", .. Period, "--preview"])).Stdout);
        Assert.Contains("usage.rerate", (await OkAsync("journal", "list")).Stdout);
    }

    [Fact]
    public async Task RerateApply_WithATokenGoneStale_FailsWithOneLineAndChangesNothing()
    {
        await SetUpAsync();
        await OkAsync("rate", "correct", "CPU_HOUR", "--rate", "2", "--from", "2026-11-01", "--reason", "doubled");
        var token = TokenLine().Match((await OkAsync(["sku", "rerate", "CPU_HOUR", .. Period, "--preview"])).Stdout).Groups[1].Value;
        await OkAsync("rate", "correct", "CPU_HOUR", "--rate", "3", "--from", "2026-11-01", "--reason", "tripled");
        var before = File.ReadAllBytes(tool.PathOf("rerate.db"));

        var stale = await tool.RunAsync(["sku", "rerate", "CPU_HOUR", .. Period, "--apply", token]);

        Assert.Equal(1, stale.ExitCode);
        var line = Assert.Single(stale.StderrLines);
        Assert.Contains("changed since that token was taken", line);
        Assert.Equal(before, File.ReadAllBytes(tool.PathOf("rerate.db")));
    }

    [Fact]
    public async Task Rerate_WithNeitherOrBothModes_IsAUsageError()
    {
        await SetUpAsync();
        var neither = await tool.RunAsync(["sku", "rerate", "CPU_HOUR", .. Period]);
        Assert.Equal(2, neither.ExitCode);
        Assert.Contains("exactly one of --preview and --apply", neither.Stderr);
        var both = await tool.RunAsync(["sku", "rerate", "CPU_HOUR", .. Period, "--preview", "--apply", "abc"]);
        Assert.Equal(2, both.ExitCode);
        var help = await tool.RunAsync("sku", "rerate", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--apply", help.Stdout);
    }
}
