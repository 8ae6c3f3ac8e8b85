using Allocations.Domain;
using NodaTime;
using NodaTime.Testing;
using Xunit;

namespace Allocations.Tests.Tool;

/// <summary>Holds that expire, through the tool: <c>usage reserve --expires</c>, <c>usage extend</c> and
/// <c>usage sweep</c>.</summary>
public sealed class ToolHoldTests : IDisposable
{
    private readonly ToolProcess tool = new();

    public void Dispose() => tool.Dispose();

    private Task<ToolResult> OkAsync(params string[] args) => tool.OkAsync(args);

    private async Task SetUpAsync()
    {
        await tool.SetUpPhysicsAsync("holds.db", "100");
    }

    private static readonly string[] Hold = ["usage", "reserve", "--allocation", "Physics", "--sku", "CPU_HOUR", "--quantity", "2", "--start", "2026-03-01", "--end", "2026-03-01T05:00:00Z"];

    [Fact]
    public async Task Reserve_PrintsTheExpiry_TakesNeverOrADuration_AndRefusesAMalformedOne()
    {
        await SetUpAsync();
        Assert.Contains("(Estimated, expires ", (await OkAsync([.. Hold])).Stdout);
        Assert.Contains("(Estimated, never expires)", (await OkAsync([.. Hold, "--expires", "never"])).Stdout);
        Assert.Contains("(Estimated, expires ", (await OkAsync([.. Hold, "--expires", "90m"])).Stdout);
        foreach (var bad in new[] { "0h", "-2h", "soon", "2w" })
        {
            var refused = await tool.RunAsync([.. Hold, "--expires", bad]);
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains($"'{bad}' is not an expiry for --expires", refused.Stderr.Trim().Split('\n')[0]);
        }
        var past = await tool.RunAsync([.. Hold, "--expires", "2026-01-01T00:00:00Z"]);
        Assert.Equal(1, past.ExitCode);
        Assert.StartsWith("error: ", past.Stderr);
        Assert.Contains("expiry", past.Stderr);
        var shown = (await OkAsync("usage", "list", "--allocation", "Physics")).Stdout;
        Assert.Contains("3 event(s)", shown);
    }

    [Fact]
    public async Task Sweep_ReleasesTheExpiredHolds_AndConfirmOrExtendOfOneExitsOne()
    {
        await SetUpAsync();
        Assert.Contains("released 0 expired hold(s)", (await OkAsync("usage", "sweep")).Stdout);
        var live = (await OkAsync([.. Hold, "--expires", "2h"])).Stdout;
        Assert.Contains("reserved event ", live);

        // A hold placed three days ago that lasted an hour: expired by the clock the tool runs on.
#pragma warning disable RS0030 // the tool runs on the system clock; the test needs an instant before it
        var longAgo = NodaTime.SystemClock.Instance.GetCurrentInstant() - Duration.FromDays(3);
#pragma warning restore RS0030
        UsageEventId expiredId;
        using (var store = await AllocationStore.OpenAsync(tool.PathOf("holds.db"), new AllocationStoreOptions { Clock = new FakeClock(longAgo) }))
        {
            var org = (await store.ListOrganizationsAsync(Principal.System)).Single();
            var physics = (await store.ListAllocationsAsync(Principal.System, org.Id)).Single();
            var record = new UsageRecord(physics.Id, new SkuCode("CPU_HOUR"), Quantity.FromDecimal(1m), Instant.FromUtc(2026, 3, 1, 0, 0), Instant.FromUtc(2026, 3, 1, 1, 0), UsageStatus.Estimated);
            expiredId = (await store.ReserveAsync(Principal.System, record, HoldExpiry.After(Duration.FromHours(1)))).Event!.Id;
        }
        var id = expiredId.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var confirm = await tool.RunAsync("usage", "confirm", id);
        Assert.Equal(1, confirm.ExitCode);
        Assert.StartsWith($"error: event {id} is a hold that expired at ", confirm.Stderr);
        var extend = await tool.RunAsync("usage", "extend", id, "--expires", "1d");
        Assert.Equal(1, extend.ExitCode);
        Assert.StartsWith($"error: event {id} is a hold that expired at ", extend.Stderr);

        Assert.Contains("released 1 expired hold(s)", (await OkAsync("usage", "sweep")).Stdout);
        Assert.Contains("released 0 expired hold(s)", (await OkAsync("usage", "sweep")).Stdout);
        Assert.Contains("1 event(s)", (await OkAsync("usage", "list", "--allocation", "Physics")).Stdout);
        var liveId = live.Split(' ')[2];
        Assert.Contains($"extended event {liveId}: never expires", (await OkAsync("usage", "extend", liveId, "--expires", "never")).Stdout);
    }
}
