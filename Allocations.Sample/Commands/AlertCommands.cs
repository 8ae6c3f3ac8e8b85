using System.CommandLine;
using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Sample.Cli;

namespace Allocations.Sample.Commands;

/// <summary>Alert thresholds (<c>alloc thresholds</c>) and the alerts their crossings record (<c>alerts list</c>).</summary>
internal static class AlertCommands
{
    /// <summary><c>alloc thresholds ALLOCATION [--percent-used P]... [--remaining AMOUNT]... [--clear]</c>: sets the
    /// thresholds given (replacing the old ones), clears them, or with neither shows them.</summary>
    internal static Command Thresholds()
    {
        var thresholds = new Command("thresholds", "Show, set or clear an allocation's alert thresholds (setting replaces them all)");
        var name = new Argument<string>("ALLOCATION") { Description = "The allocation, by name or id" };
        var percent = Decimals("--percent-used", "Alert when % Used reaches this percentage (above 0, at most 1000; repeat for several)", "PERCENT");
        var remaining = Decimals("--remaining", "Alert when Remaining falls to this amount (zero or more; repeat for several)", "AMOUNT");
        var clear = new Option<bool>("--clear") { Description = "Remove every threshold" };
        thresholds.Add(name);
        thresholds.Add(percent);
        thresholds.Add(remaining);
        thresholds.Add(clear);
        Scope.Action(thresholds, Needs.Organization, async (s, p, ct) =>
        {
            var a = await s.AllocationAsync(p.GetValue(name)!, ct);
            var percents = p.GetValue(percent) ?? [];
            var amounts = p.GetValue(remaining) ?? [];
            var wanted = percents.Length + amounts.Length;
            if (p.GetValue(clear) && wanted > 0)
            {
                throw new UsageException("--clear cannot be combined with --percent-used or --remaining");
            }
            IReadOnlyList<AlertThreshold> now;
            if (p.GetValue(clear) || wanted > 0)
            {
                var list = percents.Select(AlertThreshold.PercentUsed).Concat(amounts.Select(x => AlertThreshold.Remaining(Amount.FromDecimal(x)))).ToList();
                now = await s.Store.SetAlertThresholdsAsync(s.Actor, a.Id, list, ct);
                Console.WriteLine(now.Count == 0 ? $"cleared the alert thresholds of '{a.Name}'" : $"set the alert thresholds of '{a.Name}': {string.Join(", ", now)}");
                return ExitCodes.Done;
            }
            now = await s.Store.GetAlertThresholdsAsync(s.Actor, a.Id, ct);
            Console.WriteLine(now.Count == 0 ? $"'{a.Name}' has no alert thresholds" : $"alert thresholds of '{a.Name}': {string.Join(", ", now)}");
            return ExitCodes.Done;
        });
        return thresholds;
    }

    /// <summary><c>alerts list [--after CURSOR] [--follow] [--interval SECONDS]</c>.</summary>
    internal static Command Alerts()
    {
        var alerts = new Command("alerts", "Alerts recorded when a write crossed an allocation's threshold");
        var list = new Command("list", "Print the organization's alerts in order, one line each, starting with its cursor (pass the last one to --after to read on)");
        var after = new Option<string?>("--after") { Description = "Only the alerts after this cursor (alert:N, as printed)", HelpName = "CURSOR" };
        var follow = new Option<bool>("--follow") { Description = "Keep waiting for new alerts and print them as they are recorded, until Ctrl-C or SIGTERM" };
        var interval = Values.DecimalOption("--interval", "With --follow, how long to wait between looks for new alerts, in seconds (0.1 to 3600; default 2)", "SECONDS", required: false);
        interval.DefaultValueFactory = _ => 2m;
        list.Add(after);
        list.Add(follow);
        list.Add(interval);
        Scope.Action(list, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var cursor = p.GetValue(after) is { } text ? Cursor(text) : AlertCursor.Start;
            var seconds = p.GetValue(interval);
            if (seconds is < 0.1m or > 3600m)
            {
                throw new UsageException($"--interval must be between 0.1 and 3600 seconds, not {seconds.ToString(CultureInfo.InvariantCulture)}");
            }
            var precision = await s.PrecisionAsync(ct);
            try
            {
                while (true)
                {
                    var page = await s.Store.GetAlertsAsync(s.Actor, org, cursor, 1000, ct);
                    if (page.Alerts.Count > 0)
                    {
                        var units = (await s.Store.ListAllocationsAsync(s.Actor, org, ct)).ToDictionary(a => a.Id, a => a.Unit);
                        foreach (var alert in page.Alerts)
                        {
                            Console.WriteLine(Line(alert, precision, units.TryGetValue(alert.Allocation, out var unit) ? unit : null));
                        }
                    }
                    if (page.Next != cursor)
                    {
                        cursor = page.Next;
                        continue; // more may follow at once
                    }
                    if (!p.GetValue(follow))
                    {
                        return ExitCodes.Done;
                    }
                    // A timer wait, not the store's clock: hosts with a fixed or simulated clock still follow.
                    await Task.Delay(TimeSpan.FromMilliseconds((double)(seconds * 1000m)), ct);
                }
            }
            catch (OperationCanceledException) when (p.GetValue(follow) && ct.IsCancellationRequested)
            {
                // Ctrl-C or SIGTERM ends a follow: everything recorded so far has been printed.
                return ExitCodes.Done;
            }
        });
        alerts.Add(list);

        var sweep = new Command("sweep", "Record the period alerts due now: periods ending within the lead (30 days) and periods ended with budget unspent, each once (run from cron)");
        Scope.Action(sweep, Needs.Organization, async (s, _, ct) =>
        {
            var recorded = await s.Store.SweepPeriodAlertsAsync(s.Actor, await s.OrgAsync(ct), ct);
            Console.WriteLine($"recorded {recorded} period alert(s)");
            return ExitCodes.Done;
        });
        alerts.Add(sweep);
        return alerts;
    }

    private static AlertCursor Cursor(string text)
    {
        try
        {
            return AlertCursor.Parse(text);
        }
        catch (InvalidInputException)
        {
            throw new UsageException($"'{text}' is not an alert cursor for --after (use alert:N as printed, or N)");
        }
    }

    /// <summary>One alert on one line; amounts at the unit's display precision (exact when the allocation is gone).</summary>
    private static string Line(Alert a, Precision precision, UnitCode? unit)
    {
        string F(Amount x) => unit is null ? x.ToString() : precision.Format(x, unit.Value);
        var pct = a.PercentUsed is { } v ? Math.Round(v, 1).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "-";
        return $"{a.Cursor}  {Values.Instant(a.At)}  '{a.AllocationName}' {(a.Direction == AlertDirection.Up ? "reached" : "left")} {a.Threshold}: " +
            $"total {F(a.Total)}, used {F(a.Used)}, estimated {F(a.Estimated)}, remaining {F(a.Remaining)}, % used {pct}; " +
            $"{a.Operation}{(a.Event is { } e ? " " + e : "")} by {a.Actor}";
    }

    /// <summary>A repeatable decimal option (<c>--x 1 --x 2</c>), each value parsed strictly.</summary>
    private static Option<decimal[]> Decimals(string name, string description, string helpName) => new(name)
    {
        Description = description,
        HelpName = helpName,
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
        CustomParser = r =>
        {
            var values = new List<decimal>();
            foreach (var token in r.Tokens)
            {
                if (!decimal.TryParse(token.Value, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
                {
                    r.AddError($"'{token.Value}' is not a number for {name} (use a decimal point: 80.5)");
                    return [];
                }
                values.Add(value);
            }
            return [.. values];
        },
    };
}
