using System.Text.Json;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Access;

/// <summary>No journal read shows what its reader may not Read, and the system actor is always told apart from a
/// host user named <c>system</c>.</summary>
public class JournalVisibilityTests
{
    private static readonly Principal Mover = Principal.User("mover");

    [Theory, Engines]
    public async Task AnEventMovedBetweenAllocations_ShowsEachAllocationOnlyItsOwnSide(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        var b = await t.CreateAllocationAsync("B", 100m);
        var s = t.Store;
        await s.CreateGroupAsync(TestStore.Admin, t.Organization, "movers");
        await s.AddGroupMemberAsync(TestStore.Admin, t.Organization, "movers", "mover");
        await s.GrantAsync(TestStore.Admin, a.Id, Grantee.Group("movers"), AccessLevel.Use);
        await s.GrantAsync(TestStore.Admin, b.Id, Grantee.Group("movers"), AccessLevel.Use);
        await s.CreateGroupAsync(TestStore.Admin, t.Organization, "a-admins");
        await s.AddGroupMemberAsync(TestStore.Admin, t.Organization, "a-admins", "alice");
        await s.GrantAsync(TestStore.Admin, a.Id, Grantee.Group("a-admins"), AccessLevel.Admin);
        var alice = Principal.User("alice");
        var hold = TestStore.Cpu1(b, 1m, TestStore.November1, TestStore.November1 + Duration.FromHours(1), UsageStatus.Estimated, "secret-job");
        var inB = await s.RecordUsageAsync(Mover, hold.With(attributes: new Dictionary<string, string> { ["project"] = "b-secret" }));

        var moved = await s.RecordUsageAsync(Mover, hold.With(allocation: a.Id, quantity: Quantity.FromDecimal(2m)));

        Assert.Equal(RecordDisposition.Replaced, moved.Disposition);
        var journalOfA = await s.GetAllocationJournalAsync(alice, a.Id);
        var arrival = Assert.Single(journalOfA, e => e.Target == inB.Event.Id.ToString());
        Assert.Equal("usage.move-in", arrival.Action);
        Assert.Null(arrival.Before);
        Assert.DoesNotContain("b-secret", arrival.After!);
        Assert.Equal(a.Id.Value, JsonDocument.Parse(arrival.After!).RootElement.GetProperty("allocation").GetInt64());
        foreach (var entry in journalOfA)
        {
            Assert.DoesNotContain("b-secret", (entry.Before ?? "") + (entry.After ?? ""));
            Assert.DoesNotContain($"\"allocation\":{b.Id.Value}", (entry.Before ?? "") + (entry.After ?? ""));
        }

        var journalOfB = await s.GetAllocationJournalAsync(TestStore.Admin, b.Id);
        var departure = journalOfB.Last();
        Assert.Equal("usage.move-out", departure.Action);
        Assert.Null(departure.After);
        Assert.Contains("b-secret", departure.Before!);

        var organization = await s.GetOrganizationJournalAsync(TestStore.Admin, t.Organization);
        Assert.Equal(["usage.move-out", "usage.move-in"], organization.TakeLast(2).Select(e => e.Action));
        Assert.Equal([b.Id, a.Id], organization.TakeLast(2).Select(e => e.Allocation!.Value));
        Assert.True((await s.VerifyJournalAsync(TestStore.Admin, t.Organization)).IsIntact);
    }

    [Theory, Engines]
    public async Task ABatchOverTwoAllocations_ShowsAnAdminOfOneOnlyItsPart(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        var b = await t.CreateAllocationAsync("B", 100m);
        var s = t.Store;
        await s.CreateGroupAsync(TestStore.Admin, t.Organization, "a-admins");
        await s.AddGroupMemberAsync(TestStore.Admin, t.Organization, "a-admins", "alice");
        await s.GrantAsync(TestStore.Admin, a.Id, Grantee.Group("a-admins"), AccessLevel.Admin);
        var alice = Principal.User("alice");
        var hour = TestStore.November1 + Duration.FromHours(1);
        var batch = await s.RecordBatchAsync(TestStore.Admin, [
            TestStore.Cpu1(a, 1m, TestStore.November1, hour, key: "a-job"),
            TestStore.Cpu1(b, 7m, TestStore.November1, hour, key: "b-secret-job"),
            TestStore.Cpu1(a, 2m, TestStore.November1, hour, key: "a-job-2"),
        ]);

        var entry = Assert.Single(await s.GetAllocationJournalAsync(alice, a.Id), e => e.Action == "usage.batch");

        Assert.Equal(a.Id, entry.Allocation);
        using var json = JsonDocument.Parse(entry.After!);
        Assert.Equal(2, json.RootElement.GetProperty("events").GetInt64());
        var part = Assert.Single(json.RootElement.GetProperty("parts").EnumerateArray());
        Assert.Equal(a.Id.Value, part.GetProperty("allocation").GetInt64());
        Assert.Equal("3", part.GetProperty("amount").GetString());
        Assert.DoesNotContain($"\"allocation\":{b.Id.Value}", entry.After!);
        Assert.DoesNotContain("\"7\"", entry.After!);
        Assert.DoesNotContain("secret", entry.After! + entry.Target);
        await Assert.ThrowsAsync<Allocations.Exceptions.NotFoundException>(() => s.GetAllocationJournalAsync(alice, b.Id));
        // The organization's journal shows the whole entry to an organization admin.
        var whole = Assert.Single(await s.GetOrganizationJournalAsync(TestStore.Admin, t.Organization), e => e.Action == "usage.batch");
        Assert.Equal(entry.Sequence, whole.Sequence);
        Assert.Equal(2, JsonDocument.Parse(whole.After!).RootElement.GetProperty("parts").GetArrayLength());
        Assert.Equal($"{batch.EventIds[0]}..{batch.EventIds[2]}", whole.Target);
    }

    [Theory, Engines]
    public async Task TheSystemActorAndAUserNamedSystem_AreToldApartInTheJournalAndTheTotalHistory(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100m);
        await t.Store.AddOrganizationAdminAsync(TestStore.Admin, t.Organization, "system");
        var impostor = Principal.User("system");

        await t.Store.ChangeTotalAsync(Principal.System, a.Id, Amount.FromDecimal(200m), "by the system actor");
        await t.Store.ChangeTotalAsync(impostor, a.Id, Amount.FromDecimal(300m), "by a user named system");

        var history = await t.Store.GetTotalHistoryAsync(TestStore.Admin, a.Id);
        Assert.Equal(["system", "user:system"], history.Select(h => h.Actor));
        var journal = (await t.Store.GetAllocationJournalAsync(TestStore.Admin, a.Id)).Where(e => e.Action == "allocation.total").ToList();
        Assert.Equal(["system", "user:system"], journal.Select(e => e.Actor));
        var created = (await t.Store.GetOrganizationJournalAsync(TestStore.Admin, t.Organization)).First();
        Assert.Equal(("organization.create", "system"), (created.Action, created.Actor));
        Assert.Equal("user:admin", (await t.Store.GetAllocationJournalAsync(TestStore.Admin, a.Id)).First().Actor);
    }
}
