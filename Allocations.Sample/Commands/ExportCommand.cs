using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;

namespace Allocations.Sample.Commands;

/// <summary><c>export</c>: writes an allocation's events as CSV or JSON, page by page, with progress on stderr.
/// <code>
/// export --allocation NAME|ID [--db FILE] [--org ID] [--as USER] [--from DATE] [--to DATE] [--zone TZ] [--sku CODE]
///        [--status estimated|confirmed] [--attr KEY=VALUE]... [--oldest] [--format csv|json] [--out FILE]
/// </code></summary>
internal static class ExportCommand
{
    internal static async Task<int> RunAsync(string[] args)
    {
        var name = SampleOptions.Value(args, "--allocation");
        if (name is null || SampleOptions.Flag(args, "--help"))
        {
            Console.Error.WriteLine("usage: export --allocation NAME|ID [--db FILE] [--org ID] [--as USER] [--from DATE] [--to DATE] [--zone TZ]");
            Console.Error.WriteLine("              [--sku CODE] [--status estimated|confirmed] [--attr KEY=VALUE]... [--oldest] [--format csv|json] [--out FILE]");
            return name is null ? 2 : 0;
        }
        var path = SampleOptions.Value(args, "--db") ?? SampleOptions.DefaultDatabasePath();
        using var store = await AllocationStore.OpenAsync(path);
        var (org, actor) = ReportOptions.Who(args);
        var allocation = await ReportOptions.AllocationAsync(store, actor, org, name);
        var zone = ReportOptions.Zone(args);
        var attributes = new Dictionary<string, string>();
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--attr")
            {
                var pair = args[i + 1].Split('=', 2);
                if (pair.Length != 2)
                {
                    throw new InvalidInputException("--attr", args[i + 1], "KEY=VALUE is required");
                }
                attributes[pair[0]] = pair[1];
            }
        }
        var query = new EventQuery(
            ReportOptions.When(args, "--from", zone),
            ReportOptions.When(args, "--to", zone),
            SampleOptions.Value(args, "--sku") is { } sku ? new SkuCode(sku) : null,
            SampleOptions.Value(args, "--status")?.ToLowerInvariant() switch
            {
                null => null,
                "estimated" => UsageStatus.Estimated,
                "confirmed" => UsageStatus.Confirmed,
                var s => throw new InvalidInputException("--status", s, "estimated or confirmed"),
            },
            attributes.Count == 0 ? null : attributes,
            SampleOptions.Flag(args, "--oldest") ? EventOrder.OldestFirst : EventOrder.NewestFirst);
        var format = (SampleOptions.Value(args, "--format") ?? "csv").ToLowerInvariant() switch
        {
            "csv" => ExportFormat.Csv,
            "json" => ExportFormat.Json,
            var f => throw new InvalidInputException("--format", f, "csv or json"),
        };
        var output = ReportOptions.Output(args);
        var progress = new StderrProgress();
        try
        {
            var count = await store.ExportEventsAsync(actor, allocation, query, output, format, progress, default);
            progress.Done(count);
        }
        finally
        {
            if (!ReferenceEquals(output, Console.Out))
            {
                await output.DisposeAsync();
            }
        }
        return 0;
    }

    /// <summary>Shows the running count on one stderr line (rewritten in place on a terminal).</summary>
    private sealed class StderrProgress : IProgress<long>
    {
        private readonly bool terminal = !Console.IsErrorRedirected;

        public void Report(long value)
        {
            if (terminal)
            {
                Console.Error.Write($"\rexported {value:N0} events…");
            }
            else if (value % 10_000 == 0)
            {
                Console.Error.WriteLine($"exported {value:N0} events…");
            }
        }

        public void Done(long count) => Console.Error.WriteLine((terminal ? "\r" : "") + $"exported {count:N0} events.   ");
    }
}
