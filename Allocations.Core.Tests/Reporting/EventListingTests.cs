using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reporting;

public class EventListingTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Nov1 = TestStore.November1;

    private static async Task<List<UsageEvent>> AllPages(AllocationStore store, AllocationId allocation, EventQuery query)
    {
        var all = new List<UsageEvent>();
        var page = await store.ListEventsAsync(Admin, allocation, query);
        all.AddRange(page.Events);
        while (page.Next is { } next)
        {
            page = await store.ListEventsAsync(Admin, allocation, query.WithAfter(next));
            all.AddRange(page.Events);
        }
        return all;
    }

    [Theory, Engines]
    public async Task Pages_NewestFirst_AndOldestFirst_VisitEveryEventOnceInOrder(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 10_000m);
        var records = Enumerable.Range(0, 57).Select(i => TestStore.Cpu1(a, 1m, Nov1 + Duration.FromHours(i % 13), Nov1 + Duration.FromHours(i % 13 + 1))).ToList();
        await t.Store.RecordBatchAsync(Admin, records);

        var newest = await AllPages(t.Store, a.Id, new EventQuery(pageSize: 10));
        Assert.Equal(57, newest.Select(e => e.Id).Distinct().Count());
        Assert.Equal(newest.OrderByDescending(e => e.Interval.Start).ThenByDescending(e => e.Id.Value).Select(e => e.Id), newest.Select(e => e.Id));
        var oldest = await AllPages(t.Store, a.Id, new EventQuery(order: EventOrder.OldestFirst, pageSize: 7));
        Assert.Equal(newest.Select(e => e.Id).Reverse(), oldest.Select(e => e.Id));
        Assert.All(oldest, e => Assert.Single(e.Segments));
    }

    [Theory, Engines]
    public async Task Pages_WithATimeRange_MatchOneBigPage_InBothOrders(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 10_000m);
        var records = Enumerable.Range(0, 80).Select(i => TestStore.Cpu1(a, 1m, Nov1 + Duration.FromMinutes(i * 37 % 1440), Nov1 + Duration.FromMinutes(i * 37 % 1440 + 45))).ToList();
        await t.Store.RecordBatchAsync(Admin, records);
        foreach (var order in new[] { EventOrder.NewestFirst, EventOrder.OldestFirst })
        {
            var range = new EventQuery(Nov1 + Duration.FromHours(5), Nov1 + Duration.FromHours(17), order: order);
            var whole = (await t.Store.ListEventsAsync(Admin, a.Id, range.WithPageSize(1000))).Events.Select(e => e.Id).ToList();
            var paged = (await AllPages(t.Store, a.Id, range.WithPageSize(4))).Select(e => e.Id).ToList();
            Assert.True(whole.Count > 20);
            Assert.Equal(whole, paged);
        }
    }

    [Theory, Engines]
    public async Task Filters_ByTimeSkuStatusAndAttribute_KeepOnlyMatchingEvents(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 10_000m);
        var day = Duration.FromDays(1);
        await t.Store.RecordUsageAsync(Admin, ReportFixture.Event(a, TestStore.Cpu, 1m, Nov1, Nov1 + day, user: "ada", project: "p1"));
        await t.Store.RecordUsageAsync(Admin, ReportFixture.Event(a, TestStore.Gpu, 1m, Nov1 + day, Nov1 + 2 * day, UsageStatus.Estimated, user: "bob"));
        await t.Store.RecordUsageAsync(Admin, ReportFixture.Event(a, TestStore.Cpu, 1m, Nov1 + 3 * day, Nov1 + 3 * day, user: "ada", project: "p2"));

        Assert.Equal(2, (await AllPages(t.Store, a.Id, new EventQuery(sku: TestStore.Cpu))).Count);
        Assert.Single(await AllPages(t.Store, a.Id, new EventQuery(status: UsageStatus.Estimated)));
        Assert.Equal(2, (await AllPages(t.Store, a.Id, new EventQuery(attributes: new Dictionary<string, string> { ["user"] = "ada" }))).Count);
        Assert.Single(await AllPages(t.Store, a.Id, new EventQuery(attributes: new Dictionary<string, string> { ["user"] = "ada", ["project"] = "p2" })));
        // Overlap: [Nov1 + 12h, Nov1 + 36h) touches the first two; the zero-length event counts where its instant lies.
        Assert.Equal(2, (await AllPages(t.Store, a.Id, new EventQuery(Nov1 + Duration.FromHours(12), Nov1 + Duration.FromHours(36)))).Count);
        Assert.Single(await AllPages(t.Store, a.Id, new EventQuery(Nov1 + 3 * day, Nov1 + 4 * day)));
        Assert.Empty(await AllPages(t.Store, a.Id, new EventQuery(Nov1 + 2 * day, Nov1 + 3 * day)));
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.ListEventsAsync(Admin, a.Id, new EventQuery(pageSize: 0)));
        Assert.Equal("pageSize", ex.Field);
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.ListEventsAsync(Admin, a.Id, new EventQuery(sku: new SkuCode("NOPE"))));
    }

    [Theory, Engines]
    public async Task Paging_WhileOthersInsert_NeverSkipsOrRepeatsAnEventPresentThroughout(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1_000_000m);
        var initial = Enumerable.Range(0, 300).Select(i => TestStore.Cpu1(a, 1m, Nov1 + Duration.FromMinutes(i * 7 % 600), Nov1 + Duration.FromMinutes(i * 7 % 600 + 30))).ToList();
        var before = (await t.Store.RecordBatchAsync(Admin, initial)).EventIds.ToHashSet();

        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var i = 0;
            // Inserts land before, inside and after the pages being read.
            while (!stop.IsCancellationRequested && i < 2000)
            {
                var start = Nov1 + Duration.FromMinutes(i * 13 % 700);
                await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, start, start + Duration.FromMinutes(5)));
                i++;
            }
            return i;
        });

        foreach (var order in new[] { EventOrder.NewestFirst, EventOrder.OldestFirst })
        {
            var seen = new List<UsageEventId>();
            var query = new EventQuery(order: order, pageSize: 9);
            var page = await t.Store.ListEventsAsync(Admin, a.Id, query);
            seen.AddRange(page.Events.Select(e => e.Id));
            var previous = page.Events.LastOrDefault();
            while (page.Next is { } next)
            {
                await Task.Yield();
                page = await t.Store.ListEventsAsync(Admin, a.Id, query.WithAfter(next));
                if (previous is not null && page.Events.Count > 0)
                {
                    var first = page.Events[0];
                    var ordered = order == EventOrder.NewestFirst
                        ? (first.Interval.Start, first.Id.Value).CompareTo((previous.Interval.Start, previous.Id.Value)) < 0
                        : (first.Interval.Start, first.Id.Value).CompareTo((previous.Interval.Start, previous.Id.Value)) > 0;
                    Assert.True(ordered, "a page starts strictly after the previous one");
                }
                seen.AddRange(page.Events.Select(e => e.Id));
                previous = page.Events.LastOrDefault() ?? previous;
            }
            Assert.Equal(seen.Count, seen.Distinct().Count());
            Assert.Subset(seen.ToHashSet(), before);
        }
        stop.Cancel();
        var inserted = await writer;
        Assert.True(inserted > 0);
    }
}
