using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using Allocations.Tests.Import.Slurm;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Usage;

/// <summary>External keys are unique within (organization, source): a host user's, the system actor's and the Slurm
/// importer's keys never meet, so nobody can pre-empt, replace or block what another principal records.</summary>
public class KeyScopeTests
{
    private static readonly Principal Mallory = Principal.User("mallory");
    private static readonly Principal Bob = Principal.User("bob");

    /// <summary>Physics and Chemistry (the importer's accounts), plus Own, on which mallory and bob hold Use.</summary>
    private static async Task<(TestStore T, Allocation Physics, Allocation Chemistry, Allocation Own)> CreateAsync()
    {
        var (t, physics, chemistry) = await SlurmFixture.CreateAsync();
        var own = await t.CreateAllocationAsync("Own", 100_000m);
        await t.Store.CreateGroupAsync(TestStore.Admin, t.Organization, "users");
        await t.Store.AddGroupMemberAsync(TestStore.Admin, t.Organization, "users", "mallory");
        await t.Store.AddGroupMemberAsync(TestStore.Admin, t.Organization, "users", "bob");
        await t.Store.GrantAsync(TestStore.Admin, own.Id, Grantee.Group("users"), AccessLevel.Use);
        return (t, physics, chemistry, own);
    }

    private static readonly Instant Submit = Instant.FromUtc(2026, 11, 24, 1, 0);

    private static string JobKey => $"slurm:lab:77:{Submit.ToUnixTimeSeconds()}";

    private static string Job77(string state, string end, long elapsed) =>
        SlurmFixture.Text(SlurmFixture.Line("77", state, "2026-11-24T01:00:00", "2026-11-24T01:00:00", end, elapsed, cpus: 64));

    [Fact]
    public async Task SquattedConfirmedKey_DoesNotStopTheImporterChargingTheJob()
    {
        var (t, physics, _, own) = await CreateAsync();
        using var _ = t;
        var squat = await t.Store.RecordUsageAsync(Mallory, new UsageRecord(
            own.Id, TestStore.Cpu, Quantity.FromDecimal(0m), Submit, Submit, UsageStatus.Confirmed, JobKey));

        var report = await SlurmFixture.SyncAsync(t, Job77("COMPLETED", "2026-11-24T02:00:00", 3600));

        Assert.Empty(report.Skipped);
        Assert.Equal(1, report.Recorded);
        Assert.Equal(Amount.FromDecimal(128m), (await SlurmFixture.FiguresAsync(t, physics)).Used); // 64 cores × 1 h × 2
        var mine = await t.Store.GetEventAsync(Mallory, squat.Event.Id);
        Assert.Equal(own.Id, mine.Allocation);
        Assert.Equal(Amount.Zero, mine.Amount);
        Assert.True((await t.Store.VerifyAsync(TestStore.Admin, t.Organization)).IsClean);
    }

    [Fact]
    public async Task SquattedKeyOfARunningJob_DoesNotReplaceTheImportersEstimate()
    {
        var (t, physics, _, own) = await CreateAsync();
        using var _ = t;
        await SlurmFixture.SyncAsync(t, Job77("RUNNING", "Unknown", 1800));
        var estimated = (await SlurmFixture.FiguresAsync(t, physics)).Estimated;
        Assert.True(estimated > Amount.Zero);

        var squat = await t.Store.RecordUsageAsync(Mallory, new UsageRecord(
            own.Id, TestStore.Cpu, Quantity.FromDecimal(0m), Submit, Submit, UsageStatus.Estimated, JobKey));

        Assert.Equal(RecordDisposition.Recorded, squat.Disposition);
        Assert.Equal(estimated, (await SlurmFixture.FiguresAsync(t, physics)).Estimated);
        var listed = await t.Store.ListEventsAsync(TestStore.Admin, physics.Id);
        Assert.Equal(JobKey, Assert.Single(listed.Events).ExternalKey);
    }

    [Fact]
    public async Task TwoUsersWithUse_RecordingTheSameKey_GetTwoEvents()
    {
        var (t, _, _, own) = await CreateAsync();
        using var _ = t;
        var record = TestStore.Cpu1(own, 1m, TestStore.November1, TestStore.November1 + Duration.FromHours(1), key: "job-1");

        var first = await t.Store.RecordUsageAsync(Mallory, record);
        var second = await t.Store.RecordUsageAsync(Bob, record.With(quantity: Quantity.FromDecimal(2m)));

        Assert.Equal(RecordDisposition.Recorded, first.Disposition);
        Assert.Equal(RecordDisposition.Recorded, second.Disposition);
        Assert.NotEqual(first.Event.Id, second.Event.Id);
        Assert.Equal(Amount.FromDecimal(3m), (await t.Store.GetAllocationAsync(TestStore.Admin, own.Id)).Used);
        Assert.Equal(first.Event.Id, (await t.Store.FindEventByKeyAsync(Mallory, t.Organization, "job-1"))!.Id);
        Assert.Equal(second.Event.Id, (await t.Store.FindEventByKeyAsync(Bob, t.Organization, "job-1"))!.Id);
        Assert.Null(await t.Store.FindEventByKeyAsync(TestStore.Admin, t.Organization, "job-1"));
    }

