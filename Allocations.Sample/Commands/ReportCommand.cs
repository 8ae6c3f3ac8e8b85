using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;

namespace Allocations.Sample.Commands;

/// <summary><c>report</c>: the allocation table, or a usage report over a period.
/// <code>
/// report [--db FILE] [--org ID] [--as USER] [--sort name|unit|total|used|estimated|remaining|percent] [--desc] [--unit U] [--parent NAME]
/// report --by allocation,sku,status,user,project,... [--bucket day|week|month] [--zone TZ] [--from DATE] [--to DATE]
///        [--allocation NAME] [--format table|csv|json] [--out FILE]
/// </code>
/// On a database without the organization (a clean clone), it first seeds a small sample organization.</summary>
internal static class ReportCommand
{
    internal static async Task<int> RunAsync(string[] args)
    {
        if (SampleOptions.Flag(args, "--help"))
        {
            Console.WriteLine("usage: report [--db FILE] [--org ID] [--as USER] [--sort COLUMN] [--desc] [--unit U] [--parent NAME]");
            Console.WriteLine("       report --by allocation,sku,status,ATTRIBUTE... [--bucket day|week|month] [--zone TZ] [--from DATE] [--to DATE]");
            Console.WriteLine("              [--allocation NAME] [--format table|csv|json] [--out FILE]");
            return 0;
        }
        var path = SampleOptions.Value(args, "--db") ?? SampleOptions.DefaultDatabasePath();
        using var store = await AllocationStore.OpenAsync(path);
        var (org, actor) = ReportOptions.Who(args);
        if (SampleOptions.Value(args, "--org") is null && !await SampleData.ExistsAsync(store, org))
        {
            Console.Error.WriteLine($"{path} has no organization yet: seeding a sample organization with a month of usage");
            org = await SampleData.SeedAsync(store);
        }
        var periodOptions = new[] { "--by", "--bucket", "--from", "--to", "--format", "--allocation" };
        if (periodOptions.Any(o => SampleOptions.Value(args, o) is not null))
        {
            return await PeriodReportAsync(store, org, actor, args);
        }
        var query = new AllocationTableQuery(
            SampleOptions.Value(args, "--unit") is { } unit ? new UnitCode(unit) : null,
            SampleOptions.Value(args, "--parent") is { } parent ? await ReportOptions.AllocationAsync(store, actor, org, parent) : null,
            ParseSort(SampleOptions.Value(args, "--sort")),
            SampleOptions.Flag(args, "--desc"));
        await PrintTableAsync(store, org, actor, query, Console.Out);
        return 0;
    }

    /// <summary>Prints the allocation table the actor can Read.</summary>
    internal static async Task PrintTableAsync(AllocationStore store, OrganizationId org, Principal actor, AllocationTableQuery query, TextWriter output)
    {
        var rows = await store.GetAllocationTableAsync(actor, org, query);
        var table = new TextTable("Name", "Unit", "Parent", "Total", "Used", "Estimated", "Remaining", "% Used")
            .Right("Total", "Used", "Estimated", "Remaining", "% Used");
        foreach (var r in rows)
        {
            table.Add(
                (r.Depth > 0 ? "  └ " : "") + r.Name,
                r.Unit.Value,
                r.ParentName ?? "",
                ReportOptions.Format(r.Total),
                ReportOptions.Format(r.Used),
                ReportOptions.Format(r.Estimated),
                ReportOptions.Format(r.Remaining),
                r.PercentUsed is { } p ? Math.Round(p, 1, MidpointRounding.ToEven).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "—");
        }
        table.Write(output);
        output.WriteLine($"{rows.Count} allocation(s) readable by {actor}");
    }

    private static AllocationSort ParseSort(string? text) => text?.ToLowerInvariant() switch
    {
        null or "name" => AllocationSort.Name,
        "unit" => AllocationSort.Unit,
        "total" => AllocationSort.Total,
        "used" => AllocationSort.Used,
        "estimated" => AllocationSort.Estimated,
        "remaining" => AllocationSort.Remaining,
        "percent" or "%" or "percentused" => AllocationSort.PercentUsed,
        _ => throw new InvalidInputException("--sort", text, "one of name, unit, total, used, estimated, remaining, percent"),
    };

