using System.CommandLine;
using Allocations.Domain;
using Allocations.Sample.Cli;
using NodaTime;

namespace Allocations.Sample.Commands;

/// <summary>Retroactive rate corrections (<c>rate correct</c>) and re-rating stored usage under today's rules with a
/// preview (<c>sku rerate</c>).</summary>
internal static class RerateCommands
{
    /// <summary><c>rate correct SKU --rate R --from X [--to Y] --reason TEXT</c>.</summary>
    internal static Command Correct()
    {
        var correct = new Command("correct", "Correct a SKU's rate over a period, past or future (replaces the rules there; stored usage is not re-rated)");
        var sku = new Argument<string>("SKU") { Description = "The SKU" };
        var value = Values.DecimalOption("--rate", "The correct rate over the period", "RATE");
        var from = Values.InstantOption("--from", "Start of the corrected period", required: true);
        var to = Values.InstantOption("--to", "End of the corrected period (exclusive; open-ended without it)");
        var reason = new Option<string>("--reason") { Description = "Why (kept in the journal)", HelpName = "TEXT", Required = true };
        correct.Add(sku);
        correct.Add(value);
        correct.Add(from);
        correct.Add(to);
        correct.Add(reason);
        Scope.Action(correct, Needs.Organization, async (s, p, ct) =>
        {
            var code = new SkuCode(p.GetValue(sku)!);
            var start = p.GetValue(from)!.Value;
            var end = p.GetValue(to);
            var rules = await s.Store.CorrectRateAsync(s.Actor, await s.OrgAsync(ct), code, start, end, Rate.FromDecimal(p.GetValue(value)), p.GetValue(reason)!, ct);
            var period = $"from {Values.Instant(start)}" + (end is { } e ? $" to {Values.Instant(e)}" : " on");
            Console.WriteLine($"corrected {code} to rate {Rate.FromDecimal(p.GetValue(value))} {period}; it now has {rules.Count} rule(s)");
            Console.WriteLine($"stored usage keeps its amounts: see what re-rating would change with 'allocations sku rerate {code} --from {Values.Instant(start)} --to {(end is { } t ? Values.Instant(t) : "INSTANT")} --preview'");
            return ExitCodes.Done;
        });
        return correct;
    }

    /// <summary><c>sku rerate SKU --from X --to Y (--preview | --apply TOKEN) [--max N]</c>.</summary>
    internal static Command Rerate()
    {
        var rerate = new Command("rerate", "Re-rate a SKU's stored usage over a period under today's rules: --preview lists what would change (writes nothing), --apply TOKEN applies exactly that preview");
        var sku = new Argument<string>("SKU") { Description = "The SKU" };
        var from = Values.InstantOption("--from", "Start of the period (events overlapping it are re-rated whole)", required: true);
        var to = Values.InstantOption("--to", "End of the period (exclusive)", required: true);
        var preview = new Option<bool>("--preview") { Description = "List the events whose rating would change, with old and new amounts and each allocation's deltas, and the preview's token" };
        var apply = new Option<string?>("--apply") { Description = "Apply the preview with this token (refused if anything it covers changed since)", HelpName = "TOKEN" };
        var max = new Option<int>("--max") { Description = "At most this many events per preview (1 to 100000)", HelpName = "N", DefaultValueFactory = _ => 10_000 };
        rerate.Add(sku);
        rerate.Add(from);
        rerate.Add(to);
        rerate.Add(preview);
        rerate.Add(apply);
        rerate.Add(max);
        Scope.Action(rerate, Needs.Organization, async (s, p, ct) =>
        {
            var token = p.GetValue(apply);
            if (p.GetValue(preview) == (token is not null))
            {
                throw new UsageException("give exactly one of --preview and --apply TOKEN");
            }
            var org = await s.OrgAsync(ct);
            var code = new SkuCode(p.GetValue(sku)!);
            var interval = new Interval(p.GetValue(from)!.Value, p.GetValue(to)!.Value);
            var current = await s.Store.PreviewRerateAsync(s.Actor, org, code, interval, p.GetValue(max), ct);
            var unit = (await s.Store.ListSkusAsync(s.Actor, org, ct)).First(k => k.Code == current.Sku).Unit;
            var precision = await s.PrecisionAsync(ct);
            var range = $"{Values.Instant(interval.Start)} to {Values.Instant(interval.End)}";
            if (token is null)
            {
                Print(current, unit, precision, range);
                return ExitCodes.Done;
            }
            if (current.Events.Count == 0)
            {
                Console.WriteLine($"nothing to apply: every {current.Sku} event from {range} is rated under today's rules already (a preview applied before changes nothing)");
                return ExitCodes.Done;
            }
            if (!string.Equals(current.Token, token.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                throw new ToolFailedException($"the re-rate preview of {current.Sku} from {range} changed since that token was taken (it is now {current.Token}); nothing was applied: preview again");
            }
            var result = await s.Store.RerateAsync(s.Actor, current, ct);
            Console.WriteLine($"re-rated {result.Rerated} {current.Sku} event(s) from {range} under today's rules ({result.AlreadyApplied} already were)");
            foreach (var a in result.Allocations)
            {
                Console.WriteLine($"  '{a.Name}': used {precision.Format(a.Used, unit)}, estimated {precision.Format(a.Estimated, unit)}, remaining {precision.Format(a.Remaining, unit)} {unit}{(result.OverTotal.Contains(a.Id) ? " (over its total)" : "")}");
            }
            if (!current.IsComplete)
            {
                Console.WriteLine($"more events differ: preview again for the next {p.GetValue(max)}");
            }
            return ExitCodes.Done;
        });
        return rerate;
    }

    private static void Print(ReratePreview preview, UnitCode unit, Precision precision, string range)
    {
        Console.WriteLine($"re-rating {preview.Sku} from {range} under today's rules would change {preview.Events.Count}{(preview.IsComplete ? "" : "+")} event(s); nothing was written");
        if (preview.Events.Count > 0)
        {
            var names = preview.Allocations.ToDictionary(a => a.Allocation, a => a.Name);
            var events = new TextTable("Event", "Allocation", "Status", "Old", "New", "Delta").Right("Old", "New", "Delta");
            foreach (var e in preview.Events)
            {
                events.Add(e.Event.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), names.GetValueOrDefault(e.Allocation, e.Allocation.ToString()), e.Status.ToString(),
                    precision.Format(e.OldAmount, unit), precision.Format(e.NewAmount, unit), Signed(precision.Format(e.Delta, unit), e.Delta));
            }
            events.Write(Console.Out);
            Console.WriteLine();
            var deltas = new TextTable("Allocation", "Used delta", "Estimated delta").Right("Used delta", "Estimated delta");
            foreach (var a in preview.Allocations)
            {
                deltas.Add(a.Name, Signed(precision.Format(a.UsedDelta, unit), a.UsedDelta), Signed(precision.Format(a.EstimatedDelta, unit), a.EstimatedDelta));
            }
            deltas.Write(Console.Out);
        }
        if (!preview.IsComplete)
        {
            Console.WriteLine("more events differ beyond --max: apply this preview, then preview again");
        }
        Console.WriteLine($"token: {preview.Token}");
    }

    private static string Signed(string text, Amount value) => value.Micros > 0 ? "+" + text : text;
}
