using Allocations.Domain;
using NodaTime;

namespace Allocations.Reporting;

/// <summary>Calendar buckets (day, ISO week, month) of a time zone, as half-open ranges of instants.</summary>
/// <remarks>Bucket edges are the local start of day of the bucket's first date (<see cref="DateTimeZone.AtStartOfDay"/>),
/// so a day with a DST change is 23 or 25 hours long and a zone that skips midnight starts its day at the first
/// valid instant. Only NodaTime does the calendar arithmetic.</remarks>
internal sealed class BucketCalendar
{
    private readonly CalendarBucket bucket;
    private readonly DateTimeZone zone;
    private readonly long fromNs;
    private readonly long toNs;
    private long lastStart = long.MaxValue;
    private long lastEnd = long.MinValue;
    private LocalDate lastDate;

    /// <summary>Ranges of at most this many buckets (a month of days, years of weeks or months) have their edges
    /// worked out once, up front; longer ones (an all-time report by day) bucket by bucket as instants come.</summary>
    private const int MaxPrecomputed = 5000;

    private readonly (LocalDate Date, long StartNs, long EndNs)[]? buckets;

    internal BucketCalendar(CalendarBucket bucket, DateTimeZone zone, long fromNs, long toNs)
    {
        this.bucket = bucket;
        this.zone = zone;
        this.fromNs = fromNs;
        this.toNs = toNs;
        var shortest = bucket switch
        {
            CalendarBucket.Day => 22L * 3600 * 1_000_000_000,
            CalendarBucket.Week => 7L * 22 * 3600 * 1_000_000_000,
            CalendarBucket.Month => 28L * 22 * 3600 * 1_000_000_000,
            _ => 0,
        };
        if (shortest > 0 && fromNs < toNs && (toNs / shortest) - (fromNs / shortest) < MaxPrecomputed)
        {
            var list = new List<(LocalDate, long, long)>();
            var t = fromNs;
            while (t < toNs)
            {
                var b = Compute(t);
                list.Add(b);
                t = b.EndNs;
            }
            buckets = [.. list];
        }
    }

    /// <summary>The bucket holding <paramref name="ns"/>: its first local date and its edges, cut to the range.</summary>
    internal (LocalDate Date, long StartNs, long EndNs) BucketOf(long ns)
    {
        if (ns >= lastStart && ns < lastEnd)
        {
            return (lastDate, lastStart, lastEnd);
        }
        var found = buckets is { } edges && ns >= fromNs && ns < toNs ? Find(edges, ns) : Compute(ns);
        (lastDate, lastStart, lastEnd) = found;
        return found;
    }

    private static (LocalDate Date, long StartNs, long EndNs) Find((LocalDate Date, long StartNs, long EndNs)[] edges, long ns)
    {
        var lo = 0;
        var hi = edges.Length - 1;
        while (lo < hi)
        {
            var mid = lo + ((hi - lo + 1) / 2);
            if (edges[mid].StartNs <= ns)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return edges[lo];
    }

    private (LocalDate Date, long StartNs, long EndNs) Compute(long ns)
    {
        LocalDate date;
        long start;
        long end;
        if (bucket == CalendarBucket.None)
        {
            date = InstantCodec.FromNs(fromNs).InZone(zone).Date;
            start = fromNs;
            end = toNs;
        }
        else
        {
            var local = InstantCodec.FromNs(ns).InZone(zone).Date;
            date = bucket switch
            {
                CalendarBucket.Day => local,
                CalendarBucket.Week => local.With(DateAdjusters.PreviousOrSame(IsoDayOfWeek.Monday)),
                _ => local.With(DateAdjusters.StartOfMonth),
            };
            var next = bucket switch
            {
                CalendarBucket.Day => date.PlusDays(1),
                CalendarBucket.Week => date.PlusWeeks(1),
                _ => date.PlusMonths(1),
            };
            start = Math.Max(fromNs, InstantCodec.ToNsUnchecked(zone.AtStartOfDay(date).ToInstant()));
            end = Math.Min(toNs, InstantCodec.ToNsUnchecked(zone.AtStartOfDay(next).ToInstant()));
        }
        return (date, start, end);
    }
}
