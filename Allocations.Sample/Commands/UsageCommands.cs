using System.CommandLine;
using System.Globalization;
using Allocations.Domain;
using Allocations.Reporting;
using Allocations.Sample.Cli;
using NodaTime;

namespace Allocations.Sample.Commands;

/// <summary>The usage commands: record, reserve, confirm, extend, release, sweep, list.</summary>
internal static class UsageCommands
{
    internal static Command Usage()
    {
        var usage = new Command("usage", "Record, reserve, confirm, extend, release, sweep and list usage events");
        usage.Add(RecordOrReserve("record", "Record usage (rated and charged at once; an external key makes it idempotent)", reserve: false));
        usage.Add(RecordOrReserve("reserve", "Reserve a hold (Estimated) if it fits the allocation and its parent; exit 1 when refused", reserve: true));
        usage.Add(Confirm());
        usage.Add(Extend());
        usage.Add(Release());
        usage.Add(Sweep());
        usage.Add(List());
        return usage;
    }

    private static Command RecordOrReserve(string name, string description, bool reserve)
    {
        var command = new Command(name, description);
        var allocation = new Option<string>("--allocation") { Description = "The allocation, by name or id", HelpName = "NAME|ID", Required = true };
        var sku = new Option<string>("--sku") { Description = "The SKU", HelpName = "SKU", Required = true };
        var quantity = Values.DecimalOption("--quantity", "How many (cores, GPUs, GB, ...)", "Q");
        var start = Values.InstantOption("--start", "When the usage started", required: true);
        var end = Values.InstantOption("--end", "When it ended (exclusive)", required: true);
        var status = new Option<string>("--status") { Description = "confirmed or estimated", HelpName = "STATUS", DefaultValueFactory = _ => "confirmed" };
        status.OneOf("estimated", "confirmed");
        var key = new Option<string?>("--key") { Description = "External key: the same key is recorded once", HelpName = "KEY" };
        var attr = new Option<string[]>("--attr") { Description = "An attribute (repeatable): user=alice, project=qcd, ...", HelpName = "KEY=VALUE" };
        foreach (var option in new Option[] { allocation, sku, quantity, start, end, key, attr })
        {
            command.Add(option);
        }
        var expires = Values.ExpiryOption("--expires", "When the hold stops counting (default: the store's, 24 hours)");
        if (!reserve)
        {
            command.Add(status);
        }
        else
        {
            command.Add(expires);
        }
        Scope.Action(command, Needs.Organization, async (s, p, ct) =>
        {
            var target = await s.AllocationAsync(p.GetValue(allocation)!, ct);
            var record = new UsageRecord(
                target.Id,
                new SkuCode(p.GetValue(sku)!),
                Quantity.FromDecimal(p.GetValue(quantity)),
                p.GetValue(start)!.Value,
                p.GetValue(end)!.Value,
                reserve ? UsageStatus.Estimated : StatusOf(p.GetValue(status)) ?? UsageStatus.Confirmed,
                p.GetValue(key),
                Attributes(p.GetValue(attr)));
            var precision = await s.PrecisionAsync(ct);
            if (reserve)
            {
                var result = await s.Store.ReserveAsync(s.Actor, record, p.GetValue(expires), ct);
                if (result.Event is null && result.Fit.OutsidePeriod)
                {
                    Console.Error.WriteLine($"error: reservation refused: outside the period; '{target.Name}' takes usage starting in {Values.Period(result.Fit.PeriodStart, result.Fit.PeriodEnd)}, this starts at {Values.Instant(record.Start)}");
                    return ExitCodes.Failed;
                }
                if (result.Event is not { } hold)
                {
                    var blocker = result.Fit.BlockedBy is { } b ? (await s.Store.ListAllocationsAsync(s.Actor, target.Organization, ct)).FirstOrDefault(a => a.Id == b)?.Name ?? b.Value.ToString(CultureInfo.InvariantCulture) : "?";
                    Console.Error.WriteLine($"error: reservation refused: {precision.Format(result.Fit.Amount, target.Unit)} {target.Unit} does not fit; '{blocker}' is short by {precision.Format(result.Fit.Shortfall, target.Unit)}");
                    return ExitCodes.Failed;
                }
                Console.WriteLine($"reserved event {hold.Id.Value} on '{target.Name}': {precision.Format(hold.Amount, target.Unit)} {target.Unit} ({hold.Status}, {ExpiryText(hold)})");
                return ExitCodes.Done;
            }
            var recorded = await s.Store.RecordUsageAsync(s.Actor, record, ct);
            Console.WriteLine($"{recorded.Disposition.ToString().ToLowerInvariant()} event {recorded.Event.Id.Value} on '{target.Name}': {precision.Format(recorded.Event.Amount, target.Unit)} {target.Unit} ({recorded.Event.Status})");
            return ExitCodes.Done;
        });
        return command;
    }

