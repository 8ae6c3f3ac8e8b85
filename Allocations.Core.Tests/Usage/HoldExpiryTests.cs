using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Usage;

public class HoldExpiryTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Start = TestStore.November15 + Duration.FromHours(1);

    private static UsageRecord Hold(Allocation a, decimal cores, string? key = null) =>
        TestStore.Cpu1(a, cores, Start, Start + Duration.FromHours(1), UsageStatus.Estimated, key);

    [Fact]
    public async Task Reserve_WithoutExpiry_ExpiresAfterTheStoreDefaultOf24Hours()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        var hold = (await t.Store.ReserveAsync(Admin, Hold(a, 10m))).Event!;
        Assert.Equal(t.Clock.GetCurrentInstant() + Duration.FromHours(24), hold.ExpiresAt);
        Assert.Equal(hold.ExpiresAt, (await t.Store.GetEventAsync(Admin, hold.Id)).ExpiresAt);
    }

    [Fact]
    public async Task ExpiredHold_StopsCountingAtItsExpiryInstant_WithoutASweep()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("P", 100m);
        var child = await t.CreateAllocationAsync("C", 100m, parent);
        var hold = (await t.Store.ReserveAsync(Admin, Hold(child, 30m), HoldExpiry.After(Duration.FromHours(1)))).Event!;
        Assert.Equal(Amount.FromDecimal(60m), (await t.Store.GetAllocationAsync(Admin, child.Id)).Estimated);

        t.Clock.Advance(Duration.FromHours(1) - Duration.FromNanoseconds(1));
        Assert.Equal(Amount.FromDecimal(60m), (await t.Store.GetAllocationAsync(Admin, child.Id)).Estimated);
        Assert.False((await t.Store.CheckFitAsync(Admin, Hold(child, 21m))).Fits);

        t.Clock.Advance(Duration.FromNanoseconds(1));
        var c = await t.Store.GetAllocationAsync(Admin, child.Id);
        var p = await t.Store.GetAllocationAsync(Admin, parent.Id);
        Assert.Equal((Amount.Zero, Amount.Zero, Amount.FromDecimal(100m)), (c.Estimated, c.OwnEstimated, c.Remaining));
        Assert.Equal((Amount.Zero, Amount.FromDecimal(100m)), (p.Estimated, p.Remaining));
        var listed = await t.Store.ListAllocationsAsync(Admin, t.Organization);
        Assert.All(listed, x => Assert.Equal(Amount.Zero, x.Estimated));
        Assert.True((await t.Store.CheckFitAsync(Admin, Hold(child, 50m))).Fits);

        // A reservation that needs the whole total fits: the expired hold, still stored, holds nothing back.
        var full = await t.Store.ReserveAsync(Admin, Hold(child, 50m));
        Assert.True(full.Reserved);
        Assert.Equal(Amount.FromDecimal(100m), (await t.Store.GetAllocationAsync(Admin, parent.Id)).Estimated);
        Assert.Equal(UsageStatus.Estimated, (await t.Store.GetEventAsync(Admin, hold.Id)).Status);
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }

    [Fact]
    public async Task Confirm_OfAnExpiredHold_AnswersExpired_AndChangesNothing()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        var hold = (await t.Store.ReserveAsync(Admin, Hold(a, 10m), HoldExpiry.After(Duration.FromMinutes(5)))).Event!;
        t.Clock.Advance(Duration.FromMinutes(5));
        var before = t.ContentHash();
        var result = await t.Store.ConfirmAsync(Admin, hold.Id);
        Assert.Equal(HoldStatus.Expired, result.Status);
        Assert.Equal((UsageStatus.Estimated, hold.ExpiresAt), (result.Event.Status, result.Event.ExpiresAt));
        Assert.Equal(before, t.ContentHash());
        Assert.Equal(HoldStatus.Expired, (await t.Store.ExtendHoldAsync(Admin, hold.Id, HoldExpiry.After(Duration.FromHours(1)))).Status);
        Assert.Equal(before, t.ContentHash());
    }

    [Fact]
    public async Task Confirm_BeforeExpiry_Confirms_AndTheChargeNeverExpires()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        var hold = (await t.Store.ReserveAsync(Admin, Hold(a, 10m), HoldExpiry.After(Duration.FromMinutes(5)))).Event!;
        var result = await t.Store.ConfirmAsync(Admin, hold.Id);
        Assert.Equal((HoldStatus.Confirmed, UsageStatus.Confirmed, (Instant?)null), (result.Status, result.Event.Status, result.Event.ExpiresAt));
        t.Clock.Advance(Duration.FromDays(2));
        Assert.Equal(Amount.FromDecimal(20m), (await t.Store.GetAllocationAsync(Admin, a.Id)).Used);
        Assert.Equal(0, await t.Store.ReleaseExpiredHoldsAsync(Admin, t.Organization));
    }

    [Fact]
    public async Task Sweep_DeletesExpiredHoldsOnly_OneJournalEntryEach_AndNoFigureCallersSeeMoves()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        var b = await t.CreateAllocationAsync("B", 100m, a);
        var early = (await t.Store.ReserveAsync(Admin, Hold(a, 5m), HoldExpiry.After(Duration.FromHours(1)))).Event!;
        var early2 = (await t.Store.ReserveAsync(Admin, Hold(b, 5m), HoldExpiry.After(Duration.FromHours(2)))).Event!;
        var late = (await t.Store.ReserveAsync(Admin, Hold(b, 5m), HoldExpiry.After(Duration.FromHours(5)))).Event!;
        var never = (await t.Store.ReserveAsync(Admin, Hold(b, 5m), HoldExpiry.Never)).Event!;
        Assert.Null(never.ExpiresAt);
        t.Clock.Advance(Duration.FromHours(3));
        var seen = await t.Store.ListAllocationsAsync(Admin, t.Organization);

        Assert.Equal(2, await t.Store.ReleaseExpiredHoldsAsync(Admin, t.Organization));

        Assert.Equal(
            seen.Select(x => (x.Id, x.Estimated, x.OwnEstimated, x.Remaining)),
            (await t.Store.ListAllocationsAsync(Admin, t.Organization)).Select(x => (x.Id, x.Estimated, x.OwnEstimated, x.Remaining)));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetEventAsync(Admin, early.Id));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetEventAsync(Admin, early2.Id));
        Assert.Equal(UsageStatus.Estimated, (await t.Store.GetEventAsync(Admin, late.Id)).Status);
        Assert.Equal(UsageStatus.Estimated, (await t.Store.GetEventAsync(Admin, never.Id)).Status);
        var expireEntries = (await t.Store.GetOrganizationJournalAsync(Admin, t.Organization)).Where(e => e.Action == "usage.expire").ToList();
        Assert.Equal([early.Id.ToString(), early2.Id.ToString()], expireEntries.Select(e => e.Target).Order());
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
        Assert.Equal(0, await t.Store.ReleaseExpiredHoldsAsync(Admin, t.Organization));
    }

    [Fact]
    public async Task Sweep_ByAUserWithUseOnOneAllocation_ReleasesOnlyTheExpiredHoldsThere()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        var b = await t.CreateAllocationAsync("B", 100m);
        await t.Store.CreateGroupAsync(Admin, t.Organization, "team");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "team", "ann");
        await t.Store.GrantAsync(Admin, a.Id, Allocations.Access.Grantee.Group("team"), Allocations.Access.AccessLevel.Use);
        await t.Store.GrantAsync(Admin, b.Id, Allocations.Access.Grantee.Group("team"), Allocations.Access.AccessLevel.Read);
        var onA = (await t.Store.ReserveAsync(Admin, Hold(a, 5m), HoldExpiry.After(Duration.FromHours(1)))).Event!;
        var onB = (await t.Store.ReserveAsync(Admin, Hold(b, 5m), HoldExpiry.After(Duration.FromHours(1)))).Event!;
        t.Clock.Advance(Duration.FromHours(1));

        Assert.Equal(1, await t.Store.ReleaseExpiredHoldsAsync(Principal.User("ann"), t.Organization));
        Assert.Equal(0, await t.Store.ReleaseExpiredHoldsAsync(Principal.User("stranger"), t.Organization));

        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetEventAsync(Admin, onA.Id));
        Assert.Equal(onB.Id, (await t.Store.GetEventAsync(Admin, onB.Id)).Id);
        Assert.Equal(1, await t.Store.ReleaseExpiredHoldsAsync(Admin, t.Organization));
    }

    [Fact]
    public async Task Extend_KeepsAHoldCounting_PastItsFormerExpiry()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        var hold = (await t.Store.ReserveAsync(Admin, Hold(a, 10m), HoldExpiry.After(Duration.FromHours(1)))).Event!;
        var extended = await t.Store.ExtendHoldAsync(Admin, hold.Id, HoldExpiry.After(Duration.FromHours(3)));
        Assert.Equal((HoldStatus.Extended, t.Clock.GetCurrentInstant() + Duration.FromHours(3)), (extended.Status, extended.Event.ExpiresAt!.Value));
        t.Clock.Advance(Duration.FromHours(2));
        Assert.Equal(Amount.FromDecimal(20m), (await t.Store.GetAllocationAsync(Admin, a.Id)).Estimated);
        Assert.Equal(0, await t.Store.ReleaseExpiredHoldsAsync(Admin, t.Organization));
        Assert.Contains(await t.Store.GetOrganizationJournalAsync(Admin, t.Organization), e => e.Action == "usage.extend" && e.Target == hold.Id.ToString());
        var never = await t.Store.ExtendHoldAsync(Admin, hold.Id, HoldExpiry.Never);
        Assert.Null(never.Event.ExpiresAt);
        t.Clock.Advance(Duration.FromDays(30));
        Assert.Equal(Amount.FromDecimal(20m), (await t.Store.GetAllocationAsync(Admin, a.Id)).Estimated);
    }

    [Fact]
    public async Task Reserve_UnderTheKeyOfAnExpiredHold_ReplacesIt_WithANewFitCheck()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        var first = (await t.Store.ReserveAsync(Admin, Hold(a, 40m, "job-1"), HoldExpiry.After(Duration.FromHours(1)))).Event!;
        t.Clock.Advance(Duration.FromHours(1));
        var again = await t.Store.ReserveAsync(Admin, Hold(a, 40m, "job-1"), HoldExpiry.After(Duration.FromHours(1)));
        Assert.True(again.Reserved);
        Assert.Equal(first.Id, again.Event!.Id);
        Assert.Equal(t.Clock.GetCurrentInstant() + Duration.FromHours(1), again.Event.ExpiresAt);
        var figures = await t.Store.GetAllocationAsync(Admin, a.Id);
        Assert.Equal(Amount.FromDecimal(80m), figures.Estimated);
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }

    [Fact]
    public async Task Release_OfAnExpiredHold_DeletesIt_AndLeavesTheFiguresRight()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        var hold = (await t.Store.ReserveAsync(Admin, Hold(a, 10m), HoldExpiry.After(Duration.FromHours(1)))).Event!;
        await t.Store.ReserveAsync(Admin, Hold(a, 5m), HoldExpiry.Never);
        t.Clock.Advance(Duration.FromHours(2));
        await t.Store.ReleaseAsync(Admin, hold.Id);
        Assert.Equal(Amount.FromDecimal(10m), (await t.Store.GetAllocationAsync(Admin, a.Id)).Estimated);
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }

    [Fact]
    public async Task Transfer_DoesNotCountExpiredHoldsAsHeld()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        var b = await t.CreateAllocationAsync("B", 0m);
        await t.Store.ReserveAsync(Admin, Hold(a, 50m), HoldExpiry.After(Duration.FromHours(1)));
        t.Clock.Advance(Duration.FromHours(1));
        var moved = await t.Store.TransferAsync(Admin, a.Id, b.Id, Amount.FromDecimal(100m), "all of it");
        Assert.False(moved.Forced);
        Assert.Equal(Amount.Zero, moved.Source.Remaining);
    }

    [Fact]
    public async Task DefaultHoldExpiry_Null_MeansHoldsWithoutAnExpiryNeverExpire()
    {
        using var t = await TestStore.CreateAsync();
        using var store = await AllocationStore.OpenAsync(t.Path, new AllocationStoreOptions { Clock = t.Clock, DefaultHoldExpiry = null });
        var a = await store.CreateAllocationAsync(Admin, t.Organization, new NewAllocation("A", TestStore.CoreHours, Amount.FromDecimal(100m)));
        var hold = (await store.ReserveAsync(Admin, Hold(a, 10m))).Event!;
        Assert.Null(hold.ExpiresAt);
        var shorter = (await store.ReserveAsync(Admin, Hold(a, 10m), HoldExpiry.At(t.Clock.GetCurrentInstant() + Duration.FromMinutes(1)))).Event!;
        Assert.Equal(t.Clock.GetCurrentInstant() + Duration.FromMinutes(1), shorter.ExpiresAt);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task DefaultHoldExpiry_NotPositive_FailsTheOpen(long seconds)
    {
        using var t = await TestStore.CreateAsync();
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() =>
            AllocationStore.OpenInMemoryAsync(new AllocationStoreOptions { Clock = t.Clock, DefaultHoldExpiry = Duration.FromSeconds(seconds) }));
        Assert.Equal("DefaultHoldExpiry", ex.Field);
    }

    [Fact]
    public void HoldExpiry_DefaultIsTheStoreDefault_AndValuesCompareByMeaning()
    {
        Assert.True(default(HoldExpiry).IsStoreDefault);
        Assert.Equal(HoldExpiry.StoreDefault, default);
        Assert.Equal(HoldExpiry.After(Duration.FromHours(1)), HoldExpiry.After(Duration.FromMinutes(60)));
        Assert.NotEqual(HoldExpiry.Never, HoldExpiry.StoreDefault);
        Assert.Equal(Duration.FromHours(1), HoldExpiry.After(Duration.FromHours(1)).Duration);
        Assert.Null(HoldExpiry.Never.Instant);
        Assert.Equal("never", HoldExpiry.Never.ToString());
        Assert.Equal("expiry", Assert.Throws<InvalidInputException>(() => HoldExpiry.After(Duration.Zero)).Field);
    }
}
