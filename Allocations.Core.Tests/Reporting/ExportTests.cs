using System.Globalization;
using System.Text;
using System.Text.Json;
using Allocations.Domain;
using Allocations.Reporting;
using Allocations.Tests.Support;
using NodaTime;
using NodaTime.Text;
using Xunit;

namespace Allocations.Tests.Reporting;

public class ExportTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Nov1 = TestStore.November1;

    private static async Task<(TestStore Store, Allocation Allocation, List<UsageEvent> Events)> SeedAsync(int count)
    {
        var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics, \"Theory\"", 1_000_000m);
        var records = Enumerable.Range(0, count).Select(i => new UsageRecord(
            a.Id,
            i % 3 == 0 ? TestStore.License : TestStore.Cpu,
            Quantity.FromDecimal(1.234567m + i),
            Nov1 + Duration.FromMinutes(i * 11) + Duration.FromNanoseconds(i),
            Nov1 + Duration.FromMinutes(i * 11 + 90),
            i % 4 == 0 ? UsageStatus.Estimated : UsageStatus.Confirmed,
            i % 5 == 0 ? $"job-{i}" : null,
            new Dictionary<string, string> { ["user"] = i % 2 == 0 ? "ada" : "bob, \"the\"\r\nbuilder", ["job"] = i.ToString(CultureInfo.InvariantCulture) })).ToList();
        await t.Store.RecordBatchAsync(Admin, records);
        var events = new List<UsageEvent>();
        var page = await t.Store.ListEventsAsync(Admin, a.Id, new EventQuery(pageSize: 10_000));
        events.AddRange(page.Events);
        return (t, a, events);
    }

    [Fact]
    public async Task EventsCsv_ReadBack_GivesEveryEventExactly()
    {
        var (t, a, events) = await SeedAsync(2345);
        using var _ = t;
        var text = new StringWriter(CultureInfo.InvariantCulture);
        var progress = new List<long>();
        var written = await t.Store.ExportEventsAsync(Admin, a.Id, null, text, ExportFormat.Csv, new SyncProgress(progress), default);
        Assert.Equal(2345, written);
        Assert.Equal([1000L, 2000L, 2345L], progress);

        var records = ReportFixture.ParseCsv(text.ToString());
        Assert.Equal(["id", "allocation", "sku", "status", "start", "end", "quantity", "amount", "usd", "external_key", "attributes", "recorded_at", "recorded_by"], records[0]);
        Assert.Equal(events.Count + 1, records.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            var r = records[i + 1];
            Assert.Equal(e.Id.Value, long.Parse(r[0], CultureInfo.InvariantCulture));
            Assert.Equal(e.Allocation.Value, long.Parse(r[1], CultureInfo.InvariantCulture));
            Assert.Equal(e.Sku.Value, r[2]);
            Assert.Equal(e.Status, Enum.Parse<UsageStatus>(r[3]));
            Assert.Equal(e.Interval.Start, InstantPattern.ExtendedIso.Parse(r[4]).Value);
            Assert.Equal(e.Interval.End, InstantPattern.ExtendedIso.Parse(r[5]).Value);
            Assert.Equal(e.Quantity, Quantity.FromDecimal(decimal.Parse(r[6], CultureInfo.InvariantCulture)));
            Assert.Equal(e.Amount, Amount.FromDecimal(decimal.Parse(r[7], CultureInfo.InvariantCulture)));
            Assert.Equal("", r[8]);
            Assert.Equal(e.ExternalKey ?? "", r[9]);
            Assert.Equal(e.Attributes, JsonSerializer.Deserialize<Dictionary<string, string>>(r[10]));
            Assert.Equal(e.RecordedAt, InstantPattern.ExtendedIso.Parse(r[11]).Value);
            Assert.Equal(e.RecordedBy, r[12]);
        }
    }

    [Fact]
    public async Task EventsJson_ToAStream_ReadsBackWithNodaTimeConverters()
    {
        var (t, a, events) = await SeedAsync(1500);
        using var _ = t;
        using var stream = new MemoryStream();
        var written = await t.Store.ExportEventsAsync(Admin, a.Id, new EventQuery(order: EventOrder.OldestFirst), stream, ExportFormat.Json, null, default);
        Assert.Equal(1500, written);
        stream.Position = 0;
        var back = JsonSerializer.Deserialize<List<EventJson>>(stream, JsonExport.Options)!;
        Assert.Equal(events.AsEnumerable().Reverse().Select(JsonExport.ToJson).Select(e => e with { Attributes = null! }), back.Select(e => e with { Attributes = null! }));
        Assert.All(back.Zip(events.AsEnumerable().Reverse()), p => Assert.Equal(p.Second.Attributes, p.First.Attributes));
    }

    [Fact]
    public async Task ReportCsvAndJson_ReadBack_GiveTheSameLines()
    {
        var (t, _, _) = await SeedAsync(200);
        using var __ = t;
        var zone = DateTimeZoneProviders.Tzdb["Europe/Berlin"];
        var report = await t.Store.GetUsageReportAsync(Admin, new UsageReportRequest(t.Organization, Nov1, Nov1 + Duration.FromDays(3))
        {
            GroupBy = ReportGroups.Allocation | ReportGroups.Sku | ReportGroups.Status,
            AttributeKeys = ["user"],
            Bucket = CalendarBucket.Day,
            Zone = zone,
        });
        Assert.NotEmpty(report.Rows);

        var csv = new StringWriter(CultureInfo.InvariantCulture);
        await ReportExport.WriteAsync(report, csv, ExportFormat.Csv, default);
        var records = ReportFixture.ParseCsv(csv.ToString());
        Assert.Equal(["allocation_id", "allocation", "sku", "status", "user", "period", "period_start", "period_end", "unit", "amount", "usd", "events"], records[0]);
        Assert.Equal(report.Rows.Count + 1, records.Count);
        foreach (var (row, r) in report.Rows.Zip(records.Skip(1)))
        {
            Assert.Equal(row.Allocation!.Value.Value, long.Parse(r[0], CultureInfo.InvariantCulture));
            Assert.Equal(row.AllocationName, r[1]);
            Assert.Equal(row.Sku!.Value.Value, r[2]);
            Assert.Equal(row.Status.ToString(), r[3]);
            Assert.Equal(row.AttributeValues[0], r[4]);
            Assert.Equal(row.Period!.Start, LocalDatePattern.Iso.Parse(r[5]).Value);
            Assert.Equal(row.Period.Interval.Start, InstantPattern.ExtendedIso.Parse(r[6]).Value);
            Assert.Equal(row.Period.Interval.End, InstantPattern.ExtendedIso.Parse(r[7]).Value);
            Assert.Equal(row.Unit.Value, r[8]);
            Assert.Equal(row.Amount, Amount.FromDecimal(decimal.Parse(r[9], CultureInfo.InvariantCulture)));
            Assert.Equal(row.Events, int.Parse(r[11], CultureInfo.InvariantCulture));
        }

        using var stream = new MemoryStream();
        await ReportExport.WriteAsync(report, stream, ExportFormat.Json, default);
        var json = JsonSerializer.Deserialize<ReportJson>(Encoding.UTF8.GetString(stream.ToArray()), JsonExport.Options)!;
        Assert.Equal(report.From, json.From);
        Assert.Equal("Europe/Berlin", json.Zone);
        Assert.Equal(report.Rows.Select(r => r.Amount.ToDecimal()), json.Rows.Select(r => r.Amount));
        Assert.Equal(report.Rows.Select(r => r.Period!.Start), json.Rows.Select(r => r.Period!.Value));
        Assert.Equal(report.Totals.Single().Amount.ToDecimal(), json.Totals.Single().Amount);
    }

    private sealed class SyncProgress(List<long> values) : IProgress<long>
    {
        public void Report(long value) => values.Add(value);
    }
}
