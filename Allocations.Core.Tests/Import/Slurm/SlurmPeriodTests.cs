using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;
using static Allocations.Tests.Import.Slurm.SlurmFixture;

namespace Allocations.Tests.Import.Slurm;

/// <summary>Successive allocations of one project sharing a Slurm account: each job goes to the allocation whose
/// period holds its start, read from the real capture (jobs of account physics start at 02:41:23, 02:41:31 and
/// 02:41:33 on 2026-11-24).</summary>
public class SlurmPeriodTests
{
    private static readonly Instant Nov1 = TestStore.November1;
    private static readonly Instant Dec1 = Instant.FromUtc(2026, 12, 1, 0, 0);
    private static readonly Instant Split = Instant.FromUtc(2026, 11, 24, 2, 41, 30);

    private const string SharedAccount = """
        {
          "cluster": "lab",
          "timeZone": "UTC",
          "accounts": { "physics": ["physics-a", "physics-b"], "chem": "Chemistry" },
          "partitions": { "cpu": "CPU_HOUR", "gpu": "GPU_HOUR" },
          "skus": { "GPU_HOUR": "gres/gpu" }
        }
        """;

    private static async Task<(TestStore T, Allocation A, Allocation B)> CreateAsync(Instant? aEnd = null, Instant? bStart = null)
    {
        var (t, _, _) = await SlurmFixture.CreateAsync();
        var a = await t.Store.CreateAllocationAsync(TestStore.Admin, t.Organization, new NewAllocation("physics-a", TestStore.CoreHours, Amount.FromDecimal(1000m), null, Nov1, aEnd ?? Split));
        var b = await t.Store.CreateAllocationAsync(TestStore.Admin, t.Organization, new NewAllocation("physics-b", TestStore.CoreHours, Amount.FromDecimal(1000m), null, bStart ?? Split, Dec1));
        return (t, a, b);
    }

    [Fact]
    public async Task Sync_SharedAccount_ChargesEachJobToTheAllocationWhosePeriodHoldsItsStart()
    {
        var (t, a, b) = await CreateAsync();
        using var _ = t;

        var report = await SyncAsync(t, Capture("sacct-requested.txt"), SlurmMapping.Parse(SharedAccount));

        Assert.Equal(SlurmSyncOutcome.Completed, report.Outcome);
        Assert.Equal(13, report.Recorded);
        Assert.Empty(report.Skipped);
        // Jobs 1 (1 CPU × 5 s) and 3 (2 GPUs × 6 s) start at 02:41:23; jobs 5 (1 GPU × 5 s), 6 (1 CPU × 2 s) and 11
        // (1 CPU × 77 s) at 02:41:31 and 02:41:33. CPU_HOUR costs 2, GPU_HOUR 4.
        Assert.Equal((Amount.FromDecimal(Rated(1, 5, 2) + Rated(2, 6, 4)), Amount.Zero), await FiguresAsync(t, a));
        Assert.Equal((Amount.FromDecimal(Rated(1, 5, 4) + Rated(1, 2, 2) + Rated(1, 77, 2)), Amount.Zero), await FiguresAsync(t, b));
        var onB = await t.Store.ListEventsAsync(TestStore.Admin, b.Id);
        Assert.Equal(["11", "5", "6"], onB.Events.Select(e => e.Attributes["jobId"]).Order(StringComparer.Ordinal));
        Assert.All(onB.Events, e => Assert.True(e.Interval.Start >= Split));

        var again = await SyncAsync(t, Capture("sacct-requested.txt"), SlurmMapping.Parse(SharedAccount));
        Assert.Equal((0, 13), (again.Recorded, again.Unchanged));
        Assert.True((await t.Store.VerifyAsync(TestStore.Admin, t.Organization)).IsClean);
    }

    [Fact]
    public async Task Sync_AJobStartingInNoneOfTheAccountsPeriods_IsReportedNamingTheAccountAndTheStart_AndHoldsTheWatermark()
    {
        // A gap from 02:41:30 to 02:41:32: jobs 5 and 6 start in it (02:41:31).
        var (t, a, b) = await CreateAsync(bStart: Instant.FromUtc(2026, 11, 24, 2, 41, 32));
        using var _ = t;

        var report = await SyncAsync(t, Capture("sacct-requested.txt"), SlurmMapping.Parse(SharedAccount));

        Assert.Equal(11, report.Recorded);
        Assert.Equal(["5", "6"], report.Skipped.Select(s => s.JobId).Order(StringComparer.Ordinal));
        Assert.All(report.Skipped, s =>
        {
            Assert.Equal(SlurmSkipReason.Rejected, s.Reason);
            Assert.Contains("account 'physics'", s.Detail, StringComparison.Ordinal);
            Assert.Contains("'physics-a' [2026-11-01T00:00:00Z, 2026-11-24T02:41:30Z)", s.Detail, StringComparison.Ordinal);
            Assert.Contains("'physics-b' [2026-11-24T02:41:32Z, 2026-12-01T00:00:00Z)", s.Detail, StringComparison.Ordinal);
            Assert.Contains("starting at 2026-11-24T02:41:31Z", s.Detail, StringComparison.Ordinal);
        });
        Assert.True(report.HasFailures);
        Assert.True(report.Watermark < CaptureTime, $"the watermark {report.Watermark} should be held for the refused jobs");

        // Closing the gap lets the next run record them.
        await t.Store.SetPeriodAsync(TestStore.Admin, b.Id, Split, Dec1);
        var retry = await SyncAsync(t, Capture("sacct-requested.txt"), SlurmMapping.Parse(SharedAccount));
        Assert.Equal(2, retry.Recorded);
        Assert.Empty(retry.Skipped);
        Assert.Equal((Amount.FromDecimal(Rated(1, 5, 4) + Rated(1, 2, 2) + Rated(1, 77, 2)), Amount.Zero), await FiguresAsync(t, b));
    }

