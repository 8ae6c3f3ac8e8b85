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

    internal BucketCalendar(CalendarBucket bucket, DateTimeZone zone, long fromNs, long toNs)
    {
        this.bucket = bucket;
        this.zone = zone;
        this.fromNs = fromNs;
        this.toNs = toNs;
    }

    /// <summary>The bucket holding <paramref name="ns"/>: its first local date and its edges, cut to the range.</summary>
    internal (LocalDate Date, long StartNs, long EndNs) BucketOf(long ns)
    {
        if (ns >= lastStart && ns < lastEnd)
        {
            return (lastDate, lastStart, lastEnd);
        }
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
        lastDate = date;
        lastStart = start;
        lastEnd = end;
        return (date, start, end);
    }
}