    [Fact]
    public async Task TheImportersEvent_IsNotFoundByKeyForAUser()
    {
        var (t, _, _, _) = await CreateAsync();
        using var _ = t;
        await SlurmFixture.SyncAsync(t, Job77("COMPLETED", "2026-11-24T02:00:00", 3600));

        Assert.Null(await t.Store.FindEventByKeyAsync(TestStore.Admin, t.Organization, JobKey));
        Assert.Null(await t.Store.FindEventByKeyAsync(Mallory, t.Organization, JobKey));
    }

    [Fact]
    public async Task WithinOneSource_AnEstimatedEventMovesToAnotherAllocation_WithUseOnBoth()
    {
        var (t, _, _, own) = await CreateAsync();
        using var _ = t;
        var other = await t.CreateAllocationAsync("Other", 100m);
        var record = TestStore.Cpu1(own, 1m, TestStore.November1, TestStore.November1 + Duration.FromHours(1), UsageStatus.Estimated, "hold-1");
        var held = await t.Store.RecordUsageAsync(Mallory, record);

        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.RecordUsageAsync(Mallory, record.With(allocation: other.Id)));
        await t.Store.GrantAsync(TestStore.Admin, other.Id, Grantee.Group("users"), AccessLevel.Use);
        var moved = await t.Store.RecordUsageAsync(Mallory, record.With(allocation: other.Id));

        Assert.Equal(RecordDisposition.Replaced, moved.Disposition);
        Assert.Equal(held.Event.Id, moved.Event.Id);
        Assert.Equal(other.Id, moved.Event.Allocation);
        Assert.Equal(Amount.Zero, (await t.Store.GetAllocationAsync(TestStore.Admin, own.Id)).Estimated);
    }

    [Fact]
    public async Task AnotherPrincipalsHold_NeedsAdminToConfirmReleaseOrDelete_WhileOwnHoldsNeedUse()
    {
        var (t, _, _, own) = await CreateAsync();
        using var _ = t;
        var window = (TestStore.November1, TestStore.November1 + Duration.FromHours(1));
        var bobs = await t.Store.RecordUsageAsync(Bob, TestStore.Cpu1(own, 1m, window.Item1, window.Item2, UsageStatus.Estimated, "b"));
        var mine = await t.Store.RecordUsageAsync(Mallory, TestStore.Cpu1(own, 1m, window.Item1, window.Item2, UsageStatus.Estimated, "m"));
        var before = t.ContentHash();

        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.ConfirmAsync(Mallory, bobs.Event.Id, Quantity.FromDecimal(0m)));
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.ReleaseAsync(Mallory, bobs.Event.Id));
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.DeleteEventAsync(Mallory, bobs.Event.Id));
        Assert.Equal(before, t.ContentHash());

        Assert.Equal(UsageStatus.Confirmed, (await t.Store.ConfirmAsync(Mallory, mine.Event.Id)).Event.Status);
        await t.Store.ReleaseAsync(TestStore.Admin, bobs.Event.Id); // an organization admin may
    }

    [Fact]
    public async Task TheImportersRunningJob_CannotBeConfirmedAtZeroByAUserWithUse()
    {
        var (t, physics, _, _) = await CreateAsync();
        using var _ = t;
        await t.Store.GrantAsync(TestStore.Admin, physics.Id, Grantee.Group("users"), AccessLevel.Use);
        await SlurmFixture.SyncAsync(t, Job77("RUNNING", "Unknown", 1800));
        var job = Assert.Single((await t.Store.ListEventsAsync(Mallory, physics.Id)).Events);

        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.ConfirmAsync(Mallory, job.Id, Quantity.FromDecimal(0m)));
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.ReleaseAsync(Mallory, job.Id));
    }

    [Fact]
    public async Task TheBatchPath_PrefetchesKeysWithinTheCallersSourceOnly()
    {
        var (t, _, _, own) = await CreateAsync();
        using var _ = t;
        var window = (TestStore.November1, TestStore.November1 + Duration.FromHours(1));
        var records = Enumerable.Range(0, 3).Select(i => TestStore.Cpu1(own, 1m, window.Item1, window.Item2, key: "k" + i)).ToList();
        await t.Store.RecordBatchAsync(Bob, records);

        var mallorys = await t.Store.RecordBatchAsync(Mallory, records);
        var again = await t.Store.RecordBatchAsync(Mallory, records);

        Assert.Equal((3, 0, 0), (mallorys.Recorded, mallorys.Replaced, mallorys.Unchanged));
        Assert.Equal((0, 0, 3), (again.Recorded, again.Replaced, again.Unchanged));
        Assert.Equal(Amount.FromDecimal(6m), (await t.Store.GetAllocationAsync(TestStore.Admin, own.Id)).Used);
    }
}
