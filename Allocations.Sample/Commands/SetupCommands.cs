using System.CommandLine;
using System.Globalization;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Sample.Cli;

namespace Allocations.Sample.Commands;

/// <summary>The set-up commands: init, org, unit, sku, rate, price, alloc, group, grant. Each is a thin layer over one
/// <see cref="AllocationStore"/> call and prints what it did.</summary>
internal static class SetupCommands
{
    internal static IEnumerable<Command> All() => [Init(), Org(), Unit(), Sku(), Rate(), Price(), Alloc(), Group(), Grant()];

    private static Command Init()
    {
        var init = new Command("init", "Create an empty database file (or check an existing one)");
        Scope.Action(init, Needs.Store, (s, _, _) =>
        {
            Console.WriteLine($"database ready: {s.Store.Location}");
            return Task.FromResult(ExitCodes.Done);
        }, create: true);
        return init;
    }

    private static Command Org()
    {
        var org = new Command("org", "Organizations and their admins");

        var create = new Command("create", "Create an organization with its first admin (creates the database file if missing)");
        var name = new Argument<string>("NAME") { Description = "The organization's name" };
        var admin = new Option<string>("--admin") { Description = "Its first admin (a host user id)", HelpName = "USER", Required = true };
        var ifMissing = Values.IfMissing();
        create.Add(name);
        create.Add(admin);
        create.Add(ifMissing);
        Scope.Action(create, Needs.Store, async (s, p, ct) =>
        {
            var wanted = p.GetValue(name)!;
            if (p.GetValue(ifMissing) && (await s.Store.ListOrganizationsAsync(s.Actor, ct)).FirstOrDefault(o => string.Equals(o.Name, wanted, StringComparison.OrdinalIgnoreCase)) is { } existing)
            {
                Console.WriteLine($"exists: organization '{existing.Name}' (id {existing.Id.Value})");
                return ExitCodes.Done;
            }
            var created = await s.Store.CreateOrganizationAsync(s.Actor, wanted, p.GetValue(admin)!, ct);
            Console.WriteLine($"created organization '{created.Name}' (id {created.Id.Value}) with admin {p.GetValue(admin)} in {s.Store.Location}");
            return ExitCodes.Done;
        }, create: true);
        org.Add(create);

        var list = new Command("list", "List the organizations (all of them for the system actor, else those the user administers)");
        Scope.Action(list, Needs.Store, async (s, _, ct) =>
        {
            var table = new TextTable("Id", "Name").Right("Id");
            foreach (var o in await s.Store.ListOrganizationsAsync(s.Actor, ct))
            {
                table.Add(o.Id.Value.ToString(CultureInfo.InvariantCulture), o.Name);
            }
            table.Write(Console.Out);
            return ExitCodes.Done;
        });
        org.Add(list);

        var admins = new Command("admins", "List an organization's admins, or add or remove one");
        var add = new Option<string?>("--add") { Description = "Make this user an admin", HelpName = "USER" };
        var remove = new Option<string?>("--remove") { Description = "Remove this user's admin rights", HelpName = "USER" };
        admins.Add(add);
        admins.Add(remove);
        Scope.Action(admins, Needs.Organization, async (s, p, ct) =>
        {
            var id = await s.OrgAsync(ct);
            if (p.GetValue(add) is { } adding)
            {
                await s.Store.AddOrganizationAdminAsync(s.Actor, id, adding, ct);
                Console.WriteLine($"admin {adding} added");
            }
            if (p.GetValue(remove) is { } removing)
            {
                Console.WriteLine(await s.Store.RemoveOrganizationAdminAsync(s.Actor, id, removing, ct) ? $"admin {removing} removed" : $"{removing} was not an admin (nothing changed)");
            }
            if (p.GetValue(add) is null && p.GetValue(remove) is null)
            {
                foreach (var user in await s.Store.ListOrganizationAdminsAsync(s.Actor, id, ct))
                {
                    Console.WriteLine(user);
                }
            }
            return ExitCodes.Done;
        });
        org.Add(admins);
        return org;
    }