    private static Command Confirm()
    {
        var command = new Command("confirm", "Confirm a hold, optionally with its final quantity or end");
        var id = new Argument<string>("EVENT") { Description = "The event's id or external key" };
        var quantity = Values.DecimalOption("--quantity", "The final quantity", "Q", required: false);
        var end = Values.InstantOption("--end", "The final end");
        command.Add(id);
        command.Add(quantity);
        command.Add(end);
        Scope.Action(command, Needs.Organization, async (s, p, ct) =>
        {
            var e = await s.EventAsync(p.GetValue(id)!, ct);
            Quantity? final = p.GetResult(quantity) is { Implicit: false } ? Quantity.FromDecimal(p.GetValue(quantity)) : null;
            var result = await s.Store.ConfirmAsync(s.Actor, e.Id, final, p.GetValue(end), ct);
            if (result.Status == HoldStatus.Expired)
            {
                Console.Error.WriteLine($"error: event {e.Id.Value} is a hold that expired at {result.Event.ExpiresAt}; it no longer counts and was not confirmed (record the usage or reserve again)");
                return ExitCodes.Failed;
            }
            var confirmed = result.Event;
            var a = await s.Store.GetAllocationAsync(s.Actor, confirmed.Allocation, ct);
            var precision = await s.PrecisionAsync(ct);
            Console.WriteLine($"confirmed event {confirmed.Id.Value} on '{a.Name}': {precision.Format(confirmed.Amount, a.Unit)} {a.Unit}");
            return ExitCodes.Done;
        });
        return command;
    }

    private static string ExpiryText(UsageEvent hold) => hold.ExpiresAt is { } at ? "expires " + Values.Instant(at) : "never expires";

    private static Command Extend()
    {
        var command = new Command("extend", "Change when a hold expires; exit 1 when it has already expired");
        var id = new Argument<string>("EVENT") { Description = "The hold's id or external key" };
        var expires = Values.ExpiryOption("--expires", "The new expiry");
        expires.Required = true;
        command.Add(id);
        command.Add(expires);
        Scope.Action(command, Needs.Organization, async (s, p, ct) =>
        {
            var e = await s.EventAsync(p.GetValue(id)!, ct);
            var result = await s.Store.ExtendHoldAsync(s.Actor, e.Id, p.GetValue(expires), ct);
            if (result.Status == HoldStatus.Expired)
            {
                Console.Error.WriteLine($"error: event {e.Id.Value} is a hold that expired at {result.Event.ExpiresAt}; reserve again instead");
                return ExitCodes.Failed;
            }
            Console.WriteLine($"extended event {e.Id.Value}: {ExpiryText(result.Event)}");
            return ExitCodes.Done;
        });
        return command;
    }

