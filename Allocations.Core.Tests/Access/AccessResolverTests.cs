using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using Xunit;

namespace Allocations.Tests.Access;

public class AccessResolverTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Principal Ada = Principal.User("ada");
    private static readonly Principal Outsider = Principal.User("outsider");

    private static async Task<(TestStore T, Allocation Parent, Allocation Child, Allocation Other)> SetUpAsync()
    {
        var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("Physics", 1000m);
        var child = await t.CreateAllocationAsync("Physics-lab", 400m, parent);
        var other = await t.CreateAllocationAsync("Chemistry", 1000m);
        await t.Store.CreateGroupAsync(Admin, t.Organization, "physicists");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "physicists", Ada.Id);
        return (t, parent, child, other);
    }

    [Fact]
    public async Task NewAllocation_IsVisibleToOrganizationAdminsOnly()
    {
        var (t, _, _, _) = await SetUpAsync();
        using var _ = t;
        Assert.Empty(await t.Store.ListAllocationsAsync(Ada, t.Organization));
        Assert.Equal(3, (await t.Store.ListAllocationsAsync(Admin, t.Organization)).Count);
        Assert.Equal(3, (await t.Store.ListAllocationsAsync(Principal.System, t.Organization)).Count);
    }

    [Fact]
    public async Task GrantOnParent_HoldsOnItsChildren_ButNotOnOtherAllocations()
    {
        var (t, parent, child, other) = await SetUpAsync();
        using var _ = t;
        await t.Store.GrantAsync(Admin, parent.Id, Grantee.Group("physicists"), AccessLevel.Use);

        Assert.Equal(["Physics", "Physics-lab"], (await t.Store.ListAllocationsAsync(Ada, t.Organization)).Select(a => a.Name));
        var recorded = await t.Store.RecordUsageAsync(Ada, TestStore.Cpu1(child, 1m, TestStore.November1, TestStore.November15));
        Assert.Equal("ada", recorded.Event.RecordedBy);
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.ChangeTotalAsync(Ada, child.Id, Amount.FromDecimal(1m), "no"));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsync(Ada, other.Id));
    }

    [Fact]
    public async Task HighestLevel_Wins_AcrossGroupsOrganizationWideAndParent()
    {
        var (t, parent, child, _) = await SetUpAsync();
        using var _ = t;
        await t.Store.CreateGroupAsync(Admin, t.Organization, "leads");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "leads", Ada.Id);
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Organization, AccessLevel.Read);
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("physicists"), AccessLevel.Use);
        await t.Store.GrantAsync(Admin, parent.Id, Grantee.Group("leads"), AccessLevel.Admin);

        await t.Store.ChangeTotalAsync(Ada, child.Id, Amount.FromDecimal(500m), "Admin through the parent");

        await t.Store.RevokeAsync(Admin, parent.Id, Grantee.Group("leads"));
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.ChangeTotalAsync(Ada, child.Id, Amount.FromDecimal(600m), "Use only now"));
        await t.Store.RecordUsageAsync(Ada, TestStore.Cpu1(child, 1m, TestStore.November1, TestStore.November15));
    }

    [Fact]
    public async Task OrganizationWideGrant_AppliesToGroupMembers_NotToOutsiders()
    {
        var (t, _, child, _) = await SetUpAsync();
        using var _ = t;
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Organization, AccessLevel.Read);

        Assert.Equal("Physics-lab", (await t.Store.GetAllocationAsync(Ada, child.Id)).Name);
        Assert.Empty(await t.Store.ListAllocationsAsync(Outsider, t.Organization));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsync(Outsider, child.Id));
    }

    [Fact]
    public async Task ChangingAGrant_ChangesTheLevel_AndListGrantsShowsInheritedOnes()
    {
        var (t, parent, child, _) = await SetUpAsync();
        using var _ = t;
        await t.Store.GrantAsync(Admin, parent.Id, Grantee.Organization, AccessLevel.Read);
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("physicists"), AccessLevel.Read);
        var changed = await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("PHYSICISTS"), AccessLevel.Admin);

        Assert.Equal(AccessLevel.Admin, changed.Level);
        var grants = await t.Store.ListGrantsAsync(Ada, child.Id);
        Assert.Equal(2, grants.Count);
        Assert.Equal((child.Id, Grantee.Group("physicists"), AccessLevel.Admin, false), (grants[0].Allocation, grants[0].Grantee, grants[0].Level, grants[0].Inherited));
        Assert.Equal((parent.Id, Grantee.Organization, AccessLevel.Read, true), (grants[1].Allocation, grants[1].Grantee, grants[1].Level, grants[1].Inherited));
        Assert.Equal("admin", grants[0].GrantedBy);
    }

    [Fact]
    public async Task AnAllocationAdmin_ThroughAGrant_MayShareIt_ButNotItsParent()
    {
        var (t, parent, child, _) = await SetUpAsync();
        using var _ = t;
        await t.Store.CreateGroupAsync(Admin, t.Organization, "students");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "students", "sam");
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("physicists"), AccessLevel.Admin);

        await t.Store.GrantAsync(Ada, child.Id, Grantee.Group("students"), AccessLevel.Read);

        Assert.Equal("Physics-lab", (await t.Store.GetAllocationAsync(Principal.User("sam"), child.Id)).Name);
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GrantAsync(Ada, parent.Id, Grantee.Group("students"), AccessLevel.Read));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GrantAsync(Ada, child.Id, Grantee.Group("nobody-knows"), AccessLevel.Read));
        await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.GrantAsync(Ada, child.Id, Grantee.Group("students"), AccessLevel.None));
        await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.GrantAsync(Ada, child.Id, default, AccessLevel.Read));
    }

    [Fact]
    public async Task ParentAdmin_CreatesChildren()
    {
        var (t, parent, _, _) = await SetUpAsync();
        using var _ = t;
        await t.Store.GrantAsync(Admin, parent.Id, Grantee.Group("physicists"), AccessLevel.Admin);
        var created = await t.Store.CreateAllocationAsync(Ada, t.Organization, new NewAllocation("Physics-theory", TestStore.CoreHours, Amount.FromDecimal(10m), parent.Id));
        Assert.Equal(parent.Id, created.ParentId);
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.CreateAllocationAsync(Ada, t.Organization, new NewAllocation("Top", TestStore.CoreHours, Amount.FromDecimal(10m))));
    }

    [Fact]
    public async Task RemovingAMember_TakesTheirAccessAway()
    {
        var (t, _, child, _) = await SetUpAsync();
        using var _ = t;
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("physicists"), AccessLevel.Read);
        Assert.True(await t.Store.RemoveGroupMemberAsync(Admin, t.Organization, "physicists", Ada.Id));
        Assert.False(await t.Store.RemoveGroupMemberAsync(Admin, t.Organization, "physicists", Ada.Id));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsync(Ada, child.Id));
    }

    [Fact]
    public async Task DeletingAGroup_RevokesItsGrants()
    {
        var (t, _, child, _) = await SetUpAsync();
        using var _ = t;
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("physicists"), AccessLevel.Use);
        Assert.Equal(1, await t.Store.DeleteGroupAsync(Admin, t.Organization, "physicists"));
        Assert.Empty(await t.Store.ListGrantsAsync(Admin, child.Id));
        Assert.Empty(await t.Store.ListGroupsAsync(Admin, t.Organization));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsync(Ada, child.Id));
    }

    [Theory, Engines]
    public async Task TheLastOrganizationAdmin_CannotBeRemoved(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var ex = await Assert.ThrowsAsync<ConflictException>(() => t.Store.RemoveOrganizationAdminAsync(Admin, t.Organization, Admin.Id));
        Assert.Contains("last admin", ex.Message);
        await t.Store.AddOrganizationAdminAsync(Admin, t.Organization, "bob");
        Assert.True(await t.Store.RemoveOrganizationAdminAsync(Principal.User("bob"), t.Organization, Admin.Id));
        Assert.Equal(["bob"], await t.Store.ListOrganizationAdminsAsync(Principal.User("bob"), t.Organization));
        Assert.False(await t.Store.RemoveOrganizationAdminAsync(Principal.User("bob"), t.Organization, "never-admin"));
        await Assert.ThrowsAsync<ConflictException>(() => t.Store.RemoveOrganizationAdminAsync(Principal.User("bob"), t.Organization, "bob"));
    }

    [Fact]
    public async Task Catalogue_IsReadableByAnyoneHoldingAGrant_AndWritableByAdminsOnly()
    {
        var (t, _, child, _) = await SetUpAsync();
        using var _ = t;
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.ListSkusAsync(Ada, t.Organization));
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("physicists"), AccessLevel.Read);
        Assert.Contains((await t.Store.ListSkusAsync(Ada, t.Organization)).Select(s => s.Code), c => c == TestStore.Cpu);
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.CreateSkuAsync(Ada, t.Organization, new SkuCode("X"), TestStore.CoreHours, RateBasis.PerHour));
    }

    [Fact]
    public async Task AHiddenAllocation_AndAMissingOne_GetTheSameAnswer()
    {
        var (t, _, child, _) = await SetUpAsync();
        using var _ = t;
        var hold = (await t.Store.ReserveAsync(Admin, TestStore.Cpu1(child, 1m, TestStore.November1, TestStore.November15, global::Allocations.Domain.UsageStatus.Estimated))).Event!;
        var missing = new AllocationId(987654);
        var missingEvent = new UsageEventId(987654);
        var calls = new (string Name, Func<AllocationId, UsageEventId, Task> Call)[]
        {
            ("get", (a, e) => t.Store.GetAllocationAsync(Ada, a)),
            ("total", (a, e) => t.Store.ChangeTotalAsync(Ada, a, Amount.FromDecimal(1m), "x")),
            ("history", (a, e) => t.Store.GetTotalHistoryAsync(Ada, a)),
            ("delete", (a, e) => t.Store.DeleteAllocationAsync(Ada, a)),
            ("record", (a, e) => t.Store.RecordUsageAsync(Ada, new UsageRecord(a, TestStore.Cpu, Quantity.FromDecimal(1m), TestStore.November1, TestStore.November15))),
            ("fit", (a, e) => t.Store.CheckFitAsync(Ada, new UsageRecord(a, TestStore.Cpu, Quantity.FromDecimal(1m), TestStore.November1, TestStore.November15))),
            ("grant", (a, e) => t.Store.GrantAsync(Ada, a, Grantee.Organization, AccessLevel.Read)),
            ("grants", (a, e) => t.Store.ListGrantsAsync(Ada, a)),
            ("journal", (a, e) => t.Store.GetAllocationJournalAsync(Ada, a)),
            ("event", (a, e) => t.Store.GetEventAsync(Ada, e)),
            ("confirm", (a, e) => t.Store.ConfirmAsync(Ada, e)),
            ("release", (a, e) => t.Store.ReleaseAsync(Ada, e)),
            ("delete event", (a, e) => t.Store.DeleteEventAsync(Ada, e)),
        };
        foreach (var (name, call) in calls)
        {
            var hidden = await Assert.ThrowsAsync<NotFoundException>(() => call(child.Id, hold.Id));
            var absent = await Assert.ThrowsAsync<NotFoundException>(() => call(missing, missingEvent));
            Assert.True(hidden.Kind == absent.Kind, name);
            Assert.Equal(absent.Message.Replace(absent.Key, "ID", StringComparison.Ordinal), hidden.Message.Replace(hidden.Key, "ID", StringComparison.Ordinal));
        }
    }

    [Theory, Engines]
    public async Task AnOrganizationTheCallerHasNothingToDoWith_IsNotFound_LikeAMissingOne(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var hidden = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.ListSkusAsync(Outsider, t.Organization));
        var absent = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.ListSkusAsync(Outsider, new OrganizationId(4242)));
        Assert.Equal(absent.Message.Replace(absent.Key, "ID", StringComparison.Ordinal), hidden.Message.Replace(hidden.Key, "ID", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnExternalKeyUsedInAHiddenAllocation_IsAConflictThatNamesNoAllocation()
    {
        var (t, _, child, other) = await SetUpAsync();
        using var _ = t;
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("physicists"), AccessLevel.Use);
        await t.Store.GrantAsync(Admin, other.Id, Grantee.Group("physicists"), AccessLevel.Use);
        // Keys are scoped by source: the caller's own key, on an allocation it has since lost access to.
        await t.Store.RecordUsageAsync(Ada, TestStore.Cpu1(other, 1m, TestStore.November1, TestStore.November15, global::Allocations.Domain.UsageStatus.Estimated, "job-7"));
        await t.Store.RevokeAsync(Admin, other.Id, Grantee.Group("physicists"));
        var before = t.ContentHash();

        var ex = await Assert.ThrowsAsync<ConflictException>(() => t.Store.RecordUsageAsync(Ada, TestStore.Cpu1(child, 1m, TestStore.November1, TestStore.November15, global::Allocations.Domain.UsageStatus.Estimated, "job-7")));

        Assert.DoesNotContain(other.Id.ToString(), ex.Message);
        Assert.DoesNotContain("Chemistry", ex.Message);
        Assert.Equal(before, t.ContentHash());
    }

    [Fact]
    public async Task AnotherPrincipalsKey_InAHiddenAllocation_NeitherBlocksNorRevealsAnything()
    {
        var (t, _, child, other) = await SetUpAsync();
        using var _ = t;
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("physicists"), AccessLevel.Use);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(other, 1m, TestStore.November1, TestStore.November15, global::Allocations.Domain.UsageStatus.Estimated, "job-7"));

        var mine = await t.Store.RecordUsageAsync(Ada, TestStore.Cpu1(child, 1m, TestStore.November1, TestStore.November15, global::Allocations.Domain.UsageStatus.Estimated, "job-7"));

        Assert.Equal(global::Allocations.Domain.RecordDisposition.Recorded, mine.Disposition);
        Assert.Equal(child.Id, mine.Event.Allocation);
    }
}