    private static Command Unit()
    {
        var unit = new Command("unit", "Units that allocations are counted in (core-hours, credits, ...)");
        var create = new Command("create", "Define a unit");
        var code = new Argument<string>("CODE") { Description = "The unit's code, for example core-hours" };
        var precision = new Option<int>("--precision") { Description = "Decimals shown in reads (0 to 6)", HelpName = "DIGITS", DefaultValueFactory = _ => 2 };
        var ifMissing = Values.IfMissing();
        create.Add(code);
        create.Add(precision);
        create.Add(ifMissing);
        Scope.Action(create, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var wanted = new UnitCode(p.GetValue(code)!);
            if (p.GetValue(ifMissing) && (await s.Store.ListUnitsAsync(s.Actor, org, ct)).FirstOrDefault(u => u.Code == wanted) is { } existing)
            {
                Console.WriteLine($"exists: unit {existing.Code} (precision {existing.DisplayPrecision})");
                return ExitCodes.Done;
            }
            var created = await s.Store.CreateUnitAsync(s.Actor, org, wanted, p.GetValue(precision), ct);
            Console.WriteLine($"created unit {created.Code} (precision {created.DisplayPrecision})");
            return ExitCodes.Done;
        });
        unit.Add(create);

        var list = new Command("list", "List the units");
        Scope.Action(list, Needs.Organization, async (s, _, ct) =>
        {
            var table = new TextTable("Unit", "Precision").Right("Precision");
            foreach (var u in await s.Store.ListUnitsAsync(s.Actor, await s.OrgAsync(ct), ct))
            {
                table.Add(u.Code.Value, u.DisplayPrecision.ToString(CultureInfo.InvariantCulture));
            }
            table.Write(Console.Out);
            return ExitCodes.Done;
        });
        unit.Add(list);
        return unit;
    }

    private static Command Sku()
    {
        var sku = new Command("sku", "SKUs: what usage is measured in, and the unit it is charged in");
        var create = new Command("create", "Define a SKU");
        var code = new Argument<string>("CODE") { Description = "The SKU's code, for example CPU_HOUR" };
        var unit = new Option<string>("--unit") { Description = "The unit it is charged in", HelpName = "UNIT", Required = true };
        var basis = new Option<string>("--basis") { Description = "per-hour (quantity × hours × rate) or per-unit (quantity × rate)", HelpName = "BASIS", DefaultValueFactory = _ => "per-hour" };
        basis.OneOf("per-hour", "per-unit");
        var ifMissing = Values.IfMissing();
        create.Add(code);
        create.Add(unit);
        create.Add(basis);
        create.Add(ifMissing);
        Scope.Action(create, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var wanted = new SkuCode(p.GetValue(code)!);
            if (p.GetValue(ifMissing) && (await s.Store.ListSkusAsync(s.Actor, org, ct)).FirstOrDefault(k => k.Code == wanted) is { } existing)
            {
                Console.WriteLine($"exists: SKU {existing.Code} ({existing.Unit}, {BasisName(existing.Basis)})");
                return ExitCodes.Done;
            }
            var rateBasis = p.GetValue(basis) == "per-unit" ? RateBasis.PerUnit : RateBasis.PerHour;
            var created = await s.Store.CreateSkuAsync(s.Actor, org, wanted, new UnitCode(p.GetValue(unit)!), rateBasis, ct);
            Console.WriteLine($"created SKU {created.Code} ({created.Unit}, {BasisName(created.Basis)})");
            return ExitCodes.Done;
        });
        sku.Add(create);

        var list = new Command("list", "List the SKUs");
        Scope.Action(list, Needs.Organization, async (s, _, ct) =>
        {
            var table = new TextTable("SKU", "Unit", "Basis");
            foreach (var k in await s.Store.ListSkusAsync(s.Actor, await s.OrgAsync(ct), ct))
            {
                table.Add(k.Code.Value, k.Unit.Value, BasisName(k.Basis));
            }
            table.Write(Console.Out);
            return ExitCodes.Done;
        });
        sku.Add(list);
        sku.Add(RerateCommands.Rerate());
        return sku;
    }

    internal static string BasisName(RateBasis basis) => basis == RateBasis.PerUnit ? "per-unit" : "per-hour";

    private static Command Rate()
    {
        var rate = new Command("rate", "A SKU's rate schedule (units charged per quantity-hour or per quantity)");

        var add = new Command("add", "Add a rate rule for a period (open-ended without --to)");
        var sku = new Argument<string>("SKU") { Description = "The SKU" };
        var value = Values.DecimalOption("--rate", "The rate", "RATE");
        var from = Values.InstantOption("--from", "Start of the rule", required: true);
        var to = Values.InstantOption("--to", "End of the rule (exclusive)");
        var ifMissing = Values.IfMissing();
        add.Add(sku);
        add.Add(value);
        add.Add(from);
        add.Add(to);
        add.Add(ifMissing);
        Scope.Action(add, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var code = new SkuCode(p.GetValue(sku)!);
            var wanted = Domain.Rate.FromDecimal(p.GetValue(value));
            var start = p.GetValue(from)!.Value;
            var end = p.GetValue(to);
            if (p.GetValue(ifMissing) && (await s.Store.GetRateRulesAsync(s.Actor, org, code, ct)).FirstOrDefault(r => r.EffectiveFrom == start && r.EffectiveTo == end && r.Rate == wanted) is { } existing)
            {
                Console.WriteLine($"exists: {code} rate {existing.Rate} {Period(existing)}");
                return ExitCodes.Done;
            }
            var rule = await s.Store.AddRateRuleAsync(s.Actor, org, code, start, end, wanted, ct);
            Console.WriteLine($"added {code} rate {rule.Rate} {Period(rule)}");
            return ExitCodes.Done;
        });
        rate.Add(add);

        var change = new Command("change", "Change a SKU's rate from an instant on (ends the open rule in force there)");
        var changeSku = new Argument<string>("SKU") { Description = "The SKU" };
        var changeValue = Values.DecimalOption("--rate", "The new rate", "RATE");
        var changeFrom = Values.InstantOption("--from", "When the new rate starts", required: true);
        var changeIfMissing = Values.IfMissing();
        change.Add(changeSku);
        change.Add(changeValue);
        change.Add(changeFrom);
        change.Add(changeIfMissing);
        Scope.Action(change, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var code = new SkuCode(p.GetValue(changeSku)!);
            var wanted = Domain.Rate.FromDecimal(p.GetValue(changeValue));
            var start = p.GetValue(changeFrom)!.Value;
            if (p.GetValue(changeIfMissing) && (await s.Store.GetRateRulesAsync(s.Actor, org, code, ct)).FirstOrDefault(r => r.EffectiveFrom == start && r.Rate == wanted) is { } existing)
            {
                Console.WriteLine($"exists: {code} rate {existing.Rate} {Period(existing)}");
                return ExitCodes.Done;
            }
            var rule = await s.Store.ChangeRateAsync(s.Actor, org, code, start, wanted, ct);
            Console.WriteLine($"changed {code} rate to {rule.Rate} {Period(rule)}");
            return ExitCodes.Done;
        });
        rate.Add(change);

        var list = new Command("list", "List rate rules (of one SKU, or of all)");
        var listSku = new Argument<string?>("SKU") { Description = "The SKU (default: every SKU)", Arity = ArgumentArity.ZeroOrOne };
        list.Add(listSku);
        Scope.Action(list, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var skus = p.GetValue(listSku) is { } one ? [new SkuCode(one)] : (await s.Store.ListSkusAsync(s.Actor, org, ct)).Select(k => k.Code).ToList();
            var table = new TextTable("SKU", "From", "To", "Rate").Right("Rate");
            foreach (var code in skus)
            {
                foreach (var r in await s.Store.GetRateRulesAsync(s.Actor, org, code, ct))
                {
                    table.Add(code.Value, Values.Instant(r.EffectiveFrom), r.EffectiveTo is { } end ? Values.Instant(end) : "(open)", r.Rate.ToString());
                }
            }
            table.Write(Console.Out);
            return ExitCodes.Done;
        });
        rate.Add(list);
        rate.Add(RerateCommands.Correct());
        return rate;
    }

    private static string Period(RateRule rule) =>
        $"from {Values.Instant(rule.EffectiveFrom)}" + (rule.EffectiveTo is { } end ? $" to {Values.Instant(end)}" : " (open-ended)");

    private static Command Price()
    {
        var price = new Command("price", "USD prices of a unit (for the USD column of reports)");
        var add = new Command("add", "Add a USD price rule for a unit");
        var unit = new Argument<string>("UNIT") { Description = "The unit" };
        var usd = Values.DecimalOption("--usd", "USD per unit", "USD");
        var from = Values.InstantOption("--from", "Start of the price", required: true);
        var to = Values.InstantOption("--to", "End of the price (exclusive)");
        var ifMissing = Values.IfMissing();
        add.Add(unit);
        add.Add(usd);
        add.Add(from);
        add.Add(to);
        add.Add(ifMissing);
        Scope.Action(add, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var code = new UnitCode(p.GetValue(unit)!);
            var wanted = Domain.Rate.FromDecimal(p.GetValue(usd));
            var start = p.GetValue(from)!.Value;
            var end = p.GetValue(to);
            if (p.GetValue(ifMissing) && (await s.Store.GetUsdPricesAsync(s.Actor, org, code, ct)).FirstOrDefault(r => r.EffectiveFrom == start && r.EffectiveTo == end && r.Rate == wanted) is { } existing)
            {
                Console.WriteLine($"exists: {code} price {existing.Rate} USD {Period(existing)}");
                return ExitCodes.Done;
            }
            var rule = await s.Store.AddUsdPriceAsync(s.Actor, org, code, start, end, wanted, ct);
            Console.WriteLine($"added {code} price {rule.Rate} USD {Period(rule)}");
            return ExitCodes.Done;
        });
        price.Add(add);

        var list = new Command("list", "List USD prices (of one unit, or of all)");
        var listUnit = new Argument<string?>("UNIT") { Description = "The unit (default: every unit)", Arity = ArgumentArity.ZeroOrOne };
        list.Add(listUnit);
        Scope.Action(list, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var units = p.GetValue(listUnit) is { } one ? [new UnitCode(one)] : (await s.Store.ListUnitsAsync(s.Actor, org, ct)).Select(u => u.Code).Where(u => !u.IsUsd).ToList();
            var table = new TextTable("Unit", "From", "To", "USD").Right("USD");
            foreach (var code in units)
            {
                foreach (var r in await s.Store.GetUsdPricesAsync(s.Actor, org, code, ct))
                {
                    table.Add(code.Value, Values.Instant(r.EffectiveFrom), r.EffectiveTo is { } end ? Values.Instant(end) : "(open)", r.Rate.ToString());
                }
            }
            table.Write(Console.Out);
            return ExitCodes.Done;
        });
        price.Add(list);
        return price;
    }

    private static Command Alloc()
    {
        var alloc = new Command("alloc", "Allocations: budgets with a total, top-level or a child of one");

        var create = new Command("create", "Create an allocation");
        var name = new Argument<string>("NAME") { Description = "The allocation's name" };
        var unit = new Option<string>("--unit") { Description = "The unit it is counted in", HelpName = "UNIT", Required = true };
        var total = Values.DecimalOption("--total", "Its total", "AMOUNT");
        var parent = new Option<string?>("--parent") { Description = "Its parent (a top-level allocation)", HelpName = "NAME|ID" };
        var (periodStart, periodEnd) = PeriodOptions(create);
        var ifMissing = Values.IfMissing();
        create.Add(name);
        create.Add(unit);
        create.Add(total);
        create.Add(parent);
        create.Add(ifMissing);
        Scope.Action(create, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var wanted = p.GetValue(name)!;
            if (p.GetValue(ifMissing) && (await s.Store.ListAllocationsAsync(s.Actor, org, ct)).FirstOrDefault(a => string.Equals(a.Name, wanted, StringComparison.OrdinalIgnoreCase)) is { } existing)
            {
                Console.WriteLine($"exists: allocation '{existing.Name}' (id {existing.Id.Value})");
                return ExitCodes.Done;
            }
            AllocationId? parentId = p.GetValue(parent) is { } parentText ? (await s.AllocationAsync(parentText, ct)).Id : null;
            var request = new NewAllocation(wanted, new UnitCode(p.GetValue(unit)!), Amount.FromDecimal(p.GetValue(total)), parentId, p.GetValue(periodStart), p.GetValue(periodEnd));
            var created = await s.Store.CreateAllocationAsync(s.Actor, org, request, ct);
            var precision = await s.PrecisionAsync(ct);
            Console.WriteLine($"created allocation '{created.Name}' (id {created.Id.Value}): {precision.Format(created.Total, created.Unit)} {created.Unit}"
                + (p.GetValue(parent) is { } under ? $", under '{under}'" : "")
                + (created.PeriodStart is null && created.PeriodEnd is null ? "" : $", period {Values.Period(created.PeriodStart, created.PeriodEnd)}"));
            return ExitCodes.Done;
        });
        alloc.Add(create);

        var list = new Command("list", "List the allocations with their figures (the same table as 'report')");
        var listAsOf = Values.InstantOption("--as-of", "The figures as they stood at this instant of the store's clock");
        list.Add(listAsOf);
        Scope.Action(list, Needs.Organization, async (s, p, ct) =>
        {
            await ReadCommands.PrintTableAsync(s, new Reporting.AllocationTableQuery(), Console.Out, ct, p.GetValue(listAsOf));
            return ExitCodes.Done;
        });
        alloc.Add(list);

        var show = new Command("show", "Show one allocation: figures, children, total history and grants");
        var showName = new Argument<string>("ALLOCATION") { Description = "The allocation, by name or id" };
        var showAsOf = Values.InstantOption("--as-of", "Its figures as they stood at this instant of the store's clock (total history and grants as of now)");
        show.Add(showName);
        show.Add(showAsOf);
        Scope.Action(show, Needs.Organization, async (s, p, ct) =>
        {
            var a = await s.AllocationAsync(p.GetValue(showName)!, ct);
            if (p.GetValue(showAsOf) is { } asOf)
            {
                a = await s.Store.GetAllocationAsOfAsync(s.Actor, a.Id, asOf, ct);
                Console.WriteLine($"as of       {Values.Instant(asOf)}");
            }
            var precision = await s.PrecisionAsync(ct);
            var all = await s.Store.ListAllocationsAsync(s.Actor, a.Organization, ct);
            string F(Amount x) => precision.Format(x, a.Unit);
            Console.WriteLine($"allocation  {a.Name} (id {a.Id.Value})");
            Console.WriteLine($"unit        {a.Unit}");
            Console.WriteLine($"parent      {(a.ParentId is { } pid ? all.FirstOrDefault(x => x.Id == pid)?.Name ?? pid.Value.ToString(CultureInfo.InvariantCulture) : "(none)")}");
            Console.WriteLine($"total       {F(a.Total)}");
            Console.WriteLine($"used        {F(a.Used)}  (own {F(a.OwnUsed)})");
            Console.WriteLine($"estimated   {F(a.Estimated)}  (own {F(a.OwnEstimated)})");
            Console.WriteLine($"remaining   {F(a.Remaining)}");
            Console.WriteLine($"% used      {(a.PercentUsed is { } pct ? Math.Round(pct, 1).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "-")}");
            Console.WriteLine($"created     {Values.Instant(a.CreatedAt)}");
            Console.WriteLine($"period      {Values.Period(a.PeriodStart, a.PeriodEnd)}");
            var children = all.Where(x => x.ParentId == a.Id).Select(x => x.Name).ToList();
            Console.WriteLine($"children    {(children.Count == 0 ? "(none)" : string.Join(", ", children))}");
            var history = await s.Store.GetTotalHistoryAsync(s.Actor, a.Id, ct);
            foreach (var change in history)
            {
                Console.WriteLine($"total change {Values.Instant(change.At)} by {change.Actor}: {F(change.OldTotal)} -> {F(change.NewTotal)} ({change.Reason})");
            }
            try
            {
                foreach (var g in await s.Store.ListGrantsAsync(s.Actor, a.Id, ct))
                {
                    Console.WriteLine($"grant       {g.Level} to {GranteeName(g.Grantee)}{(g.Inherited ? " (inherited from the parent)" : "")}");
                }
            }
            catch (AccessDeniedException)
            {
                // Grants are shown only to the allocation's admins.
            }
            return ExitCodes.Done;
        });
        alloc.Add(show);

        var totalCommand = new Command("total", "Change an allocation's total (kept in its history with the reason)");
        var totalName = new Argument<string>("ALLOCATION") { Description = "The allocation, by name or id" };
        var newTotal = Values.DecimalOption("--total", "The new total", "AMOUNT");
        var reason = new Option<string>("--reason") { Description = "Why (kept in the history and the journal)", HelpName = "TEXT", Required = true };
        totalCommand.Add(totalName);
        totalCommand.Add(newTotal);
        totalCommand.Add(reason);
        Scope.Action(totalCommand, Needs.Organization, async (s, p, ct) =>
        {
            var a = await s.AllocationAsync(p.GetValue(totalName)!, ct);
            var changed = await s.Store.ChangeTotalAsync(s.Actor, a.Id, Amount.FromDecimal(p.GetValue(newTotal)), p.GetValue(reason)!, ct);
            var precision = await s.PrecisionAsync(ct);
            Console.WriteLine($"changed the total of '{changed.Name}': {precision.Format(a.Total, a.Unit)} -> {precision.Format(changed.Total, a.Unit)} {a.Unit}");
            return ExitCodes.Done;
        });
        alloc.Add(totalCommand);
        alloc.Add(PeriodCommand());

        var transfer = new Command("transfer", "Move budget from one allocation's total to another's of the same unit (kept in both histories)");
        var fromName = new Argument<string>("FROM") { Description = "The allocation the budget comes from, by name or id" };
        var toName = new Argument<string>("TO") { Description = "The allocation the budget goes to, by name or id" };
        var moved = Values.DecimalOption("--amount", "How much to move", "AMOUNT");
        var transferReason = new Option<string>("--reason") { Description = "Why (kept in both histories and the journal)", HelpName = "TEXT", Required = true };
        var force = new Option<bool>("--force") { Description = "Let the source's total go below its used plus held (organization admins only)" };
        transfer.Add(fromName);
        transfer.Add(toName);
        transfer.Add(moved);
        transfer.Add(transferReason);
        transfer.Add(force);
        Scope.Action(transfer, Needs.Organization, async (s, p, ct) =>
        {
            var from = await s.AllocationAsync(p.GetValue(fromName)!, ct);
            var to = await s.AllocationAsync(p.GetValue(toName)!, ct);
            var result = await s.Store.TransferAsync(s.Actor, from.Id, to.Id, Amount.FromDecimal(p.GetValue(moved)), p.GetValue(transferReason)!, p.GetValue(force), ct);
            var precision = await s.PrecisionAsync(ct);
            Console.WriteLine($"moved {precision.Format(result.Amount, from.Unit)} {from.Unit} from '{result.Source.Name}' (total {precision.Format(result.Source.Total, from.Unit)}) to '{result.Target.Name}' (total {precision.Format(result.Target.Total, from.Unit)}){(result.Forced ? "; forced: the source's total is below its used plus held" : "")}");
            return ExitCodes.Done;
        });
        alloc.Add(transfer);
        alloc.Add(AlertCommands.Thresholds());

        var delete = new Command("delete", "Delete an allocation with all its usage");
        var deleteName = new Argument<string>("ALLOCATION") { Description = "The allocation, by name or id" };
        var cascade = new Option<bool>("--cascade") { Description = "Also delete its children" };
        delete.Add(deleteName);
        delete.Add(cascade);
        Scope.Action(delete, Needs.Organization, async (s, p, ct) =>
        {
            var a = await s.AllocationAsync(p.GetValue(deleteName)!, ct);
            var count = await s.Store.DeleteAllocationAsync(s.Actor, a.Id, p.GetValue(cascade), ct);
            Console.WriteLine($"deleted '{a.Name}' ({count} allocation(s) with their usage)");
            return ExitCodes.Done;
        });
        alloc.Add(delete);
        return alloc;
    }

    internal static string GranteeName(Grantee grantee) => grantee.IsOrganization ? "the whole organization" : $"group {grantee.GroupName}";

    private static Command Group()
    {
        var group = new Command("group", "Groups of users (grants are made to groups)");
        var create = new Command("create", "Create a group");
        var name = new Argument<string>("GROUP") { Description = "The group's name" };
        var ifMissing = Values.IfMissing();
        create.Add(name);
        create.Add(ifMissing);
        Scope.Action(create, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            var wanted = p.GetValue(name)!;
            if (p.GetValue(ifMissing) && (await s.Store.ListGroupsAsync(s.Actor, org, ct)).FirstOrDefault(g => string.Equals(g.Name, wanted, StringComparison.OrdinalIgnoreCase)) is { } existing)
            {
                Console.WriteLine($"exists: group {existing.Name} ({existing.Members.Count} member(s))");
                return ExitCodes.Done;
            }
            var created = await s.Store.CreateGroupAsync(s.Actor, org, wanted, ct);
            Console.WriteLine($"created group {created.Name}");
            return ExitCodes.Done;
        });
        group.Add(create);

        group.Add(Members("add", "Add users to a group (already a member: no change)", async (s, org, g, user, ct) =>
            await s.Store.AddGroupMemberAsync(s.Actor, org, g, user, ct) ? $"added {user} to {g}" : $"{user} is already in {g}"));
        group.Add(Members("remove", "Remove users from a group", async (s, org, g, user, ct) =>
            await s.Store.RemoveGroupMemberAsync(s.Actor, org, g, user, ct) ? $"removed {user} from {g}" : $"{user} was not in {g} (nothing changed)"));

        var list = new Command("list", "List the groups with their members");
        Scope.Action(list, Needs.Organization, async (s, _, ct) =>
        {
            var table = new TextTable("Group", "Members");
            foreach (var g in await s.Store.ListGroupsAsync(s.Actor, await s.OrgAsync(ct), ct))
            {
                table.Add(g.Name, string.Join(", ", g.Members));
            }
            table.Write(Console.Out);
            return ExitCodes.Done;
        });
        group.Add(list);
        return group;
    }

    private static Command Members(string verb, string description, Func<Scope, OrganizationId, string, string, CancellationToken, Task<string>> change)
    {
        var command = new Command(verb, description);
        var name = new Argument<string>("GROUP") { Description = "The group" };
        var users = new Argument<string[]>("USER") { Description = "One or more user ids", Arity = ArgumentArity.OneOrMore };
        command.Add(name);
        command.Add(users);
        Scope.Action(command, Needs.Organization, async (s, p, ct) =>
        {
            var org = await s.OrgAsync(ct);
            foreach (var user in p.GetValue(users)!)
            {
                Console.WriteLine(await change(s, org, p.GetValue(name)!, user, ct));
            }
            return ExitCodes.Done;
        });
        return command;
    }

    private static Command Grant()
    {
        var grant = new Command("grant", "Grants: a level (read, use, admin) on an allocation for a group or the whole organization");

        var set = new Command("set", "Grant a level (or change the level of an existing grant)");
        var (setAllocation, setGroup, setOrganization) = GrantTarget(set);
        var level = new Option<string>("--level") { Description = "read, use or admin", HelpName = "LEVEL", Required = true };
        level.OneOf("read", "use", "admin");
        set.Add(level);
        Scope.Action(set, Needs.Organization, async (s, p, ct) =>
        {
            var a = await s.AllocationAsync(p.GetValue(setAllocation)!, ct);
            var grantee = Grantee(p, setGroup, setOrganization);
            var wanted = p.GetValue(level) switch { "read" => AccessLevel.Read, "use" => AccessLevel.Use, _ => AccessLevel.Admin };
            var result = await s.Store.GrantAsync(s.Actor, a.Id, grantee, wanted, ct);
            Console.WriteLine($"granted {result.Level} on '{a.Name}' to {GranteeName(result.Grantee)}");
            return ExitCodes.Done;
        });
        grant.Add(set);

        var revoke = new Command("revoke", "Revoke a group's (or the organization's) grant on an allocation");
        var (revokeAllocation, revokeGroup, revokeOrganization) = GrantTarget(revoke);
        Scope.Action(revoke, Needs.Organization, async (s, p, ct) =>
        {
            var a = await s.AllocationAsync(p.GetValue(revokeAllocation)!, ct);
            var grantee = Grantee(p, revokeGroup, revokeOrganization);
            Console.WriteLine(await s.Store.RevokeAsync(s.Actor, a.Id, grantee, ct)
                ? $"revoked the grant of {GranteeName(grantee)} on '{a.Name}'"
                : $"{GranteeName(grantee)} held no grant on '{a.Name}' (nothing changed)");
            return ExitCodes.Done;
        });
        grant.Add(revoke);

        var list = new Command("list", "List the grants in force on an allocation");
        var listAllocation = new Argument<string>("ALLOCATION") { Description = "The allocation, by name or id" };
        list.Add(listAllocation);
        Scope.Action(list, Needs.Organization, async (s, p, ct) =>
        {
            var a = await s.AllocationAsync(p.GetValue(listAllocation)!, ct);
            var table = new TextTable("Grantee", "Level", "Inherited", "Granted", "By");
            foreach (var g in await s.Store.ListGrantsAsync(s.Actor, a.Id, ct))
            {
                table.Add(GranteeName(g.Grantee), g.Level.ToString(), g.Inherited ? "yes" : "no", Values.Instant(g.GrantedAt), g.GrantedBy);
            }
            table.Write(Console.Out);
            return ExitCodes.Done;
        });
        grant.Add(list);
        return grant;
    }

    /// <summary>The <c>--start</c> and <c>--end</c> options of a period, added to <paramref name="command"/>.</summary>
    private static (Option<NodaTime.Instant?> Start, Option<NodaTime.Instant?> End) PeriodOptions(Command command)
    {
        var start = Values.InstantOption("--start", "Start of its period: usage starting earlier is refused (omit for an open start)");
        var end = Values.InstantOption("--end", "End of its period, exclusive: usage starting then or later is refused (omit for an open end)");
        command.Add(start);
        command.Add(end);
        return (start, end);
    }

    private static Command PeriodCommand()
    {
        var period = new Command("period", "Set an allocation's period [--start, --end) to exactly the bounds given (an omitted bound is open; neither clears it)");
        var name = new Argument<string>("ALLOCATION") { Description = "The allocation, by name or id" };
        period.Add(name);
        var (start, end) = PeriodOptions(period);
        Scope.Action(period, Needs.Organization, async (s, p, ct) =>
        {
            var a = await s.AllocationAsync(p.GetValue(name)!, ct);
            var changed = await s.Store.SetPeriodAsync(s.Actor, a.Id, p.GetValue(start), p.GetValue(end), ct);
            Console.WriteLine($"period of '{changed.Name}': {Values.Period(a.PeriodStart, a.PeriodEnd)} -> {Values.Period(changed.PeriodStart, changed.PeriodEnd)}");
            return ExitCodes.Done;
        });
        return period;
    }

    private static (Argument<string> Allocation, Option<string?> Group, Option<bool> Organization) GrantTarget(Command command)
    {
        var allocation = new Argument<string>("ALLOCATION") { Description = "The allocation, by name or id" };
        var group = new Option<string?>("--group") { Description = "The group the grant is for", HelpName = "GROUP" };
        var organization = new Option<bool>("--organization") { Description = "The grant is for every member of the organization" };
        command.Add(allocation);
        command.Add(group);
        command.Add(organization);
        command.Validators.Add(r =>
        {
            var hasGroup = r.GetResult(group) is { Implicit: false };
            var hasOrg = r.GetResult(organization) is { Implicit: false };
            if (hasGroup == hasOrg)
            {
                r.AddError("give exactly one of --group GROUP or --organization");
            }
        });
        return (allocation, group, organization);
    }

    private static Grantee Grantee(ParseResult p, Option<string?> group, Option<bool> organization) =>
        p.GetValue(organization) ? Access.Grantee.Organization : Access.Grantee.Group(p.GetValue(group)!);
}