    [Fact]
    public async Task Sync_OneAllocationWhosePeriodDoesNotHoldTheStart_ReportsTheJob()
    {
        var (t, physics, _) = await SlurmFixture.CreateAsync();
        using var _ = t;
        await t.Store.SetPeriodAsync(TestStore.Admin, physics.Id, Split, null);

        var report = await SyncAsync(t, Capture("sacct-requested.txt"));

        Assert.Equal(["1", "3"], report.Skipped.Select(s => s.JobId).Order(StringComparer.Ordinal));
        Assert.All(report.Skipped, s => Assert.Equal(SlurmSkipReason.Rejected, s.Reason));
        Assert.Contains("starting at 2026-11-24T02:41:23Z", report.Skipped[0].Detail, StringComparison.Ordinal);
        Assert.Equal(11, report.Recorded);
    }

    [Fact]
    public async Task Sync_SharedAccountWithOverlappingPeriods_IsRefusedAsABadMapping_WritingNothing()
    {
        var (t, _, _) = await CreateAsync(aEnd: Split + Duration.FromSeconds(1));
        using var _ = t;
        var before = t.ContentHash();

        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => SyncAsync(t, Capture("sacct-requested.txt"), SlurmMapping.Parse(SharedAccount)));

        Assert.Equal("accounts.physics", ex.Field);
        Assert.Contains("overlapping", ex.Rule, StringComparison.Ordinal);
        Assert.Equal(before, t.ContentHash());
        var problems = await t.Store.CheckSlurmMappingAsync(TestStore.Admin, t.Organization, SlurmMapping.Parse(SharedAccount));
        var problem = Assert.Single(problems);
        Assert.StartsWith("accounts.physics: allocations 'physics-a' [2026-11-01T00:00:00Z, 2026-11-24T02:41:31Z) and 'physics-b'", problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sync_SharedAccountWhereOneHasNoPeriod_OverlapsEverything_AndIsRefused()
    {
        var (t, a, _) = await CreateAsync();
        using var _ = t;
        await t.Store.SetPeriodAsync(TestStore.Admin, a.Id, null, null);
        await Assert.ThrowsAsync<InvalidInputException>(() => SyncAsync(t, Capture("sacct-requested.txt"), SlurmMapping.Parse(SharedAccount)));
    }

    [Fact]
    public async Task CheckMapping_SharedAccount_ReportsEachMissingAllocation_AndNothingWhenThePeriodsAreApart()
    {
        var (t, _, _) = await CreateAsync();
        using var _ = t;
        Assert.Empty(await t.Store.CheckSlurmMappingAsync(TestStore.Admin, t.Organization, SlurmMapping.Parse(SharedAccount)));
        var withMissing = SlurmMapping.Parse(SharedAccount.Replace("\"physics-b\"]", "\"physics-b\", \"physics-c\"]", StringComparison.Ordinal));
        Assert.Equal(["accounts.physics: allocation 'physics-c' does not exist in org:1"], (await t.Store.CheckSlurmMappingAsync(TestStore.Admin, t.Organization, withMissing)).Select(p => p.Replace(t.Organization.ToString(), "org:1", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("[]", "accounts.physics")]
    [InlineData("[\"physics-a\", \"PHYSICS-A\"]", "accounts.physics")]
    [InlineData("[\"physics-a\", 7]", "accounts.physics")]
    [InlineData("[\"physics-a\", \"\"]", "accounts.physics")]
    [InlineData("{}", "accounts.physics")]
    public void Mapping_WithABadListOfAllocations_IsRefusedNamingTheAccount(string value, string field)
    {
        var json = SharedAccount.Replace("[\"physics-a\", \"physics-b\"]", value, StringComparison.Ordinal);
        var ex = Assert.Throws<InvalidInputException>(() => SlurmMapping.Parse(json));
        Assert.Equal(field, ex.Field);
    }

    [Fact]
    public void Mapping_ListsAnAccountsAllocationsInOrder_AndASingleNameAsOne()
    {
        var mapping = SlurmMapping.Parse(SharedAccount);
        Assert.Equal(["physics-a", "physics-b"], mapping.Accounts["PHYSICS"]);
        Assert.Equal(["Chemistry"], mapping.Accounts["chem"]);
    }
}
