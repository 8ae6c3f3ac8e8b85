using Allocations.Domain;
using Allocations.Reporting;
using Allocations.Storage;
using Allocations.Tests.Support;
using FsCheck;
using FsCheck.Xunit;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reporting;

/// <summary>A period report reads only the events that can overlap the period, and still adds up exactly what a
/// brute-force pass over every event gives.</summary>
public class ReportPeriodTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Nov1 = TestStore.November1;

    [Fact]
    public async Task MonthReportQuery_SeeksTheSpanIndex_InARangeBoundedOnBothSides()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics", 100m);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, Nov1, Nov1 + Duration.FromHours(1)));

        var from = InstantCodec.ToNsUnchecked(Nov1);
        var to = InstantCodec.ToNsUnchecked(Nov1 + Duration.FromDays(30));
        var commands = SqliteSession.ReportSegmentsCommands([a.Id.Value], new EventFilter(from, to, null, null, []));
        Assert.Equal(SqliteSession.SpanClasses, commands.Count);
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = t.Path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        for (var spanClass = 0; spanClass < commands.Count; spanClass++)
        {
            var (sql, parameters) = commands[spanClass];
            using var command = connection.CreateCommand();
            command.CommandText = "EXPLAIN QUERY PLAN " + sql;
            foreach (var name in parameters.ParameterNames)
            {
                command.Parameters.AddWithValue("@" + name, parameters.Get<object>(name));
            }
            var plan = new List<string>();
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    plan.Add(reader.GetString(3));
                }
            }
            var text = string.Join("\n", plan);

            // Each seek is one span class of one allocation, bounded below by the period's start less the class's
            // longest span and above by the period's end: events that ended long before the period, or begin after it,
            // are never read, however long the history on either side. Only the last class (events longer than about
            // 2.3 years) is bounded above alone.
            var range = spanClass < commands.Count - 1 ? "start_ns>? AND start_ns<?" : "start_ns<?";
            Assert.Contains($"SEARCH e USING INDEX ix_usage_events_allocation_span (<expr>=? AND allocation_id=? AND {range})", text, StringComparison.Ordinal);
            Assert.DoesNotContain("ix_usage_events_allocation ", text + " ", StringComparison.Ordinal);
            Assert.DoesNotContain("SCAN e", text, StringComparison.Ordinal);
            // Read in index order, so each event's segments come together without sorting the period's rows.
            Assert.DoesNotContain("TEMP B-TREE", text, StringComparison.Ordinal);
        }
    }

    [Property(MaxTest = 30)]
    public void Report_OverAnyPeriod_EqualsABruteForceSumOverTheEvents(int[] seeds, int rangeSeed)
    {
        RunBruteForceProperty(seeds, rangeSeed).GetAwaiter().GetResult();
    }

    private static async Task RunBruteForceProperty(int[] seeds, int rangeSeed)
    {
        var (store, org) = await ReportFixture.InMemoryAsync();
        using var _ = store;
        var allocations = new List<Allocation>();
        foreach (var name in new[] { "A", "B", "C" })
        {
            allocations.Add(await store.CreateAllocationAsync(Admin, org, new NewAllocation(name, TestStore.CoreHours, Amount.FromDecimal(1_000_000m))));
        }
        var skus = new[] { TestStore.Cpu, TestStore.Gpu, TestStore.License };
        var events = new List<UsageEvent>();
        foreach (var seed in seeds.Take(40).Append(rangeSeed))
        {
            var r = new Random(seed);
            var start = Nov1 + Duration.FromSeconds(r.Next(0, 90 * 86400)) + Duration.FromNanoseconds(r.Next(0, 1000));
            var length = r.Next(4) == 0 ? Duration.Zero : Duration.FromSeconds(r.Next(1, 20 * 86400)) + Duration.FromNanoseconds(r.Next(0, 1000));
            var quantity = r.Next(0, 50_000_000) / 1_000_000m;
            var record = ReportFixture.Event(allocations[r.Next(allocations.Count)], skus[r.Next(3)], quantity, start, start + length, ReportFixture.Statuses[r.Next(2)]);
            events.Add((await store.RecordUsageAsync(Admin, record)).Event);
        }

        // Ranges that begin or end exactly on an event's edges, and ones that do not; now and then an empty one.
        var pick = new Random(rangeSeed ^ (seeds.Length << 16)); // not HashCode.Combine: that is seeded per process, so a failure would not replay
        Instant Edge()
        {
            var e = events[pick.Next(events.Count)];
            return pick.Next(3) switch
            {
                0 => e.Interval.Start,
                1 => e.Interval.End,
                _ => Nov1 + Duration.FromSeconds(pick.Next(-86400, 120 * 86400)),
            };
        }
        var (from, to) = (Edge(), Edge());
        if (to < from)
        {
            (from, to) = (to, from);
        }
        var fromNs = InstantCodec.ToNsUnchecked(from);
        var toNs = InstantCodec.ToNsUnchecked(to);

        // Brute force: every event, kept when it shares time with [from, to) (a zero-length one when its instant lies inside),
        // its segments and USD cost cut at the range's edges.
        var expected = new Dictionary<AllocationId, (long Amount, long? Usd, int Events)>();
        foreach (var e in events)
        {
            var s = InstantCodec.ToNsUnchecked(e.Interval.Start);
            var end = InstantCodec.ToNsUnchecked(e.Interval.End);
            // An empty range holds nothing, not even an event that spans its instant.
            var overlaps = s == end ? s >= fromNs && s < toNs : Math.Max(s, fromNs) < Math.Min(end, toNs);
            // A report adds up rated segments: an event without any (a zero-length one is not rated) adds nothing,
            // not even to the event count or the USD cost.
            if (!overlaps || e.Segments.Count == 0)
            {
                continue;
            }
            long amount = 0;
            foreach (var g in e.Segments)
            {
                amount += ProportionalSplit.Piece(g.Amount.Micros, InstantCodec.ToNsUnchecked(g.Interval.Start), InstantCodec.ToNsUnchecked(g.Interval.End), fromNs, toNs);
            }
            long? usd = e.UsdAmount is { } u ? ProportionalSplit.Piece(u.Micros, s, end, fromNs, toNs) : null;
            var line = expected.GetValueOrDefault(e.Allocation);
            expected[e.Allocation] = (line.Amount + amount, line.Usd is null && usd is null ? null : (line.Usd ?? 0) + (usd ?? 0), line.Events + 1);
        }

        foreach (var bucket in new[] { CalendarBucket.None, CalendarBucket.Day })
        {
            var report = await store.GetUsageReportAsync(Admin, new UsageReportRequest(org, from, to) { GroupBy = ReportGroups.Allocation, Bucket = bucket });
            var actual = report.Rows
                .GroupBy(r => r.Allocation!.Value)
                .ToDictionary(g => g.Key, g => (g.Sum(r => r.Amount.Micros), g.Any(r => r.Usd is not null) ? g.Sum(r => r.Usd?.Micros ?? 0) : (long?)null));
            Assert.Equal(expected.Keys.OrderBy(k => k.Value), actual.Keys.OrderBy(k => k.Value));
            foreach (var (allocation, line) in expected)
            {
                Assert.Equal((line.Amount, line.Usd), actual[allocation]);
                if (bucket == CalendarBucket.None)
                {
                    Assert.Equal(line.Events, report.Rows.Single(r => r.Allocation == allocation).Events);
                }
            }
        }
    }
}
