using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reporting;

public class StreamedReadTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Principal Bob = Principal.User("bob");
    private static readonly Instant Nov1 = TestStore.November1;

    private static async Task<(TestStore Store, Allocation Allocation)> WithEventsAsync(int count, Engine engine = Engine.Sqlite)
    {
        var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 10_000m);
        var records = Enumerable.Range(0, count).Select(i => TestStore.Cpu1(a, 1m, Nov1 + Duration.FromHours(i % 7), Nov1 + Duration.FromHours(i % 7 + 1))).ToList();
        await t.Store.RecordBatchAsync(Admin, records);
        return (t, a);
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
        {
            list.Add(item);
        }
        return list;
    }

    private static async Task GrantBobReadAsync(TestStore t, Allocation a)
    {
        await t.Store.CreateGroupAsync(Admin, t.Organization, "readers");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "readers", Bob.Id);
        await t.Store.GrantAsync(Admin, a.Id, Grantee.Group("readers"), AccessLevel.Read);
    }

    [Theory]
    [EngineData(1, EventOrder.NewestFirst)]
    [EngineData(4, EventOrder.OldestFirst)]
    [EngineData(23, EventOrder.NewestFirst)]
    [EngineData(100, EventOrder.OldestFirst)]
    public async Task ReadEvents_YieldsExactlyTheListingsEvents_InItsOrder(int pageSize, EventOrder order, Engine engine)
    {
        var (t, a) = await WithEventsAsync(23, engine);
        using var _ = t;
        var whole = await t.Store.ListEventsAsync(Admin, a.Id, new EventQuery(order: order, pageSize: 1000));

        var streamed = await ToListAsync(t.Store.ReadEventsAsync(Admin, a.Id, new EventQuery(order: order, pageSize: pageSize)));

        Assert.Equal(23, whole.Events.Count);
        Assert.Equal(whole.Events.Select(e => e.Id), streamed.Select(e => e.Id));
    }

    [Theory, Engines]
    public async Task ReadEvents_HonoursTheFiltersAndTheStartingCursor(Engine engine)
    {
        var (t, a) = await WithEventsAsync(10, engine);
        using var _ = t;
        var all = await ToListAsync(t.Store.ReadEventsAsync(Admin, a.Id, new EventQuery(order: EventOrder.OldestFirst, pageSize: 3)));
        var cursor = new EventCursor(all[3].Interval.Start, all[3].Id);

        var rest = await ToListAsync(t.Store.ReadEventsAsync(Admin, a.Id, new EventQuery(order: EventOrder.OldestFirst, pageSize: 3, after: cursor)));
        var late = await ToListAsync(t.Store.ReadEventsAsync(Admin, a.Id, new EventQuery(from: Nov1 + Duration.FromHours(5), pageSize: 2)));

        Assert.Equal(all.Skip(4).Select(e => e.Id), rest.Select(e => e.Id));
        Assert.NotEmpty(late);
        Assert.All(late, e => Assert.True(e.Interval.End > Nov1 + Duration.FromHours(5)));
    }

    [Theory, Engines]
    public async Task ReadEvents_AnInvalidQuery_IsRefusedByTheCallItself(Engine engine)
    {
        var (t, a) = await WithEventsAsync(1, engine);
        using var _ = t;
        var ex = Assert.Throws<InvalidInputException>(() => t.Store.ReadEventsAsync(Admin, a.Id, new EventQuery(pageSize: 0)));
        Assert.Equal("pageSize", ex.Field, ignoreCase: true);
    }

    [Theory, Engines]
    public async Task ReadEvents_WithoutRead_YieldsNothing_AndSaysNotFound(Engine engine)
    {
        var (t, a) = await WithEventsAsync(3, engine);
        using var _ = t;
        var seen = new List<UsageEvent>();
        await Assert.ThrowsAsync<NotFoundException>(async () =>
        {
            await foreach (var e in t.Store.ReadEventsAsync(Bob, a.Id))
            {
                seen.Add(e);
            }
        });
        Assert.Empty(seen);
    }

    [Theory, Engines]
    public async Task ReadEvents_AccessRevokedWhileStreaming_EndsTheStreamAtTheNextPage(Engine engine)
    {
        var (t, a) = await WithEventsAsync(5, engine);
        using var _ = t;
        await GrantBobReadAsync(t, a);
        var seen = new List<UsageEvent>();

        await Assert.ThrowsAsync<NotFoundException>(async () =>
        {
            await foreach (var e in t.Store.ReadEventsAsync(Bob, a.Id, new EventQuery(pageSize: 2)))
            {
                seen.Add(e);
                if (seen.Count == 1)
                {
                    await t.Store.RevokeAsync(Admin, a.Id, Grantee.Group("readers"));
                }
            }
        });
        Assert.Equal(2, seen.Count); // the first page was read while Bob could; the second was refused
    }

    [Theory, Engines]
    public async Task ReadEvents_Cancelled_StopsAtTheNextPage(Engine engine)
    {
        var (t, a) = await WithEventsAsync(6, engine);
        using var _ = t;
        using var cts = new CancellationTokenSource();
        var seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in t.Store.ReadEventsAsync(Admin, a.Id, new EventQuery(pageSize: 2)).WithCancellation(cts.Token))
            {
                seen++;
                await cts.CancelAsync();
            }
        });
        Assert.Equal(2, seen);
    }

    [Theory, Engines]
    public async Task ReadJournals_YieldEveryEntryOnce_OldestFirst_AcrossPages(Engine engine)
    {
        var (t, a) = await WithEventsAsync(4, engine);
        using var _ = t;
        var other = await t.CreateAllocationAsync("Chemistry", 10m);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(other, 1m, Nov1, Nov1 + Duration.FromHours(1)));
        var whole = await t.Store.GetOrganizationJournalAsync(Admin, t.Organization, limit: 10_000);

        var organization = await ToListAsync(t.Store.ReadOrganizationJournalAsync(Admin, t.Organization, pageSize: 3));
        var fromFifth = await ToListAsync(t.Store.ReadOrganizationJournalAsync(Admin, t.Organization, afterSequence: whole[4].Sequence, pageSize: 2));
        var allocation = await ToListAsync(t.Store.ReadAllocationJournalAsync(Admin, a.Id, pageSize: 1));
        var allocationWhole = await t.Store.GetAllocationJournalAsync(Admin, a.Id, limit: 10_000);

        Assert.True(whole.Count > 6, $"{whole.Count} entries");
        Assert.Equal(whole.Select(e => e.Sequence), organization.Select(e => e.Sequence));
        Assert.Equal(whole.Skip(5).Select(e => e.Sequence), fromFifth.Select(e => e.Sequence));
        Assert.Equal(allocationWhole.Select(e => e.Sequence), allocation.Select(e => e.Sequence));
        Assert.All(allocation, e => Assert.Equal(a.Id, e.Allocation));
        Assert.Throws<InvalidInputException>(() => t.Store.ReadOrganizationJournalAsync(Admin, t.Organization, pageSize: 0));
    }

    [Theory, Engines]
    public async Task ReadJournal_ForANonAdmin_IsRefusedBeforeTheFirstEntry(Engine engine)
    {
        var (t, a) = await WithEventsAsync(2, engine);
        using var _ = t;
        await GrantBobReadAsync(t, a);
        var seen = 0;
        await Assert.ThrowsAsync<AccessDeniedException>(async () =>
        {
            await foreach (var e in t.Store.ReadAllocationJournalAsync(Bob, a.Id))
            {
                seen++;
            }
        });
        Assert.Equal(0, seen);
    }
}
