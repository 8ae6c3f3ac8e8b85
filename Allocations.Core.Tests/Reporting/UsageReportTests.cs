using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reporting;

public class UsageReportTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Nov1 = TestStore.November1;

    private static long Sum(UsageReport report) => report.Rows.Sum(r => r.Amount.Micros);

    private static long SumUsd(UsageReport report) => report.Rows.Sum(r => r.Usd?.Micros ?? 0);

    [Theory, Engines]
    public async Task Report_OverAllTime_EqualsEachAllocationsFigures(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var parent = await t.CreateAllocationAsync("Physics", 10_000m);
        var child = await t.CreateAllocationAsync("Physics-Theory", 1_000m, parent);
        var other = await t.CreateAllocationAsync("Chemistry", 500m);
        await t.Store.RecordUsageAsync(Admin, ReportFixture.Event(parent, TestStore.Cpu, 3.3m, Nov1 + Duration.FromMinutes(7), TestStore.November15 + Duration.FromMinutes(13)));
        await t.Store.RecordUsageAsync(Admin, ReportFixture.Event(child, TestStore.Gpu, 1.7m, Nov1, Nov1 + Duration.FromSeconds(4001), UsageStatus.Estimated));
        await t.Store.RecordUsageAsync(Admin, ReportFixture.Event(child, TestStore.License, 3m, TestStore.November15 - Duration.FromHours(1), TestStore.November15 + Duration.FromHours(2)));
        await t.Store.RecordUsageAsync(Admin, ReportFixture.Event(other, TestStore.Cpu, 1m, Nov1, Nov1));
        await t.Store.RecordUsageAsync(Admin, ReportFixture.Event(other, TestStore.License, 0.333333m, Nov1 + Duration.FromDays(2), Nov1 + Duration.FromDays(2)));

        var report = await t.Store.GetUsageReportAsync(Admin, new UsageReportRequest(t.Organization)
        {
            GroupBy = ReportGroups.Allocation | ReportGroups.Status,
            Bucket = CalendarBucket.Day,
            Zone = ReportFixture.Zone("America/New_York"),
        });

        foreach (var a in await t.Store.ListAllocationsAsync(Admin, t.Organization))
        {
            long Own(UsageStatus s) => report.Rows.Where(r => r.Allocation == a.Id && r.Status == s).Sum(r => r.Amount.Micros);
            Assert.Equal(a.OwnUsed.Micros, Own(UsageStatus.Confirmed));
            Assert.Equal(a.OwnEstimated.Micros, Own(UsageStatus.Estimated));
        }
        var p = await t.Store.GetAllocationAsync(Admin, parent.Id);
        var inParentTree = report.Rows.Where(r => r.Allocation == parent.Id || r.Allocation == child.Id).ToList();
        Assert.Equal(p.Used.Micros, inParentTree.Where(r => r.Status == UsageStatus.Confirmed).Sum(r => r.Amount.Micros));
        Assert.Equal(p.Estimated.Micros, inParentTree.Where(r => r.Status == UsageStatus.Estimated).Sum(r => r.Amount.Micros));
        Assert.True(report.Rows.Count > 10, "the month-long event spans many days");
    }

    [Property(MaxTest = 25)]
    public void Buckets_AddUpToThePeriodTotal_AndAdjacentPeriodsAddUp(int[] seeds, PositiveInt zoneSeed, int fromSeed, int lengthSeed, int cutSeed)
    {
        RunBucketProperty(seeds, zoneSeed.Get, fromSeed, lengthSeed, cutSeed).GetAwaiter().GetResult();
    }

    private static async Task RunBucketProperty(int[] seeds, int zoneSeed, int fromSeed, int lengthSeed, int cutSeed)
    {
        var (store, org) = await ReportFixture.InMemoryAsync();
        using var _ = store;
        var a = await store.CreateAllocationAsync(Admin, org, new NewAllocation("A", TestStore.CoreHours, Amount.FromDecimal(1000m)));
        var b = await store.CreateAllocationAsync(Admin, org, new NewAllocation("B", TestStore.CoreHours, Amount.FromDecimal(1000m)));
        var skus = new[] { TestStore.Cpu, TestStore.Gpu, TestStore.License };
        var records = new List<UsageRecord>();
        foreach (var seed in seeds.Take(30).Append(fromSeed).Append(lengthSeed).Append(cutSeed))
        {
            var r = new Random(seed);
            var start = Nov1 + Duration.FromSeconds(r.Next(0, 60 * 86400)) + Duration.FromNanoseconds(r.Next(0, 1000));
            var length = r.Next(4) == 0 ? Duration.Zero : Duration.FromSeconds(r.Next(1, 20 * 86400)) + Duration.FromNanoseconds(r.Next(0, 1000));
            var quantity = r.Next(0, 50_000_000) / 1_000_000m;
            records.Add(ReportFixture.Event(r.Next(2) == 0 ? a : b, skus[r.Next(3)], quantity, start, start + length, ReportFixture.Statuses[r.Next(2)], "u" + r.Next(3)));
        }
        if (records.Count > 0)
        {
            await store.RecordBatchAsync(Admin, records);
        }
        // FsCheck's integers are small; a Random seeded from them spreads the range over the two months of events.
        var pick = new Random(HashCode.Combine(fromSeed, lengthSeed, cutSeed));
        var zone = ReportFixture.Zone(ReportFixture.ZoneIds[(zoneSeed + pick.Next(100)) % ReportFixture.ZoneIds.Length]);
        var from = Nov1 + Duration.FromSeconds(pick.Next(-86400, 40 * 86400)) + Duration.FromNanoseconds(pick.Next(0, 1000));
        var to = from + Duration.FromSeconds(pick.Next(0, 50 * 86400)) + Duration.FromNanoseconds(pick.Next(0, 1000));
        var cut = from + Duration.FromNanoseconds((long)((to - from).TotalNanoseconds * pick.NextDouble()));

        UsageReportRequest Request(Instant f, Instant t, CalendarBucket bucket) => new(org, f, t)
        {
            GroupBy = ReportGroups.Allocation | ReportGroups.Sku,
            AttributeKeys = ["user"],
            Bucket = bucket,
            Zone = zone,
        };
        var whole = await store.GetUsageReportAsync(Admin, Request(from, to, CalendarBucket.None));
        foreach (var bucket in new[] { CalendarBucket.Day, CalendarBucket.Week, CalendarBucket.Month })
        {
            var bucketed = await store.GetUsageReportAsync(Admin, Request(from, to, bucket));
            Assert.Equal(Sum(whole), Sum(bucketed));
            Assert.Equal(SumUsd(whole), SumUsd(bucketed));
            // Per group too: every (allocation, SKU, user) line's buckets add up to its unbucketed line.
            foreach (var line in whole.Rows)
            {
                var parts = bucketed.Rows.Where(r => r.Allocation == line.Allocation && r.Sku == line.Sku && r.AttributeValues[0] == line.AttributeValues[0]);
                Assert.Equal(line.Amount.Micros, parts.Sum(r => r.Amount.Micros));
            }
            Assert.All(bucketed.Rows, r => Assert.True(r.Period!.Interval.Start >= from && r.Period.Interval.End <= to));
        }
        var left = await store.GetUsageReportAsync(Admin, Request(from, cut, CalendarBucket.None));
        var right = await store.GetUsageReportAsync(Admin, Request(cut, to, CalendarBucket.None));
        Assert.Equal(Sum(whole), Sum(left) + Sum(right));
        Assert.Equal(SumUsd(whole), SumUsd(left) + SumUsd(right));

        var allTime = await store.GetUsageReportAsync(Admin, new UsageReportRequest(org) { Bucket = CalendarBucket.Month, Zone = zone });
        var figures = await store.ListAllocationsAsync(Admin, org);
        Assert.Equal(figures.Sum(f => f.Used.Micros + f.Estimated.Micros), Sum(allTime));
    }

    [Fact]
    public async Task DayBuckets_OnDstChangeDays_Hold23And25Hours()
    {
        var (store, org) = await ReportFixture.InMemoryAsync();
        using var _ = store;
        var a = await store.CreateAllocationAsync(Admin, org, new NewAllocation("A", TestStore.CoreHours, Amount.FromDecimal(1000m)));
        // New York leaves DST on 2026-11-01: that local day has 25 hours. GPU at 4 per hour, 1 GPU.
        var zone = ReportFixture.Zone("America/New_York");
        var start = new LocalDateTime(2026, 11, 1, 0, 0).InZoneStrictly(zone).ToInstant();
        var end = new LocalDateTime(2026, 11, 3, 0, 0).InZoneStrictly(zone).ToInstant();
        await store.RecordUsageAsync(Admin, ReportFixture.Event(a, TestStore.Gpu, 1m, start, end));
        var report = await store.GetUsageReportAsync(Admin, new UsageReportRequest(org, start, end) { Bucket = CalendarBucket.Day, Zone = zone });
        Assert.Equal(2, report.Rows.Count);
        Assert.Equal(new LocalDate(2026, 11, 1), report.Rows[0].Period!.Start);
        Assert.Equal(Amount.FromDecimal(100m), report.Rows[0].Amount);
        Assert.Equal(Duration.FromHours(25), report.Rows[0].Period!.Interval.Duration);
        Assert.Equal(Amount.FromDecimal(96m), report.Rows[1].Amount);
        Assert.Equal(Amount.FromDecimal(50m), report.Rows[0].Usd);
    }

    [Fact]
    public async Task Report_CutsAnEventAtItsEdges_InProportionToTime()
    {
        var (store, org) = await ReportFixture.InMemoryAsync();
        using var _ = store;
        var a = await store.CreateAllocationAsync(Admin, org, new NewAllocation("A", TestStore.CoreHours, Amount.FromDecimal(1000m)));
        // 10 hours of LICENSE (PerUnit, 1 unit at 10 then 20) across the rate change: 5 + 10 = 15.
        var start = TestStore.November15 - Duration.FromHours(5);
        await store.RecordUsageAsync(Admin, ReportFixture.Event(a, TestStore.License, 1m, start, start + Duration.FromHours(10)));
        var firstHour = await store.GetUsageReportAsync(Admin, new UsageReportRequest(org, start, start + Duration.FromHours(1)));
        Assert.Equal(Amount.FromDecimal(1m), firstHour.Totals.Single().Amount);
        var lastHour = await store.GetUsageReportAsync(Admin, new UsageReportRequest(org, start + Duration.FromHours(9), start + Duration.FromHours(11)));
        Assert.Equal(Amount.FromDecimal(2m), lastHour.Totals.Single().Amount);
        var before = await store.GetUsageReportAsync(Admin, new UsageReportRequest(org, Nov1, start));
        Assert.Empty(before.Rows);
        // A third of an hour at 5 units per 5 hours is 1/3, rounded half to even to a millionth.
        var third = await store.GetUsageReportAsync(Admin, new UsageReportRequest(org, start, start + Duration.FromMinutes(20)));
        Assert.Equal(Amount.FromMicros(333_333), third.Totals.Single().Amount);
    }

    [Fact]
    public async Task Report_GroupsByAttributes_AndFiltersByThem()
    {
        var (store, org) = await ReportFixture.InMemoryAsync();
        using var _ = store;
        var a = await store.CreateAllocationAsync(Admin, org, new NewAllocation("A", TestStore.CoreHours, Amount.FromDecimal(1000m)));
        var start = Nov1 + Duration.FromDays(1);
        await store.RecordUsageAsync(Admin, ReportFixture.Event(a, TestStore.Gpu, 1m, start, start + Duration.FromHours(1), user: "ada", project: "p1"));
        await store.RecordUsageAsync(Admin, ReportFixture.Event(a, TestStore.Gpu, 1m, start, start + Duration.FromHours(2), user: "bob", project: "p1"));
        await store.RecordUsageAsync(Admin, ReportFixture.Event(a, TestStore.Gpu, 1m, start, start + Duration.FromHours(3), project: "p2"));
        var byUser = await store.GetUsageReportAsync(Admin, new UsageReportRequest(org) { AttributeKeys = ["user", "project"] });
        Assert.Equal(3, byUser.Rows.Count);
        Assert.Equal(Amount.FromDecimal(12m), byUser.Rows.Single(r => r.AttributeValues[0] is null).Amount);
        Assert.Equal(Amount.FromDecimal(4m), byUser.Rows.Single(r => r.AttributeValues[0] == "ada").Amount);
        var p1 = await store.GetUsageReportAsync(Admin, new UsageReportRequest(org) { Attributes = new Dictionary<string, string> { ["project"] = "p1" } });
        Assert.Equal(Amount.FromDecimal(12m), p1.Totals.Single().Amount);
        Assert.Equal(2, p1.Rows.Single().Events);
        // A value that merely looks like SQL is just a value.
        var odd = await store.GetUsageReportAsync(Admin, new UsageReportRequest(org) { Attributes = new Dictionary<string, string> { ["project"] = "p1' OR 1=1 --" } });
        Assert.Empty(odd.Rows);
    }

    [Theory, Engines]
    public async Task Report_ForAMemberWithoutRead_IsEmpty_AndANamedAllocationIsNotFound(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 100m);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Nov1, Nov1 + Duration.FromHours(1)));
        await t.Store.CreateGroupAsync(Admin, t.Organization, "staff");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "staff", "stranger");
        var stranger = Principal.User("stranger");
        var report = await t.Store.GetUsageReportAsync(stranger, new UsageReportRequest(t.Organization));
        Assert.Empty(report.Rows);
        Assert.Empty(report.Totals);
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetUsageReportAsync(stranger, new UsageReportRequest(t.Organization) { Allocations = [a.Id] }));
        Assert.Empty(await t.Store.GetAllocationTableAsync(stranger, t.Organization));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.ListEventsAsync(stranger, a.Id));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.ExportEventsAsync(stranger, a.Id, null, TextWriter.Null, ExportFormat.Csv, null, default));
        var own = await t.Store.GetUsageReportAsync(Admin, new UsageReportRequest(t.Organization) { Allocations = [a.Id] });
        Assert.Equal(Amount.FromDecimal(1m), own.Totals.Single().Amount);
    }

    [Theory, Engines]
    public async Task Report_ForAnOutsider_GivesTheAnswerOfAMissingOrganization_WithOrWithoutASkuFilter(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 100m);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Nov1, Nov1 + Duration.FromHours(1)));
        var outsider = Principal.User("outsider");
        var missing = new OrganizationId(999);

        async Task<(string Kind, string Key)> AnswerAsync(UsageReportRequest request)
        {
            var ex = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetUsageReportAsync(outsider, request));
            return (ex.Kind, ex.Key);
        }

        var existing = await AnswerAsync(new UsageReportRequest(t.Organization));
        var absent = await AnswerAsync(new UsageReportRequest(missing));
        Assert.Equal("organization", existing.Kind);
        Assert.Equal(absent.Kind, existing.Kind);
        Assert.Equal(("organization", t.Organization.ToString()), await AnswerAsync(new UsageReportRequest(t.Organization) { Sku = TestStore.Cpu }));
        Assert.Equal(("organization", t.Organization.ToString()), await AnswerAsync(new UsageReportRequest(t.Organization) { Sku = new SkuCode("NOPE") }));
        Assert.Equal(("organization", missing.ToString()), await AnswerAsync(new UsageReportRequest(missing) { Sku = TestStore.Cpu }));
    }

    [Theory, Engines]
    public async Task Report_WithBadInput_NamesTheField(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.GetUsageReportAsync(Admin, new UsageReportRequest(t.Organization, Nov1, Nov1 - Duration.FromHours(1))));
        Assert.Equal("to", ex.Field);
        ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.GetUsageReportAsync(Admin, new UsageReportRequest(t.Organization) { AttributeKeys = ["a\"b"] }));
        Assert.Equal("attributeKeys", ex.Field);
        ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.GetUsageReportAsync(Admin, new UsageReportRequest(t.Organization) { Bucket = (CalendarBucket)9 }));
        Assert.Equal("bucket", ex.Field);
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetUsageReportAsync(Admin, new UsageReportRequest(new OrganizationId(999))));
        await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetUsageReportAsync(Admin, new UsageReportRequest(t.Organization) { Sku = new SkuCode("NOPE") }));
    }
}
