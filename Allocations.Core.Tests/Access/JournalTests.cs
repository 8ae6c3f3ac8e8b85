using System.Text.Json;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Access;

public class JournalTests
{
    private static readonly Principal Admin = TestStore.Admin;

    private static async Task<(TestStore Store, Allocation Parent, Allocation Child)> SetUpAsync(Engine engine = Engine.Sqlite)
    {
        var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("Physics", 1000m);
        var child = await t.CreateAllocationAsync("Physics-lab", 400m, parent);
        return (t, parent, child);
    }

    private static async Task<List<JournalEntry>> AllEntriesAsync(TestStore t) =>
        (await t.Store.GetOrganizationJournalAsync(Admin, t.Organization, 0, 10_000)).ToList();

    [Theory, Engines]
    public async Task EveryKindOfChange_AppendsOneEntry_WithActorClockTimeAndTarget(Engine engine)
    {
        var (t, parent, child) = await SetUpAsync(engine);
        using var _ = t;
        var s = t.Store;
        await s.CreateGroupAsync(Admin, t.Organization, "physicists");
        await s.AddGroupMemberAsync(Admin, t.Organization, "physicists", "ada");
        await s.GrantAsync(Admin, parent.Id, Grantee.Group("physicists"), AccessLevel.Use);
        await s.GrantAsync(Admin, parent.Id, Grantee.Group("physicists"), AccessLevel.Admin);
        t.Clock.Advance(Duration.FromMinutes(5));
        var start = TestStore.November15 - Duration.FromHours(1);
        var ada = Principal.User("ada");
        var recorded = await s.RecordUsageAsync(ada, TestStore.Cpu1(child, 2m, start, TestStore.November15, UsageStatus.Estimated, "job-1"));
        await s.RecordUsageAsync(ada, TestStore.Cpu1(child, 3m, start, TestStore.November15, UsageStatus.Estimated, "job-1"));
        await s.RecordUsageAsync(ada, TestStore.Cpu1(child, 3m, start, TestStore.November15, UsageStatus.Estimated, "job-1"));
        await s.ConfirmAsync(ada, recorded.Event.Id);
        var hold = (await s.ReserveAsync(ada, TestStore.Cpu1(child, 1m, start, TestStore.November15, UsageStatus.Estimated))).Event!;
        await s.ReleaseAsync(ada, hold.Id);
        await s.DeleteEventAsync(ada, recorded.Event.Id);
        await s.ChangeTotalAsync(ada, child.Id, Amount.FromDecimal(450m), "top-up");
        await s.RevokeAsync(Admin, parent.Id, Grantee.Group("physicists"));
        await s.RemoveGroupMemberAsync(Admin, t.Organization, "physicists", "ada");
        await s.AddOrganizationAdminAsync(Admin, t.Organization, "bob");
        await s.RemoveOrganizationAdminAsync(Admin, t.Organization, "bob");
        await s.DeleteGroupAsync(Admin, t.Organization, "physicists");

        var entries = await AllEntriesAsync(t);
        var tail = entries.SkipWhile(e => e.Action != "group.create").Select(e => e.Action).ToList();
        Assert.Equal(
            [
                "group.create", "group.member.add", "grant.set", "grant.set", "usage.record", "usage.replace", "usage.confirm",
                "usage.record", "usage.release", "usage.delete", "allocation.total", "grant.revoke", "group.member.remove",
                "organization.admin.add", "organization.admin.remove", "group.delete",
            ],
            tail);
        // The set-up wrote the organization, its catalogue and both allocations before that.
        Assert.Equal(
            ["organization.create", "unit.create", "sku.create", "rate.add", "rate.add", "sku.create", "rate.add", "sku.create", "rate.add", "rate.add", "allocation.create", "allocation.create"],
            entries.TakeWhile(e => e.Action != "group.create").Select(e => e.Action));

        var record = entries.First(e => e.Action == "usage.record");
        Assert.Equal("user:ada", record.Actor);
        Assert.Equal(t.Clock.GetCurrentInstant(), record.At);
        Assert.Equal(child.Id, record.Allocation);
        Assert.Equal(recorded.Event.Id.ToString(), record.Target);
        Assert.Null(record.Before);
        using (var after = JsonDocument.Parse(record.After!))
        {
            Assert.Equal("Estimated", after.RootElement.GetProperty("status").GetString());
            Assert.Equal("job-1", after.RootElement.GetProperty("externalKey").GetString());
            Assert.Equal(recorded.Event.Amount.ToDecimal(), decimal.Parse(after.RootElement.GetProperty("amount").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        }
        var total = entries.Single(e => e.Action == "allocation.total");
        Assert.Equal("400", JsonDocument.Parse(total.Before!).RootElement.GetProperty("total").GetString());
        Assert.Equal("450", JsonDocument.Parse(total.After!).RootElement.GetProperty("total").GetString());
        Assert.Equal("top-up", JsonDocument.Parse(total.After!).RootElement.GetProperty("reason").GetString());
        var change = entries.Where(e => e.Action == "grant.set").Last();
        Assert.Equal("Use", JsonDocument.Parse(change.Before!).RootElement.GetProperty("level").GetString());
        Assert.Equal("Admin", JsonDocument.Parse(change.After!).RootElement.GetProperty("level").GetString());
        // No entry for the repeat that changed nothing.
        Assert.Single(entries, e => e.Action == "usage.replace");
    }

    [Theory, Engines]
    public async Task Entries_AreChained_AndVerificationHoldsOnAnUntouchedStore(Engine engine)
    {
        var (t, _, child) = await SetUpAsync(engine);
        using var _ = t;
        await t.Store.RecordBatchAsync(Admin, Enumerable.Range(0, 20).Select(i => TestStore.Cpu1(child, i, TestStore.November1, TestStore.November15, key: "k" + i)).ToList());
        var entries = await AllEntriesAsync(t);
        Assert.Equal(new string('0', 64), entries[0].PreviousHash);
        for (var i = 1; i < entries.Count; i++)
        {
            Assert.Equal(entries[i - 1].Hash, entries[i].PreviousHash);
            Assert.True(entries[i].Sequence > entries[i - 1].Sequence);
        }
        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(verification.IsIntact, verification.Problem);
        Assert.Equal(entries.Count, verification.EntriesChecked);
        Assert.Equal(entries[^1].Hash, verification.HeadHash);
    }

    [Theory, Engines]
    public async Task EditingAnEntryWithPlainSql_IsDetected_AndTheEntryNamed(Engine engine)
    {
        var (t, _, child) = await SetUpAsync(engine);
        using var _ = t;
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 4m, TestStore.November1, TestStore.November15));
        await t.Store.ChangeTotalAsync(Admin, child.Id, Amount.FromDecimal(9000m), "purchase");
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 1m, TestStore.November1, TestStore.November15));
        var entries = await AllEntriesAsync(t);
        var target = entries.Single(e => e.Action == "allocation.total");
        t.Raw($"UPDATE journal SET after = replace(after, '9000', '90') WHERE id = {target.Sequence}", scalar: false);

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);

        Assert.False(verification.IsIntact);
        Assert.Equal(target.Sequence, verification.FirstBrokenSequence);
        Assert.Contains("edited", verification.Problem);
        Assert.Null(verification.HeadHash);
    }

    [Theory]
    [EngineData("actor = 'mallory'")]
    [EngineData("at_ns = at_ns + 1")]
    [EngineData("action = 'usage.delete'")]
    [EngineData("target = 'event:999'")]
    [EngineData("before = '{}'")]
    [EngineData("allocation_id = NULL")]
    public async Task EditingAnyColumn_IsDetected(string assignment, Engine engine)
    {
        var (t, _, child) = await SetUpAsync(engine);
        using var _ = t;
        var recorded = await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 4m, TestStore.November1, TestStore.November15, UsageStatus.Estimated));
        await t.Store.ConfirmAsync(Admin, recorded.Event.Id, Quantity.FromDecimal(5m));
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 1m, TestStore.November1, TestStore.November15));
        var target = (await AllEntriesAsync(t)).Single(e => e.Action == "usage.confirm");
        t.Raw($"UPDATE journal SET {assignment} WHERE id = {target.Sequence}", scalar: false);

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);

        Assert.Equal(target.Sequence, verification.FirstBrokenSequence);
    }

    [Theory, Engines]
    public async Task RemovingAnEntry_IsDetectedAtTheEntryAfterIt(Engine engine)
    {
        var (t, _, child) = await SetUpAsync(engine);
        using var _ = t;
        for (var i = 0; i < 3; i++)
        {
            await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 1m + i, TestStore.November1, TestStore.November15));
        }
        var records = (await AllEntriesAsync(t)).Where(e => e.Action == "usage.record").ToList();
        t.Raw($"DELETE FROM journal WHERE id = {records[1].Sequence}", scalar: false);

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);

        Assert.Equal(records[2].Sequence, verification.FirstBrokenSequence);
        Assert.Contains("does not link", verification.Problem);
    }

    [Theory, Engines]
    public async Task RechainingAnEditedEntry_IsStillDetectedAtTheNextEntry(Engine engine)
    {
        // An attacker who edits an entry and recomputes its hash breaks the next entry's link instead.
        var (t, _, child) = await SetUpAsync(engine);
        using var _ = t;
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 1m, TestStore.November1, TestStore.November15));
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 2m, TestStore.November1, TestStore.November15));
        var records = (await AllEntriesAsync(t)).Where(e => e.Action == "usage.record").ToList();
        t.Raw($"UPDATE journal SET hash = {(engine == Engine.Sqlite ? "zeroblob(32)" : "decode(repeat('00', 32), 'hex')")} WHERE id = {records[0].Sequence}", scalar: false);

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);

        Assert.Equal(records[0].Sequence, verification.FirstBrokenSequence);
    }

    [Theory, Engines]
    public async Task DeletingAnAllocation_KeepsTheDeletionEntryWithItsFinalFigures(Engine engine)
    {
        var (t, parent, child) = await SetUpAsync(engine);
        using var _ = t;
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 4m, TestStore.November1, TestStore.November1 + Duration.FromHours(10)));
        await t.Store.CreateGroupAsync(Admin, t.Organization, "lab");
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("lab"), AccessLevel.Use);

        Assert.Equal(2, await t.Store.DeleteAllocationAsync(Admin, parent.Id, cascade: true));

        var entries = await AllEntriesAsync(t);
        var deletions = entries.Where(e => e.Action == "allocation.delete").ToList();
        Assert.Equal([child.Id, parent.Id], deletions.Select(e => e.Allocation!.Value));
        using var final = JsonDocument.Parse(deletions[0].Before!);
        Assert.Equal("40", final.RootElement.GetProperty("used").GetString());
        Assert.Equal("400", final.RootElement.GetProperty("total").GetString());
        Assert.Equal(1, final.RootElement.GetProperty("events").GetInt64());
        Assert.Equal("group:lab=Use", final.RootElement.GetProperty("grants")[0].GetString());
        Assert.StartsWith("cascade", JsonDocument.Parse(deletions[0].After!).RootElement.GetProperty("cause").GetString());
        Assert.Equal("40", JsonDocument.Parse(deletions[1].Before!).RootElement.GetProperty("used").GetString());
        // The allocation's earlier entries stay in the organization's journal, and the chain still holds.
        Assert.Contains(entries, e => e.Action == "usage.record" && e.Allocation == child.Id);
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
    }

    [Theory, Engines]
    public async Task DeletingAChild_JournalsTheParentsFigures(Engine engine)
    {
        var (t, parent, child) = await SetUpAsync(engine);
        using var _ = t;
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 1m, TestStore.November1, TestStore.November1 + Duration.FromHours(10)));
        await t.Store.DeleteAllocationAsync(Admin, child.Id);

        var entry = (await t.Store.GetAllocationJournalAsync(Admin, parent.Id)).Single(e => e.Action == "allocation.child-deleted");
        Assert.Equal("10", JsonDocument.Parse(entry.Before!).RootElement.GetProperty("used").GetString());
        Assert.Equal("0", JsonDocument.Parse(entry.After!).RootElement.GetProperty("used").GetString());
    }

    [Theory, Engines]
    public async Task AllocationAdmins_ReadItsEntries_UseHoldersDoNot(Engine engine)
    {
        var (t, parent, child) = await SetUpAsync(engine);
        using var _ = t;
        await t.Store.CreateGroupAsync(Admin, t.Organization, "leads");
        await t.Store.CreateGroupAsync(Admin, t.Organization, "users");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "leads", "lead");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "users", "user");
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("leads"), AccessLevel.Admin);
        await t.Store.GrantAsync(Admin, child.Id, Grantee.Group("users"), AccessLevel.Use);
        await t.Store.RecordUsageAsync(Principal.User("user"), TestStore.Cpu1(child, 1m, TestStore.November1, TestStore.November15));

        var entries = await t.Store.GetAllocationJournalAsync(Principal.User("lead"), child.Id);

        Assert.Equal(["allocation.create", "grant.set", "grant.set", "usage.record"], entries.Select(e => e.Action));
        Assert.All(entries, e => Assert.Equal(child.Id, e.Allocation));
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.GetAllocationJournalAsync(Principal.User("user"), child.Id));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationJournalAsync(Principal.User("lead"), parent.Id));
        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.GetOrganizationJournalAsync(Principal.User("lead"), t.Organization));
    }

    [Theory, Engines]
    public async Task Pages_FollowTheSequence(Engine engine)
    {
        var (t, _, child) = await SetUpAsync(engine);
        using var _ = t;
        var all = await AllEntriesAsync(t);
        var first = await t.Store.GetOrganizationJournalAsync(Admin, t.Organization, 0, 5);
        var second = await t.Store.GetOrganizationJournalAsync(Admin, t.Organization, first[^1].Sequence, 5);
        Assert.Equal(all.Take(10).Select(e => e.Sequence), first.Concat(second).Select(e => e.Sequence));
        await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.GetOrganizationJournalAsync(Admin, t.Organization, 0, 0));
    }

    [Theory, Engines]
    public async Task Organizations_HaveSeparateChains(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var other = await t.Store.CreateOrganizationAsync(Principal.System, "Other", "olga");
        await t.Store.CreateUnitAsync(Principal.User("olga"), other.Id, new UnitCode("credits"), 0);
        var mine = await AllEntriesAsync(t);
        var theirs = await t.Store.GetOrganizationJournalAsync(Principal.User("olga"), other.Id);
        Assert.Equal(["organization.create", "unit.create"], theirs.Select(e => e.Action));
        Assert.Equal(new string('0', 64), theirs[0].PreviousHash);
        Assert.DoesNotContain(mine, e => e.Organization == other.Id);
        t.Raw($"UPDATE journal SET actor = 'x' WHERE id = {theirs[1].Sequence}", scalar: false);
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
        Assert.Equal(theirs[1].Sequence, (await t.Store.VerifyJournalAsync(Principal.User("olga"), other.Id)).FirstBrokenSequence);
    }

    [Theory, Engines]
    public async Task TwoStoresOnOneStore_WritingAtOnce_KeepOneUnbrokenChain(Engine engine)
    {
        var (t, parent, child) = await SetUpAsync(engine);
        using var _ = t;
        // Reopen first so the file's header is checkpointed: opening a second store on a file whose header still sits
        // only in the WAL is refused by the core's header check (reported separately).
        await t.ReopenAsync();
        using var second = await t.OpenAnotherAsync();
        async Task WriteAsync(AllocationStore store, Allocation target, string prefix)
        {
            for (var i = 0; i < 25; i++)
            {
                await store.RecordUsageAsync(Admin, TestStore.Cpu1(target, 1m, TestStore.November1, TestStore.November15, key: prefix + i));
            }
        }

        await Task.WhenAll(Task.Run(() => WriteAsync(t.Store, parent, "a")), Task.Run(() => WriteAsync(second, child, "b")));

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(verification.IsIntact, verification.Problem);
        Assert.Equal(50, (await AllEntriesAsync(t)).Count(e => e.Action == "usage.record"));
    }
}
