using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Allocations.Domain;
using NodaTime;
using NodaTime.Serialization.SystemTextJson;

namespace Allocations.Reporting;

/// <summary>Writes usage reports as CSV or JSON.</summary>
/// <remarks>CSV columns: one per dimension of the report (allocation_id, allocation, sku, status, one per
/// attribute key, period, period_start, period_end), then unit, amount, usd, events. JSON: one object with the range,
/// the grouping, the lines and the totals; amounts are JSON numbers written exactly, instants ISO-8601.</remarks>
public static class ReportExport
{
    /// <summary>Writes a report to a text writer.</summary>
    /// <param name="report">The report.</param>
    /// <param name="writer">Where to write; not closed.</param>
    /// <param name="format">CSV or JSON.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the report is written and the writer flushed.</returns>
    /// <exception cref="Exceptions.InvalidInputException">The report or writer is null, or the format unknown.</exception>
    public static async Task WriteAsync(UsageReport report, TextWriter writer, ExportFormat format, CancellationToken cancellationToken)
    {
        Utility.Preconditions.CheckNotNull(report, "report");
        Utility.Preconditions.CheckNotNull(writer, "writer");
        switch (format)
        {
            case ExportFormat.Csv:
                await WriteCsvAsync(report, writer, cancellationToken).ConfigureAwait(false);
                break;
            case ExportFormat.Json:
                await writer.WriteAsync(JsonSerializer.Serialize(ToJson(report), JsonExport.Options).AsMemory(), cancellationToken).ConfigureAwait(false);
                await writer.WriteAsync(Csv.NewLine.AsMemory(), cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw new Exceptions.InvalidInputException("format", format.ToString(), "must be Csv or Json");
        }
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a report to a stream as UTF-8 (without a byte order mark).</summary>
    /// <param name="report">The report.</param>
    /// <param name="stream">Where to write; left open.</param>
    /// <param name="format">CSV or JSON.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the report is written and flushed.</returns>
    /// <exception cref="Exceptions.InvalidInputException">The report or stream is null, or the format unknown.</exception>
    public static async Task WriteAsync(UsageReport report, Stream stream, ExportFormat format, CancellationToken cancellationToken)
    {
        Utility.Preconditions.CheckNotNull(stream, "stream");
        var writer = new StreamWriter(stream, new UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        await using (writer.ConfigureAwait(false))
        {
            await WriteAsync(report, writer, format, cancellationToken).ConfigureAwait(false);
        }
    }

    internal static IReadOnlyList<string> CsvHeader(UsageReport report)
    {
        var request = report.Request;
        var header = new List<string>();
        if ((request.GroupBy & ReportGroups.Allocation) != 0)
        {
            header.Add("allocation_id");
            header.Add("allocation");
        }
        if ((request.GroupBy & ReportGroups.Sku) != 0)
        {
            header.Add("sku");
        }
        if ((request.GroupBy & ReportGroups.Status) != 0)
        {
            header.Add("status");
        }
        header.AddRange(request.AttributeKeys);
        if (request.Bucket != CalendarBucket.None)
        {
            header.Add("period");
            header.Add("period_start");
            header.Add("period_end");
        }
        header.AddRange(["unit", "amount", "usd", "events"]);
        return header;
    }

    private static async Task WriteCsvAsync(UsageReport report, TextWriter writer, CancellationToken cancellationToken)
    {
        var request = report.Request;
        await Csv.WriteRecordAsync(writer, CsvHeader(report), cancellationToken).ConfigureAwait(false);
        var fields = new List<string?>();
        foreach (var row in report.Rows)
        {
            fields.Clear();
            if ((request.GroupBy & ReportGroups.Allocation) != 0)
            {
                fields.Add(row.Allocation is { } id ? Csv.Number(id.Value) : null);
                fields.Add(row.AllocationName);
            }
            if ((request.GroupBy & ReportGroups.Sku) != 0)
            {
                fields.Add(row.Sku?.Value);
            }
            if ((request.GroupBy & ReportGroups.Status) != 0)
            {
                fields.Add(row.Status?.ToString());
            }
            fields.AddRange(row.AttributeValues);
            if (request.Bucket != CalendarBucket.None)
            {
                fields.Add(row.Period is { } p ? Csv.Date(p.Start) : null);
                fields.Add(row.Period is { } s ? Csv.Instant(s.Interval.Start) : null);
                fields.Add(row.Period is { } e ? Csv.Instant(e.Interval.End) : null);
            }
            fields.Add(row.Unit.Value);
            fields.Add(Csv.Amount(row.Amount));
            fields.Add(row.Usd is { } usd ? Csv.Amount(usd) : null);
            fields.Add(Csv.Number(row.Events));
            await Csv.WriteRecordAsync(writer, fields, cancellationToken).ConfigureAwait(false);
        }
    }

    private static ReportJson ToJson(UsageReport report)
    {
        var request = report.Request;
        return new ReportJson(
            report.From,
            report.To,
            request.Zone.Id,
            request.Bucket.ToString(),
            request.GroupBy.ToString(),
            request.AttributeKeys,
            report.Rows.Select(r => new ReportRowJson(
                r.Unit.Value,
                r.Allocation?.Value,
                r.AllocationName,
                r.Sku?.Value,
                r.Status?.ToString(),
                r.AttributeValues.Count == 0 ? null : request.AttributeKeys.Select((k, i) => (k, i)).ToDictionary(x => x.k, x => r.AttributeValues[x.i]),
                r.Period?.Start,
                r.Period?.Interval.Start,
                r.Period?.Interval.End,
                r.Amount.ToDecimal(),
                r.Usd?.ToDecimal(),
                r.Events)).ToList(),
            report.Totals.Select(t => new ReportTotalJson(t.Unit.Value, t.Amount.ToDecimal(), t.Usd?.ToDecimal())).ToList());
    }
}

/// <summary>The JSON shapes of exports and the one set of serializer options.</summary>
internal static class JsonExport
{
    internal static readonly JsonSerializerOptions Options = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
            TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
        };
        options.ConfigureForNodaTime(DateTimeZoneProviders.Tzdb);
        options.MakeReadOnly();
        return options;
    }

    internal static EventJson ToJson(UsageEvent e) => new(
        e.Id.Value,
        e.Allocation.Value,
        e.Sku.Value,
        e.Status.ToString(),
        e.Interval.Start,
        e.Interval.End,
        e.Quantity.ToDecimal(),
        e.Amount.ToDecimal(),
        e.UsdAmount?.ToDecimal(),
        e.ExternalKey,
        e.Attributes,
        e.RecordedAt,
        e.RecordedBy);
}

#pragma warning disable SA1649, SA1402 // the plain JSON carriers live together
internal sealed record EventJson(
    long Id,
    long Allocation,
    string Sku,
    string Status,
    Instant Start,
    Instant End,
    decimal Quantity,
    decimal Amount,
    decimal? Usd,
    string? ExternalKey,
    IReadOnlyDictionary<string, string> Attributes,
    Instant RecordedAt,
    string RecordedBy);

internal sealed record ReportRowJson(
    string Unit,
    long? AllocationId,
    string? Allocation,
    string? Sku,
    string? Status,
    IReadOnlyDictionary<string, string?>? Attributes,
    LocalDate? Period,
    Instant? PeriodStart,
    Instant? PeriodEnd,
    decimal Amount,
    decimal? Usd,
    int Events);

internal sealed record ReportTotalJson(string Unit, decimal Amount, decimal? Usd);

internal sealed record ReportJson(
    Instant From,
    Instant To,
    string Zone,
    string Bucket,
    string GroupBy,
    IReadOnlyList<string> AttributeKeys,
    IReadOnlyList<ReportRowJson> Rows,
    IReadOnlyList<ReportTotalJson> Totals);
