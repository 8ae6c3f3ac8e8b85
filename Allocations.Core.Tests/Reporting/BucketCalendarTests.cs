using Allocations.Domain;
using Allocations.Reporting;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reporting;

public class BucketCalendarTests
{
    private static readonly DateTimeZone Berlin = DateTimeZoneProviders.Tzdb["Europe/Berlin"];

    private static BucketCalendar Calendar(CalendarBucket bucket, DateTimeZone zone) =>
        new(bucket, zone, InstantCodec.MinNs, InstantCodec.MaxNs);

    private static long Ns(Instant i) => InstantCodec.ToNsUnchecked(i);

    [Theory]
    [InlineData(2026, 3, 29, 23)]
    [InlineData(2026, 10, 25, 25)]
    [InlineData(2026, 7, 1, 24)]
    public void Day_InBerlin_HasTheLocalLength(int year, int month, int day, int hours)
    {
        var noon = new LocalDateTime(year, month, day, 12, 0).InZoneLeniently(Berlin).ToInstant();
        var (date, start, end) = Calendar(CalendarBucket.Day, Berlin).BucketOf(Ns(noon));
        Assert.Equal(new LocalDate(year, month, day), date);
        Assert.Equal(Duration.FromHours(hours).ToInt64Nanoseconds(), end - start);
        Assert.Equal(Ns(new LocalDateTime(year, month, day, 0, 0).InZoneStrictly(Berlin).ToInstant()), start);
    }

    [Fact]
    public void Week_StartsOnMonday_LocalMidnight()
    {
        var sunday = new LocalDateTime(2026, 11, 29, 23, 30).InZoneStrictly(Berlin).ToInstant();
        var (date, start, end) = Calendar(CalendarBucket.Week, Berlin).BucketOf(Ns(sunday));
        Assert.Equal(new LocalDate(2026, 11, 23), date);
        Assert.Equal(IsoDayOfWeek.Monday, date.DayOfWeek);
        Assert.Equal(Duration.FromDays(7).ToInt64Nanoseconds(), end - start);
    }

    [Fact]
    public void Month_OfOctoberInBerlin_HasOneExtraHour()
    {
        var mid = Instant.FromUtc(2026, 10, 15, 0, 0);
        var (date, start, end) = Calendar(CalendarBucket.Month, Berlin).BucketOf(Ns(mid));
        Assert.Equal(new LocalDate(2026, 10, 1), date);
        Assert.Equal((Duration.FromDays(31) + Duration.FromHours(1)).ToInt64Nanoseconds(), end - start);
    }

    [Fact]
    public void Day_InAZoneThatSkipsMidnight_StartsAtTheFirstValidInstant()
    {
        // Santiago's clocks jump from 00:00 to 01:00 on 2026-09-06.
        var santiago = DateTimeZoneProviders.Tzdb["America/Santiago"];
        var noon = new LocalDateTime(2026, 9, 6, 12, 0).InZoneStrictly(santiago).ToInstant();
        var (_, start, end) = Calendar(CalendarBucket.Day, santiago).BucketOf(Ns(noon));
        Assert.Equal(Ns(new LocalDateTime(2026, 9, 6, 1, 0).InZoneStrictly(santiago).ToInstant()), start);
        Assert.Equal(Duration.FromHours(23).ToInt64Nanoseconds(), end - start);
    }

    [Fact]
    public void Buckets_AreCutToTheRange()
    {
        var from = Instant.FromUtc(2026, 11, 3, 6, 0);
        var to = Instant.FromUtc(2026, 11, 3, 18, 0);
        var (_, start, end) = new BucketCalendar(CalendarBucket.Month, DateTimeZone.Utc, Ns(from), Ns(to)).BucketOf(Ns(from));
        Assert.Equal(Ns(from), start);
        Assert.Equal(Ns(to), end);
    }
}