    internal static (ReportGroups Groups, List<string> Attributes) ParseBy(string? by)
    {
        var groups = ReportGroups.None;
        var attributes = new List<string>();
        foreach (var part in (by ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (part.ToLowerInvariant())
            {
                case "allocation": groups |= ReportGroups.Allocation; break;
                case "sku": groups |= ReportGroups.Sku; break;
                case "status": groups |= ReportGroups.Status; break;
                default: attributes.Add(part); break;
            }
        }
        return (groups, attributes);
    }

    private static CalendarBucket ParseBucket(string? text) => text?.ToLowerInvariant() switch
    {
        null or "none" => CalendarBucket.None,
        "day" => CalendarBucket.Day,
        "week" => CalendarBucket.Week,
        "month" => CalendarBucket.Month,
        _ => throw new InvalidInputException("--bucket", text, "one of day, week, month"),
    };

    private static async Task<int> PeriodReportAsync(AllocationStore store, OrganizationId org, Principal actor, string[] args)
    {
        var zone = ReportOptions.Zone(args);
        var (groups, attributes) = ParseBy(SampleOptions.Value(args, "--by"));
        var request = new UsageReportRequest(org, ReportOptions.When(args, "--from", zone), ReportOptions.When(args, "--to", zone))
        {
            GroupBy = groups,
            AttributeKeys = attributes,
            Bucket = ParseBucket(SampleOptions.Value(args, "--bucket")),
            Zone = zone,
            Allocations = SampleOptions.Value(args, "--allocation") is { } name ? [await ReportOptions.AllocationAsync(store, actor, org, name)] : null,
        };
        var report = await store.GetUsageReportAsync(actor, request);
        var format = (SampleOptions.Value(args, "--format") ?? "table").ToLowerInvariant();
        var output = ReportOptions.Output(args);
        try
        {
            switch (format)
            {
                case "table":
                    Print(report, output);
                    break;
                case "csv":
                    await ReportExport.WriteAsync(report, output, ExportFormat.Csv, default);
                    break;
                case "json":
                    await ReportExport.WriteAsync(report, output, ExportFormat.Json, default);
                    break;
                default:
                    throw new InvalidInputException("--format", format, "one of table, csv, json");
            }
        }
        finally
        {
            await output.FlushAsync();
            if (!ReferenceEquals(output, Console.Out))
            {
                await output.DisposeAsync();
                Console.Error.WriteLine($"wrote {report.Rows.Count} line(s) to {SampleOptions.Value(args, "--out")}");
            }
        }
        return 0;
    }

    /// <summary>Prints a report as a text table with a total line per unit.</summary>
    internal static void Print(UsageReport report, TextWriter output, string missing = "(none)")
    {
        var request = report.Request;
        var headers = new List<string>();
        if (request.Bucket != CalendarBucket.None)
        {
            headers.Add(request.Bucket.ToString());
        }
        if ((request.GroupBy & ReportGroups.Allocation) != 0)
        {
            headers.Add("Allocation");
        }
        if ((request.GroupBy & ReportGroups.Sku) != 0)
        {
            headers.Add("SKU");
        }
        if ((request.GroupBy & ReportGroups.Status) != 0)
        {
            headers.Add("Status");
        }
        headers.AddRange(request.AttributeKeys);
        headers.AddRange(["Unit", "Amount", "USD", "Events"]);
        var table = new TextTable([.. headers]).Right("Amount", "USD", "Events");
        var rows = report.Rows.OrderBy(r => r.Period?.Interval.Start).ToList();
        foreach (var r in rows)
        {
            var values = new List<string?>();
            if (request.Bucket != CalendarBucket.None)
            {
                values.Add(r.Period!.Start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            }
            if ((request.GroupBy & ReportGroups.Allocation) != 0)
            {
                values.Add(r.AllocationName);
            }
            if ((request.GroupBy & ReportGroups.Sku) != 0)
            {
                values.Add(r.Sku?.Value);
            }
            if ((request.GroupBy & ReportGroups.Status) != 0)
            {
                values.Add(r.Status?.ToString());
            }
            values.AddRange(r.AttributeValues.Select(v => v ?? missing));
            values.AddRange([r.Unit.Value, ReportOptions.Format(r.Amount), r.Usd is { } usd ? ReportOptions.Format(usd) : "", r.Events.ToString(CultureInfo.InvariantCulture)]);
            table.Add([.. values]);
        }
        table.Separator();
        foreach (var total in report.Totals)
        {
            var values = Enumerable.Repeat<string?>("", headers.Count - 4).ToList();
            if (values.Count > 0)
            {
                values[0] = "Total";
            }
            values.AddRange([total.Unit.Value, ReportOptions.Format(total.Amount), total.Usd is { } usd ? ReportOptions.Format(usd) : "", ""]);
            table.Add([.. values]);
        }
        output.WriteLine($"Usage {report.From:uuuu-MM-dd'T'HH:mm'Z'} .. {report.To:uuuu-MM-dd'T'HH:mm'Z'} ({request.Zone.Id})");
        table.Write(output);
    }
}
