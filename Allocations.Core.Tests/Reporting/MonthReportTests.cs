using Allocations.Domain;
using Allocations.Reporting;
using Allocations.Tests.Support;
using FsCheck.Xunit;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reporting;

/// <summary>A month's report by allocation × day over a history of several years, with events of every length (an
/// instant, seconds, minutes, hours, days, months, years, and longer than the span index's classes), equals the report
/// computed naively from every event: the period's seeks must find every event that overlaps the month, however long
/// before it the event started, and nothing else.</summary>
public sealed class MonthReportTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant HistoryStart = TestStore.November1;
    private const int HistoryMonths = 60;

    /// <summary>Longest span of each kind of event, in seconds: an instant, then one per span class of the index, the
    /// last past its longest bounded class (about 2.3 years).</summary>
    private static readonly long[] SpanKinds = [0, 4, 270, 17_000, 1_100_000, 70_000_000, 120_000_000];

    [Property(MaxTest = 25)]
    public void MonthReport_ByAllocationAndDay_EqualsTheNaiveReportOverEveryEvent(int[] seeds, int monthSeed, bool newYork)
    {
        RunAsync(seeds, monthSeed, newYork).GetAwaiter().GetResult();
    }

    private static async Task RunAsync(int[] seeds, int monthSeed, bool newYork)
    {
        var (store, org) = await ReportFixture.InMemoryAsync();
        using var _ = store;
        var allocations = new List<Allocation>();
        foreach (var name in new[] { "A", "B", "C" })
        {
            allocations.Add(await store.CreateAllocationAsync(Admin, org, new NewAllocation(name, TestStore.CoreHours, Amount.FromDecimal(1_000_000_000m))));
        }
        var skus = new[] { TestStore.Cpu, TestStore.Gpu, TestStore.License };
        var zone = newYork ? ReportFixture.Zone("America/New_York") : DateTimeZone.Utc;
        var pick = new Random(monthSeed);
        var month = new LocalDate(2026, 11, 1).PlusMonths(pick.Next(HistoryMonths));
        var from = zone.AtStartOfDay(month).ToInstant();
        var to = zone.AtStartOfDay(month.PlusMonths(1)).ToInstant();

        // Events anywhere in five years, some placed to cross the month's edges; every third seed adds one.
        var events = new List<UsageEvent>();
        foreach (var seed in seeds.Take(60).Append(monthSeed))
        {
            var r = new Random(seed);
            var span = SpanKinds[r.Next(SpanKinds.Length)];
            var length = span == 0 ? Duration.Zero : Duration.FromSeconds(r.NextInt64(1, span + 1)) + Duration.FromNanoseconds(r.Next(0, 1000));
            var start = r.Next(3) switch
            {
                0 => from - length + Duration.FromSeconds(r.Next(-3600, 3600)),
                1 => to - Duration.FromSeconds(r.Next(-3600, 3600)),
                _ => HistoryStart + Duration.FromSeconds(r.NextInt64(0, HistoryMonths * 30L * 86400)),
            };
            if (start < HistoryStart)
            {
                start = HistoryStart + Duration.FromSeconds(r.Next(0, 86400));
            }
            var quantity = r.Next(0, 50_000_000) / 1_000_000m;
            var record = ReportFixture.Event(allocations[r.Next(allocations.Count)], skus[r.Next(3)], quantity, start, start + length, ReportFixture.Statuses[r.Next(2)]);
            events.Add((await store.RecordUsageAsync(Admin, record)).Event);
        }

        var report = await store.GetUsageReportAsync(Admin, new UsageReportRequest(org, from, to) { GroupBy = ReportGroups.Allocation, Bucket = CalendarBucket.Day, Zone = zone });

        var expected = Naive(events, zone, month, InstantCodec.ToNsUnchecked(from), InstantCodec.ToNsUnchecked(to));
        var actual = report.Rows.ToDictionary(
            r => (r.Allocation!.Value, r.Period!.Start),
            r => (r.Amount.Micros, r.Usd?.Micros, r.Events));
        Assert.Equal(expected.Keys.OrderBy(k => k.Item1.Value).ThenBy(k => k.Item2), actual.Keys.OrderBy(k => k.Item1.Value).ThenBy(k => k.Item2));
        foreach (var (key, line) in expected)
        {
            Assert.Equal(line, actual[key]);
        }
        foreach (var row in report.Rows)
        {
            Assert.Equal(zone.AtStartOfDay(row.Period!.Start).ToInstant(), row.Period.Interval.Start);
        }
    }

    /// <summary>Every event, every segment, every day of the month: a line for each (allocation, day) that some rated
    /// segment of the allocation shares time with, holding the segments' pieces in that day, the USD cost's pieces,
    /// and the number of events with a segment there.</summary>
    private static Dictionary<(AllocationId, LocalDate), (long Amount, long? Usd, int Events)> Naive(List<UsageEvent> events, DateTimeZone zone, LocalDate month, long fromNs, long toNs)
    {
        var days = new List<(LocalDate Date, long Start, long End)>();
        for (var d = month; d < month.PlusMonths(1); d = d.PlusDays(1))
        {
            days.Add((d, InstantCodec.ToNsUnchecked(zone.AtStartOfDay(d).ToInstant()), InstantCodec.ToNsUnchecked(zone.AtStartOfDay(d.PlusDays(1)).ToInstant())));
        }
        Assert.Equal(fromNs, days[0].Start);
        Assert.Equal(toNs, days[^1].End);
        static bool Shares(long s, long e, long a, long b) => s == e ? s >= a && s < b : Math.Max(s, a) < Math.Min(e, b);

        var lines = new Dictionary<(AllocationId, LocalDate), (long Amount, long? Usd, int Events)>();
        foreach (var e in events)
        {
            if (e.Segments.Count == 0)
            {
                continue; // an unrated (zero-length) event adds nothing
            }
            var s = InstantCodec.ToNsUnchecked(e.Interval.Start);
            var end = InstantCodec.ToNsUnchecked(e.Interval.End);
            foreach (var (date, a, b) in days)
            {
                var key = (e.Allocation, date);
                var counted = false;
                var touched = false;
                long amount = 0;
                foreach (var g in e.Segments)
                {
                    var gs = InstantCodec.ToNsUnchecked(g.Interval.Start);
                    var ge = InstantCodec.ToNsUnchecked(g.Interval.End);
                    if (Shares(gs, ge, a, b))
                    {
                        amount += ProportionalSplit.Piece(g.Amount.Micros, gs, ge, a, b);
                        counted = true;
                        touched = true;
                    }
                }
                long? usd = null;
                if (e.UsdAmount is { } u && Shares(s, end, a, b))
                {
                    usd = ProportionalSplit.Piece(u.Micros, s, end, a, b);
                    touched = true;
                }
                if (!touched)
                {
                    continue;
                }
                var line = lines.GetValueOrDefault(key);
                lines[key] = (
                    line.Amount + amount,
                    line.Usd is null && usd is null ? null : (line.Usd ?? 0) + (usd ?? 0),
                    line.Events + (counted ? 1 : 0));
            }
        }
        return lines;
    }
}