    private static Command Sweep()
    {
        var command = new Command("sweep", "Delete the organization's expired holds for good (they already count for nothing)");
        Scope.Action(command, Needs.Organization, async (s, p, ct) =>
        {
            var released = await s.Store.ReleaseExpiredHoldsAsync(s.Actor, await s.OrgAsync(ct), ct);
            Console.WriteLine($"released {released} expired hold(s)");
            return ExitCodes.Done;
        });
        return command;
    }

    private static Command Release()
    {
        var command = new Command("release", "Release a hold (its amount is given back)");
        var id = new Argument<string>("EVENT") { Description = "The event's id or external key" };
        command.Add(id);
        Scope.Action(command, Needs.Organization, async (s, p, ct) =>
        {
            var e = await s.EventAsync(p.GetValue(id)!, ct);
            var released = await s.Store.ReleaseAsync(s.Actor, e.Id, ct);
            var a = await s.Store.GetAllocationAsync(s.Actor, released.Allocation, ct);
            var precision = await s.PrecisionAsync(ct);
            Console.WriteLine($"released event {released.Id.Value} on '{a.Name}': {precision.Format(released.Amount, a.Unit)} {a.Unit} given back");
            return ExitCodes.Done;
        });
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List an allocation's usage events, newest first");
        var allocation = new Option<string>("--allocation") { Description = "The allocation, by name or id", HelpName = "NAME|ID", Required = true };
        var from = Values.InstantOption("--from", "Events from");
        var to = Values.InstantOption("--to", "Events to, exclusive");
        var sku = new Option<string?>("--sku") { Description = "Only this SKU", HelpName = "SKU" };
        var status = new Option<string?>("--status") { Description = "Only estimated or confirmed events", HelpName = "STATUS" };
        status.OneOf("estimated", "confirmed");
        var limit = new Option<int>("--limit") { Description = "At most this many events (1 to 1000)", HelpName = "N", DefaultValueFactory = _ => 50 };
        foreach (var option in new Option[] { allocation, from, to, sku, status, limit })
        {
            command.Add(option);
        }
        Scope.Action(command, Needs.Organization, async (s, p, ct) =>
        {
            var target = await s.AllocationAsync(p.GetValue(allocation)!, ct);
            var precision = await s.PrecisionAsync(ct);
            var page = await s.Store.ListEventsAsync(s.Actor, target.Id, new EventQuery(
                p.GetValue(from), p.GetValue(to), p.GetValue(sku) is { } code ? new SkuCode(code) : null, StatusOf(p.GetValue(status)), pageSize: p.GetValue(limit)), ct);
            var table = new TextTable("Id", "SKU", "Quantity", "Start", "End", "Status", "Amount", "Key").Right("Id", "Quantity", "Amount");
            foreach (var e in page.Events)
            {
                table.Add(e.Id.Value.ToString(CultureInfo.InvariantCulture), e.Sku.Value, e.Quantity.ToString(), Values.Instant(e.Interval.Start), Values.Instant(e.Interval.End),
                    e.Status.ToString(), precision.Format(e.Amount, target.Unit), e.ExternalKey ?? "");
            }
            table.Write(Console.Out);
            Console.WriteLine($"{page.Events.Count} event(s) of '{target.Name}'{(page.Next is null ? "" : " (more: raise --limit or narrow --from/--to)")}");
            return ExitCodes.Done;
        });
        return command;
    }

    internal static UsageStatus? StatusOf(string? text) => text switch
    {
        "estimated" => UsageStatus.Estimated,
        "confirmed" => UsageStatus.Confirmed,
        _ => null,
    };

    internal static IReadOnlyDictionary<string, string>? Attributes(string[]? pairs)
    {
        if (pairs is null || pairs.Length == 0)
        {
            return null;
        }
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var parts = pair.Split('=', 2);
            if (parts.Length != 2 || parts[0].Length == 0)
            {
                throw new UsageException($"--attr '{pair}' is not KEY=VALUE");
            }
            attributes[parts[0]] = parts[1];
        }
        return attributes;
    }
}
