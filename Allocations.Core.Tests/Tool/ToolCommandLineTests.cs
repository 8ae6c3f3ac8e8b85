using Xunit;
namespace Allocations.Tests.Tool;

/// <summary>The tool's parsing contract, run as a process: usage errors exit 2 with one line, help and version exit 0
/// and touch nothing, a missing --db or database file is refused without creating one.</summary>
public sealed class ToolCommandLineTests : IDisposable
{
    private readonly ToolProcess tool = new();

    public void Dispose() => tool.Dispose();

    private static void AssertOneLineUsage(ToolResult r, string expected)
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains(expected, r.Stderr);
        Assert.InRange(r.StderrLines.Length, 1, 2); // the message, maybe one hint line
        Assert.DoesNotContain(" at ", r.Stderr);     // no stack trace
        Assert.DoesNotContain("Usage:", r.Stdout + r.Stderr); // no help dump
    }

    [Fact]
    public async Task UnknownOption_ExitsTwo_WithOneLine()
    {
        var r = await tool.RunAsync("report", "--db", "x.db", "--org", "1", "--bogus");
        AssertOneLineUsage(r, "--bogus");
        Assert.Empty(tool.Files());
    }

    [Fact]
    public async Task UnknownCommand_ExitsTwo_WithOneLine()
    {
        AssertOneLineUsage(await tool.RunAsync("frobnicate"), "frobnicate");
    }

    [Fact]
    public async Task MissingValue_ExitsTwo_AndOpensNothing()
    {
        var r = await tool.RunAsync("report", "--db");
        AssertOneLineUsage(r, "--db");
        Assert.Empty(tool.Files());
    }

    [Fact]
    public async Task MalformedValue_ExitsTwo_NamingIt()
    {
        AssertOneLineUsage(await tool.RunAsync("rate", "add", "CPU", "--rate", "abc", "--from", "2026-01-01", "--db", "x.db", "--org", "P"), "'abc'");
        AssertOneLineUsage(await tool.RunAsync("rate", "add", "CPU", "--rate", "1", "--from", "yesterday", "--db", "x.db", "--org", "P"), "'yesterday'");
        Assert.Empty(tool.Files());
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("org", "--help")]
    [InlineData("org", "create", "Physics", "--admin", "alice", "--db", "help.db", "--help")]
    [InlineData("report", "--db", "help.db", "--org", "1", "--help")]
    [InlineData("slurm", "sync", "--help")]
    [InlineData("demo", "--help")]
    [InlineData("demo", "credits", "--help")]
    [InlineData("demo", "access", "-h")]
    public async Task Help_AtEveryLevel_ExitsZero_ShowsTheExitCodes_AndTouchesNothing(params string[] args)
    {
        var r = await tool.RunAsync(args);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Usage:", r.Stdout);
        Assert.Contains("allocations", r.Stdout);
        Assert.Contains("75", r.Stdout);
        Assert.Contains("lock busy", r.Stdout);
        Assert.Empty(tool.Files());
    }

    [Fact]
    public async Task Version_PrintsTheVersion_AndExitsZero()
    {
        var r = await tool.RunAsync("--version");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"^\d+\.\d+\.\d+", r.Stdout.Trim());
        Assert.Empty(tool.Files());
    }

    [Theory]
    [InlineData("report", "--org", "Physics")]
    [InlineData("slurm", "sync", "--org", "Physics", "--config", "slurm.json")]
    [InlineData("alloc", "list", "--org", "Physics")]
    public async Task WithoutDb_ExitsTwo_AndWritesNothing(params string[] args)
    {
        var r = await tool.RunAsync(args);
        AssertOneLineUsage(r, "--db PATH (or ALLOCATIONS_DB) is required");
        Assert.Empty(tool.Files());
    }

    [Fact]
    public async Task SlurmCheck_OnAMissingFile_ExitsOne_AndCreatesNoFile()
    {
        var r = await tool.RunAsync("slurm", "check", "--db", "typo.db", "--org", "Physics", "--config", "slurm.json");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Single(r.StderrLines);
        Assert.Contains("error: no database at typo.db", r.Stderr);
        Assert.False(File.Exists(tool.PathOf("typo.db")));
        Assert.Empty(tool.Files());
    }

    [Fact]
    public async Task Report_OnAMissingFile_ViaTheEnvironment_ExitsOne_AndCreatesNoFile()
    {
        tool.Environment["ALLOCATIONS_DB"] = tool.PathOf("nothing.db");
        tool.Environment["ALLOCATIONS_ORG"] = "1";
        var r = await tool.RunAsync("report");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("no database at", r.Stderr);
        Assert.Empty(tool.Files());
    }
}
