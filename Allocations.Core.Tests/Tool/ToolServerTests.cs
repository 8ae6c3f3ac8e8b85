using Allocations.Tests.Support;
using Npgsql;
using Xunit;

namespace Allocations.Tests.Tool;

/// <summary>The tool against a PostgreSQL server, as a cluster's cron job runs the importer against the centre's one
/// database: <c>--db</c> (or ALLOCATIONS_DB) takes a <c>postgres://</c> URI or a key=value connection string, the
/// password comes from PGPASSWORD, and a refused login is one line that never shows the password.</summary>
public sealed class ToolServerTests : IDisposable
{
    private const string Mapping = ToolAdminTests.Mapping;

    private readonly ToolProcess tool = new();
    private string? database;

    public ToolServerTests()
    {
        File.WriteAllText(tool.PathOf("slurm.json"), Mapping);
    }

    public void Dispose()
    {
        tool.Dispose();
        if (database is not null)
        {
            NpgsqlConnection.ClearAllPools();
            PostgresServer.DropDatabaseAsync(database).GetAwaiter().GetResult();
        }
    }

    private static string Capture(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", "slurm", name);

    private async Task<ToolResult> OkAsync(params string[] args)
    {
        var r = await tool.RunAsync(args);
        Assert.True(r.ExitCode == 0, $"{string.Join(' ', args)}\n{r}");
        return r;
    }

    /// <summary>An empty database of the test's own, as a URI without the password (which goes to PGPASSWORD).</summary>
    private async Task<(string Uri, NpgsqlConnectionStringBuilder Builder)> EmptyDatabaseAsync()
    {
        database = await PostgresServer.CreateDatabaseAsync(migrated: false);
        var b = new NpgsqlConnectionStringBuilder(database);
        tool.Environment["PGPASSWORD"] = b.Password!;
        return ($"postgres://{Uri.EscapeDataString(b.Username!)}@{b.Host}:{b.Port}/{b.Database}", b);
    }

    [PostgresFact]
    public async Task SetUpImportAndReport_AgainstAServer_WorkAsOnAFile()
    {
        var (uri, b) = await EmptyDatabaseAsync();
        tool.Environment["ALLOCATIONS_DB"] = uri;
        tool.Environment["ALLOCATIONS_ORG"] = "Physics";
        Assert.Contains("created organization 'Physics'", (await OkAsync("org", "create", "Physics", "--admin", "alice")).Stdout);
        await OkAsync("unit", "create", "core-hours", "--precision", "2");
        await OkAsync("sku", "create", "CPU_HOUR", "--unit", "core-hours");
        await OkAsync("sku", "create", "GPU_HOUR", "--unit", "core-hours", "--basis", "per-hour");
        await OkAsync("rate", "add", "CPU_HOUR", "--rate", "1", "--from", "2026-01-01");
        await OkAsync("rate", "add", "GPU_HOUR", "--rate", "16", "--from", "2026-01-01");
        await OkAsync("alloc", "create", "Physics", "--unit", "core-hours", "--total", "10000");
        await OkAsync("alloc", "create", "Chemistry", "--unit", "core-hours", "--total", "5000");

        // The importer, as cron runs it on a cluster's controller: the database named on the command line in the
        // key=value form this time.
        var keyValue = $"Host={b.Host};Port={b.Port};Username={b.Username};Database={b.Database}";
        var sync = await OkAsync("slurm", "sync", "--db", keyValue, "--config", "slurm.json", "--sacct-file", Capture("sacct-requested.txt"));
        Assert.Contains("jobs 13, recorded 13,", sync.Stdout);
        var rerun = await OkAsync("slurm", "sync", "--config", "slurm.json", "--sacct-file", Capture("sacct-requested.txt"));
        Assert.Contains("recorded 0,", rerun.Stdout);

        // The same figures as the file walk-through (ToolAdminTests): 0.10 core-hours on Physics.
        var table = await OkAsync("report");
        Assert.Matches(@"^Physics\s+core-hours\s+10000\.00\s+0\.10\s", Assert.Single(table.Stdout.Split('\n'), l => l.StartsWith("Physics ", StringComparison.Ordinal)));
        Assert.Contains("journal intact", (await OkAsync("journal", "verify")).Stdout);
        Assert.Contains("5 event(s) of 'Physics'", (await OkAsync("usage", "list", "--allocation", "Physics")).Stdout);
        Assert.Equal(1L, TestStore.RawOn(database, "", "SELECT COUNT(*) FROM slurm_sync_state WHERE cluster = 'lab' AND watermark_ns IS NOT NULL", scalar: true));
    }

    [PostgresFact]
    public async Task ARefusedLogin_IsOneLineExitOne_NamingTheServerButNotThePassword()
    {
        var (_, b) = await EmptyDatabaseAsync();
        var wrong = $"postgresql://{b.Username}:not-the-secret-9271@{b.Host}:{b.Port}/{b.Database}";
        tool.Environment.Remove("PGPASSWORD");

        var r = await tool.RunAsync("org", "list", "--db", wrong);

        Assert.True(r.ExitCode == 1, r.ToString());
        var line = Assert.Single(r.StderrLines);
        Assert.StartsWith("error: ", line);
        Assert.Contains(b.Host!, line);
        Assert.Contains("refused the login", line);
        Assert.DoesNotContain("not-the-secret-9271", r.Stdout + r.Stderr);
    }
}
