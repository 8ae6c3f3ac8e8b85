using System.CommandLine;
using System.Globalization;
using Allocations.Domain;
using Allocations.Reporting;
using Allocations.Sample.Cli;
using NodaTime;

namespace Allocations.Sample.Commands;

/// <summary>The read commands: report, export, journal, verify. Amounts are shown at their unit's display precision.</summary>
internal static class ReadCommands
{
    internal static IEnumerable<Command> All() => [Report(), Export(), Journal(), Verify()];

    private static Command Report()
    {
        var report = new Command("report", "The allocation table, or a usage report over a period (grouped, bucketed, as a table, CSV or JSON)");
        var sort = new Option<string>("--sort") { Description = "Table order", HelpName = "COLUMN", DefaultValueFactory = _ => "name" };
        sort.OneOf("name", "unit", "total", "used", "estimated", "remaining", "percent");
        var desc = new Option<bool>("--desc") { Description = "Sort descending" };
        var unit = new Option<string?>("--unit") { Description = "Only allocations in this unit", HelpName = "UNIT" };
        var parent = new Option<string?>("--parent") { Description = "Only this parent's children", HelpName = "NAME|ID" };
        var by = new Option<string?>("--by") { Description = "Usage report grouped by: allocation, sku, status and/or attribute keys (user, project, cluster, ...), comma-separated", HelpName = "LIST" };
        var bucket = new Option<string?>("--bucket") { Description = "Usage report per calendar day, week or month", HelpName = "BUCKET" };
        bucket.OneOf("day", "week", "month");
        var zone = new Option<string?>("--zone") { Description = "Time zone of dates and buckets (tz database id; default UTC)", HelpName = "TZ" };
        var from = new Option<string?>("--from") { Description = "Usage report from (an instant, or a date at midnight in --zone)", HelpName = "WHEN" };
        var to = new Option<string?>("--to") { Description = "Usage report to, exclusive", HelpName = "WHEN" };
        var allocation = new Option<string?>("--allocation") { Description = "Usage report of this allocation only", HelpName = "NAME|ID" };
        var format = new Option<string>("--format") { Description = "table, csv or json (csv and json give the usage report)", HelpName = "FORMAT", DefaultValueFactory = _ => "table" };
        format.OneOf("table", "csv", "json");
        var output = Values.Out();
        var asOf = Values.InstantOption("--as-of", "The allocation table as it stood at this instant of the store's clock (not with the usage report's options)");
        foreach (var option in new Option[] { sort, desc, unit, parent, by, bucket, zone, from, to, allocation, format, output, asOf })
        {
            report.Add(option);
        }
        Scope.Action(report, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var tz = Values.Zone(p.GetValue(zone));
            var periodMode = p.GetValue(by) is not null || p.GetValue(bucket) is not null || p.GetValue(from) is not null || p.GetValue(to) is not null
                || p.GetValue(allocation) is not null || p.GetValue(format) != "table";
            if (!periodMode)
            {
                var query = new AllocationTableQuery(
                    p.GetValue(unit) is { } u ? new UnitCode(u) : null,
                    p.GetValue(parent) is { } parentText ? (await s.AllocationAsync(parentText, ct)).Id : null,
                    SortOf(p.GetValue(sort)!),
                    p.GetValue(desc));
                await WriteToAsync(p.GetValue(output), writer => PrintTableAsync(s, query, writer, ct, p.GetValue(asOf)));
                return ExitCodes.Done;
            }
            if (p.GetValue(asOf) is not null)
            {
                throw new UsageException("--as-of gives the allocation table; it does not combine with --by, --bucket, --from, --to, --allocation or --format");
            }
            var (groups, attributes) = ParseBy(p.GetValue(by));
            var request = new UsageReportRequest(org, When(p.GetValue(from), "--from", tz), When(p.GetValue(to), "--to", tz))
            {
                GroupBy = groups,
                AttributeKeys = attributes,
                Bucket = p.GetValue(bucket) switch { "day" => CalendarBucket.Day, "week" => CalendarBucket.Week, "month" => CalendarBucket.Month, _ => CalendarBucket.None },
                Zone = tz,
                Allocations = p.GetValue(allocation) is { } name ? [(await s.AllocationAsync(name, ct)).Id] : null,
            };
            var precision = await s.PrecisionAsync(ct);
            var result = await s.Store.GetUsageReportAsync(s.Actor, request, ct);
            await WriteToAsync(p.GetValue(output), async writer =>
            {
                switch (p.GetValue(format))
                {
                    case "csv":
                        await ReportExport.WriteAsync(result, writer, ExportFormat.Csv, ct);
                        break;
                    case "json":
                        await ReportExport.WriteAsync(result, writer, ExportFormat.Json, ct);
                        break;
                    default:
                        Print(result, writer, precision);
                        break;
                }
            });
            if (p.GetValue(output) is { } path)
            {
                Console.Error.WriteLine($"wrote {result.Rows.Count} row(s) to {path}");
            }
            return ExitCodes.Done;
        });
        return report;
    }

    /// <summary>Runs <paramref name="write"/> on standard output or on the file (opened before anything is read).</summary>
    private static async Task WriteToAsync(string? path, Func<TextWriter, Task> write)
    {
        var writer = Values.OpenOutput(path);
        try
        {
            await write(writer);
            await writer.FlushAsync();
        }
        finally
        {
            if (!ReferenceEquals(writer, Console.Out))
            {
                await writer.DisposeAsync();
            }
        }
    }

    private static AllocationSort SortOf(string text) => text switch
    {
        "unit" => AllocationSort.Unit,
        "total" => AllocationSort.Total,
        "used" => AllocationSort.Used,
        "estimated" => AllocationSort.Estimated,
        "remaining" => AllocationSort.Remaining,
        "percent" => AllocationSort.PercentUsed,
        _ => AllocationSort.Name,
    };

    private static Instant? When(string? text, string name, DateTimeZone zone) =>
        text is null ? null : Values.TryInstant(text, zone) ?? throw new UsageException($"{name} '{text}' is not an instant (2026-11-01T00:00:00Z) or a date (2026-11-01)");

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

    /// <summary>Prints the allocation table the scope's actor can Read.</summary>
    internal static async Task PrintTableAsync(Scope s, AllocationTableQuery query, TextWriter output, CancellationToken ct, Instant? asOf = null) =>
        await PrintTableAsync(s.Store, await s.OrgAsync(ct), s.Actor, query, output, await s.PrecisionAsync(ct), ct, asOf);

    /// <summary>Prints the allocation table the actor can Read.</summary>
    internal static async Task PrintTableAsync(AllocationStore store, OrganizationId org, Principal actor, AllocationTableQuery query, TextWriter output, Precision? precision = null, CancellationToken ct = default, Instant? asOf = null)
    {
        precision ??= new Precision((await store.ListUnitsAsync(actor, org, ct)).ToDictionary(u => u.Code, u => u.DisplayPrecision));
        var rows = asOf is { } then ? await store.GetAllocationTableAsOfAsync(actor, org, then, query, ct) : await store.GetAllocationTableAsync(actor, org, query, ct);
        var table = new TextTable("Name", "Unit", "Parent", "Total", "Used", "Estimated", "Remaining", "% Used")
            .Right("Total", "Used", "Estimated", "Remaining", "% Used");
        foreach (var r in rows)
        {
            table.Add(
                (r.Depth > 0 ? "  └ " : "") + r.Name,
                r.Unit.Value,
                r.ParentName ?? "",
                precision.Format(r.Total, r.Unit),
                precision.Format(r.Used, r.Unit),
                precision.Format(r.Estimated, r.Unit),
                precision.Format(r.Remaining, r.Unit),
                r.PercentUsed is { } pct ? Math.Round(pct, 1, MidpointRounding.ToEven).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "—");
        }
        table.Write(output);
        output.WriteLine($"{rows.Count} allocation(s) readable by {actor}");
    }

    /// <summary>Prints a usage report as a text table with a total line per unit.</summary>
    internal static void Print(UsageReport report, TextWriter output, Precision precision, string missing = "(none)")
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
        foreach (var r in report.Rows.OrderBy(r => r.Period?.Interval.Start))
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
            values.AddRange([r.Unit.Value, precision.Format(r.Amount, r.Unit), r.Usd is { } usd ? usd.ToString(2) : "", r.Events.ToString(CultureInfo.InvariantCulture)]);
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
            values.AddRange([total.Unit.Value, precision.Format(total.Amount, total.Unit), total.Usd is { } usd ? usd.ToString(2) : "", ""]);
            table.Add([.. values]);
        }
        output.WriteLine($"Usage {report.From:uuuu-MM-dd'T'HH:mm'Z'} .. {report.To:uuuu-MM-dd'T'HH:mm'Z'} ({request.Zone.Id})");
        table.Write(output);
    }

    private static Command Export()
    {
        var export = new Command("export", "Write an allocation's usage events as CSV or JSON, page by page");
        var allocation = new Option<string>("--allocation") { Description = "The allocation, by name or id", HelpName = "NAME|ID", Required = true };
        var zone = new Option<string?>("--zone") { Description = "Time zone of dates (default UTC)", HelpName = "TZ" };
        var from = new Option<string?>("--from") { Description = "Events from (an instant, or a date at midnight in --zone)", HelpName = "WHEN" };
        var to = new Option<string?>("--to") { Description = "Events to, exclusive", HelpName = "WHEN" };
        var sku = new Option<string?>("--sku") { Description = "Only this SKU", HelpName = "SKU" };
        var status = new Option<string?>("--status") { Description = "Only estimated or confirmed events", HelpName = "STATUS" };
        status.OneOf("estimated", "confirmed");
        var attr = new Option<string[]>("--attr") { Description = "Only events with this attribute (repeatable)", HelpName = "KEY=VALUE" };
        var oldest = new Option<bool>("--oldest") { Description = "Oldest first (default newest first)" };
        var format = new Option<string>("--format") { Description = "csv or json", HelpName = "FORMAT", DefaultValueFactory = _ => "csv" };
        format.OneOf("csv", "json");
        var output = Values.Out();
        foreach (var option in new Option[] { allocation, zone, from, to, sku, status, attr, oldest, format, output })
        {
            export.Add(option);
        }
        Scope.Action(export, Needs.Organization, async (s, p, ct) =>
        {
            var tz = Values.Zone(p.GetValue(zone));
            var query = new EventQuery(
                When(p.GetValue(from), "--from", tz),
                When(p.GetValue(to), "--to", tz),
                p.GetValue(sku) is { } code ? new SkuCode(code) : null,
                UsageCommands.StatusOf(p.GetValue(status)),
                UsageCommands.Attributes(p.GetValue(attr)),
                p.GetValue(oldest) ? EventOrder.OldestFirst : EventOrder.NewestFirst);
            var target = await s.AllocationAsync(p.GetValue(allocation)!, ct);
            var progress = new Progress();
            long count = 0;
            await WriteToAsync(p.GetValue(output), async writer =>
                count = await s.Store.ExportEventsAsync(s.Actor, target.Id, query, writer, p.GetValue(format) == "json" ? ExportFormat.Json : ExportFormat.Csv, progress, ct));
            progress.Done();
            Console.Error.WriteLine($"exported {count} event(s) of '{target.Name}'{(p.GetValue(output) is { } path ? " to " + path : "")}");
            return ExitCodes.Done;
        });
        return export;
    }

    /// <summary>A running count on one stderr line, only when stderr is a terminal (never in logs or pipes).</summary>
    internal sealed class Progress : IProgress<long>
    {
        private readonly bool terminal = !Console.IsErrorRedirected;
        private bool shown;

        public void Report(long value)
        {
            if (terminal)
            {
                Console.Error.Write($"\rexported {value:N0} events…");
                shown = true;
            }
        }

        public void Done()
        {
            if (shown)
            {
                Console.Error.Write("\r" + new string(' ', 40) + "\r");
            }
        }
    }

    private static Command Journal()
    {
        var journal = new Command("journal", "The organization's hash-chained journal of every change");
        var list = new Command("list", "List journal entries, oldest first");
        var allocation = new Option<string?>("--allocation") { Description = "Only this allocation's entries", HelpName = "NAME|ID" };
        var after = new Option<long>("--after") { Description = "Entries after this sequence number", HelpName = "SEQ" };
        var limit = new Option<int>("--limit") { Description = "At most this many entries (1 to 10000)", HelpName = "N", DefaultValueFactory = _ => 1000 };
        list.Add(allocation);
        list.Add(after);
        list.Add(limit);
        Scope.Action(list, Needs.Organization, async (s, p, ct) =>
        {
            var entries = p.GetValue(allocation) is { } name
                ? await s.Store.GetAllocationJournalAsync(s.Actor, (await s.AllocationAsync(name, ct)).Id, p.GetValue(after), p.GetValue(limit), ct)
                : await s.Store.GetOrganizationJournalAsync(s.Actor, await s.OrgAsync(ct), p.GetValue(after), p.GetValue(limit), ct);
            var table = new TextTable("Seq", "At", "Actor", "Action", "Target", "Events").Right("Seq");
            foreach (var e in entries)
            {
                table.Add(e.Sequence.ToString(CultureInfo.InvariantCulture), Values.Instant(e.At), e.Actor, e.Action, e.Target, BatchSummary(e));
            }
            table.Write(Console.Out);
            return ExitCodes.Done;
        });
        journal.Add(list);

        var verify = new Command("verify", "Check the journal's hash chain (exit 1 when it is broken)");
        Scope.Action(verify, Needs.Organization, async (s, _, ct) =>
        {
            var result = await s.Store.VerifyJournalAsync(s.Actor, await s.OrgAsync(ct), ct);
            if (result.IsIntact)
            {
                Console.WriteLine($"journal intact: {result.EntriesChecked} entries, head {result.HeadHash ?? "(empty)"}");
                return ExitCodes.Done;
            }
            Console.Error.WriteLine($"error: journal broken at entry #{result.FirstBrokenSequence}: {result.Problem}");
            return ExitCodes.Failed;
        });
        journal.Add(verify);
        return journal;
    }

    /// <summary>What a <c>usage.batch</c> entry recorded, per allocation part: "allocation:7 12 (amount 340.5, used
    /// 300, estimated 40.5)"; empty for other entries.</summary>
    private static string BatchSummary(JournalEntry entry)
    {
        if (entry.Action != "usage.batch" || entry.After is null)
        {
            return "";
        }
        using var json = System.Text.Json.JsonDocument.Parse(entry.After);
        var parts = json.RootElement.GetProperty("parts").EnumerateArray().Select(p =>
            $"allocation:{p.GetProperty("allocation").GetInt64().ToString(CultureInfo.InvariantCulture)} {p.GetProperty("events").GetInt64().ToString(CultureInfo.InvariantCulture)} " +
            $"(amount {p.GetProperty("amount").GetString()}, used {p.GetProperty("used").GetString()}, estimated {p.GetProperty("estimated").GetString()})");
        return string.Join("; ", parts);
    }

    private static Command Verify()
    {
        var verify = new Command("verify", "Recompute every allocation's figures from its events and compare (exit 1 on a discrepancy)");
        var replay = new Option<bool>("--replay") { Description = "Also replay the journal and check every allocation, event, grant, group member and admin against it" };
        verify.Add(replay);
        Scope.Action(verify, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var result = await s.Store.VerifyAsync(s.Actor, org, ct);
            foreach (var d in result.Discrepancies)
            {
                Console.WriteLine($"discrepancy: allocation {d.Allocation.Value} {d.Figure}: stored {d.Stored}, recomputed {d.Recomputed}");
            }
            var failed = !result.IsClean;
            if (result.IsClean)
            {
                Console.WriteLine($"verified: {result.AllocationsChecked} allocation(s), {result.EventsChecked} event(s), figures match");
            }
            else
            {
                Console.Error.WriteLine($"error: {result.Discrepancies.Count} discrepancy(ies) in {result.AllocationsChecked} allocation(s)");
            }
            if (p.GetValue(replay))
            {
                var replayed = await s.Store.VerifyAgainstJournalAsync(s.Actor, org, ct);
                foreach (var f in replayed.Findings)
                {
                    Console.WriteLine($"differs from the journal: {f.Table} {f.Row}: {f.Problem}");
                }
                if (!replayed.Chain.IsIntact)
                {
                    Console.Error.WriteLine($"error: journal broken at entry #{replayed.Chain.FirstBrokenSequence}: {replayed.Chain.Problem}");
                }
                else if (replayed.Findings.Count > 0)
                {
                    Console.Error.WriteLine($"error: {replayed.Findings.Count} row(s) differ from what the journal's {replayed.EntriesReplayed} entries say");
                }
                else
                {
                    Console.WriteLine($"replayed: {replayed.EntriesReplayed} journal entries, the stored state matches them");
                }
                failed |= !replayed.IsClean;
            }
            return failed ? ExitCodes.Failed : ExitCodes.Done;
        });
        return verify;
    }
}
