using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Journal;
using Allocations.Rating;
using Allocations.Storage;
using Allocations.Utility;
using NodaTime;

namespace Allocations.Catalogue;

/// <summary>Organizations, units, SKUs and their rate and price schedules: checks, changes and journal entries, inside
/// the caller's unit of work.</summary>
internal static class CatalogueService
{
    private const int UsdDisplayPrecision = 2;

    internal static Organization CreateOrganization(UnitOfWork uow, string name, Principal firstAdmin)
    {
        var (session, actor) = (uow.Session, uow.Actor);
        if (!actor.IsSystem)
        {
            throw new AccessDeniedException(actor.Id, Permissions.Describe(Operation.CreateOrganization), "the store", null, AccessRole.SystemActor);
        }
        var key = Preconditions.NameKey(name);
        if (session.OrganizationNameExists(key))
        {
            throw new ConflictException($"an organization named {InvalidInputException.Display(name)} already exists", ["name"]);
        }
        var id = session.InsertOrganization(name, key, uow.NowNs);
        session.InsertUnit(id, UnitCode.Usd.Value, CodeRules.Key(UnitCode.Usd.Value), UsdDisplayPrecision);
        session.AddOrgAdmin(id, firstAdmin.Id);
        var journal = uow.Journal;
        journal.Append(id, null, "organization.create", new OrganizationId(id).ToString(), null, journal.Object(("name", name), ("firstAdmin", firstAdmin.Id)));
        return new Organization(new OrganizationId(id), name);
    }

    internal static IReadOnlyList<Organization> ListOrganizations(UnitOfWork uow) =>
        uow.Session.ListOrganizations()
            .Where(o => uow.Access.IsOrgAdmin(o.Id))
            .Select(o => new Organization(new OrganizationId(o.Id), o.Name))
            .ToList();

    internal static void CheckUnit(UnitCode code, int displayPrecision)
    {
        CheckCode(code.Value, "unit");
        Preconditions.CheckArgument(displayPrecision is >= 0 and <= 6, "displayPrecision", displayPrecision.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be between 0 and 6");
    }

    internal static UnitInfo CreateUnit(UnitOfWork uow, OrganizationId organization, UnitCode code, int displayPrecision)
    {
        var session = uow.Session;
        uow.Access.RequireOrganization(organization, Operation.ManageCatalogue);
        var key = CodeRules.Key(code.Value);
        if (session.FindUnit(organization.Value, key) is not null)
        {
            throw new ConflictException($"unit '{code}' already exists in {organization}", ["unit"]);
        }
        session.InsertUnit(organization.Value, code.Value, key, displayPrecision);
        var journal = uow.Journal;
        journal.Append(organization.Value, null, "unit.create", "unit:" + code.Value, null, journal.Object(("code", code.Value), ("displayPrecision", displayPrecision)));
        return new UnitInfo(code, displayPrecision);
    }

    internal static IReadOnlyList<UnitInfo> ListUnits(UnitOfWork uow, OrganizationId organization)
    {
        uow.Access.RequireOrganization(organization, Operation.ReadCatalogue);
        return uow.Session.ListUnits(organization.Value).Select(u => new UnitInfo(new UnitCode(u.Code), u.DisplayPrecision)).ToList();
    }

    internal static void CheckSku(SkuCode code, UnitCode unit, RateBasis basis)
    {
        CheckCode(code.Value, "sku");
        CheckCode(unit.Value, "unit");
        Preconditions.CheckArgument(Enum.IsDefined(basis), "basis", basis.ToString(), "must be PerHour or PerUnit");
    }

    internal static SkuInfo CreateSku(UnitOfWork uow, OrganizationId organization, SkuCode code, UnitCode unit, RateBasis basis)
    {
        var session = uow.Session;
        uow.Access.RequireOrganization(organization, Operation.ManageCatalogue);
        var unitRow = session.FindUnit(organization.Value, CodeRules.Key(unit.Value)) ?? throw new NotFoundException(unit);
        var key = CodeRules.Key(code.Value);
        if (session.FindSku(organization.Value, key) is not null)
        {
            throw new ConflictException($"SKU '{code}' already exists in {organization}", ["sku"]);
        }
        session.InsertSku(organization.Value, code.Value, key, unitRow.Id, (int)basis);
        var journal = uow.Journal;
        journal.Append(organization.Value, null, "sku.create", "sku:" + code.Value, null, journal.Object(("code", code.Value), ("unit", unitRow.Code), ("basis", basis.ToString())));
        return new SkuInfo(code, new UnitCode(unitRow.Code), basis);
    }

    internal static IReadOnlyList<SkuInfo> ListSkus(UnitOfWork uow, OrganizationId organization)
    {
        uow.Access.RequireOrganization(organization, Operation.ReadCatalogue);
        return uow.Session.ListSkus(organization.Value).Select(RowMapping.ToSkuInfo).ToList();
    }

    internal static RateRule AddRateRule(UnitOfWork uow, OrganizationId organization, SkuCode sku, long fromNs, long? toNs, Rate rate)
    {
        var sku0 = RequireSku(uow, organization, sku, Operation.ManageCatalogue);
        return AddRule(uow, organization, uow.Session.ListSkuRules(sku0.Id), sku0.Id, null, "rate.add", "sku:" + sku0.Code, sku0.Code, fromNs, toNs, rate);
    }

    internal static RateRule ChangeRate(UnitOfWork uow, OrganizationId organization, SkuCode sku, long fromNs, Rate rate)
    {
        var skuRow = RequireSku(uow, organization, sku, Operation.ManageCatalogue);
        return ChangeOpenRule(uow, organization.Value, skuRow.Code, uow.Session.ListSkuRules(skuRow.Id), fromNs, rate, skuId: skuRow.Id, unitId: null);
    }

    internal static IReadOnlyList<RateRule> GetRateRules(UnitOfWork uow, OrganizationId organization, SkuCode sku) =>
        uow.Session.ListSkuRules(RequireSku(uow, organization, sku, Operation.ReadCatalogue).Id).Select(RowMapping.ToRule).ToList();

    internal static RateRule AddUsdPrice(UnitOfWork uow, OrganizationId organization, UnitCode unit, long fromNs, long? toNs, Rate usdPerUnit)
    {
        var unitRow = RequireUnit(uow, organization, unit, Operation.ManageCatalogue);
        return AddRule(uow, organization, uow.Session.ListUnitPrices(unitRow.Id), null, unitRow.Id, "price.add", "unit:" + unitRow.Code, unitRow.Code, fromNs, toNs, usdPerUnit);
    }

    internal static IReadOnlyList<RateRule> GetUsdPrices(UnitOfWork uow, OrganizationId organization, UnitCode unit) =>
        uow.Session.ListUnitPrices(RequireUnit(uow, organization, unit, Operation.ReadCatalogue).Id).Select(RowMapping.ToRule).ToList();

    private static SkuRow RequireSku(UnitOfWork uow, OrganizationId organization, SkuCode sku, Operation operation)
    {
        uow.Access.RequireOrganization(organization, operation);
        return uow.Session.FindSku(organization.Value, CodeRules.Key(sku.Value)) ?? throw new NotFoundException(sku);
    }

    private static UnitRow RequireUnit(UnitOfWork uow, OrganizationId organization, UnitCode unit, Operation operation)
    {
        uow.Access.RequireOrganization(organization, operation);
        return uow.Session.FindUnit(organization.Value, CodeRules.Key(unit.Value)) ?? throw new NotFoundException(unit);
    }

    /// <summary>Adds a bounded or open rule to a SKU's rate schedule or a unit's price schedule, refusing overlaps,
    /// and journals it.</summary>
    private static RateRule AddRule(
        UnitOfWork uow, OrganizationId organization, IReadOnlyList<RuleRow> existing, long? skuId, long? unitId,
        string action, string target, string scheduleName, long fromNs, long? toNs, Rate rate)
    {
        var from = InstantCodec.FromNs(fromNs);
        Instant? to = toNs is { } t ? InstantCodec.FromNs(t) : null;
        RateSchedule.CheckNoOverlap(scheduleName, existing.Select(RowMapping.ToRule), from, to);
        var id = uow.Session.InsertRule(skuId, unitId, fromNs, toNs, rate.Nanos, uow.NowNs, uow.Actor.Id);
        var journal = uow.Journal;
        journal.Append(organization.Value, null, action, target, null, RuleJson(journal, id, fromNs, toNs, rate.Nanos));
        return new RateRule(id, from, to, rate);
    }

    private static RateRule ChangeOpenRule(UnitOfWork uow, long orgId, string name, IReadOnlyList<RuleRow> rules, long fromNs, Rate rate, long? skuId, long? unitId)
    {
        var from = InstantCodec.FromNs(fromNs);
        foreach (var rule in rules)
        {
            if (rule.FromNs >= fromNs)
            {
                throw new ConflictException(
                    $"'{name}' already has a rule starting at {InstantCodec.FromNs(rule.FromNs)}, not before {from}; add bounded rules instead",
                    ["effectiveFrom"]);
            }
            if (rule.ToNs is { } end && end > fromNs)
            {
                throw new ConflictException(
                    $"the rule {RateSchedule.Describe(RowMapping.ToRule(rule))} of '{name}' is bounded and covers {from}; add a rule after it instead",
                    ["effectiveFrom"]);
            }
        }
        var open = rules.FirstOrDefault(r => r.ToNs is null);
        if (open is not null)
        {
            uow.Session.SetRuleEnd(open.Id, fromNs);
        }
        var id = uow.Session.InsertRule(skuId, unitId, fromNs, null, rate.Nanos, uow.NowNs, uow.Actor.Id);
        var journal = uow.Journal;
        journal.Append(
            orgId,
            null,
            skuId is null ? "price.change" : "rate.change",
            (skuId is null ? "unit:" : "sku:") + name,
            open is null ? null : RuleJson(journal, open.Id, open.FromNs, null, open.Rate),
            journal.Object(
                ("ended", open is null ? null : new RawJson(RuleJson(journal, open.Id, open.FromNs, fromNs, open.Rate))),
                ("added", new RawJson(RuleJson(journal, id, fromNs, null, rate.Nanos)))));
        return new RateRule(id, from, null, rate);
    }

    internal static string RuleJson(JournalWriter journal, long id, long fromNs, long? toNs, long rateNanos) => journal.Object(
        ("rule", id),
        ("from", NodaTime.Text.InstantPattern.ExtendedIso.Format(InstantCodec.FromNs(fromNs))),
        ("to", toNs is { } to ? NodaTime.Text.InstantPattern.ExtendedIso.Format(InstantCodec.FromNs(to)) : null),
        ("rate", FixedPoint.Format(rateNanos, 9)));

    internal static (long FromNs, long? ToNs) CheckPeriod(Instant effectiveFrom, Instant? effectiveTo)
    {
        var fromNs = InstantCodec.ToNs(effectiveFrom, "effectiveFrom");
        long? toNs = effectiveTo is { } to ? InstantCodec.ToNs(to, "effectiveTo") : null;
        if (toNs is { } t && t <= fromNs)
        {
            throw new InvalidInputException("effectiveTo", effectiveTo.ToString(), $"must be later than effectiveFrom {effectiveFrom}");
        }
        return (fromNs, toNs);
    }

    internal static void CheckCode(string value, string field)
    {
        if (value.Length == 0)
        {
            throw new InvalidInputException(field, null, "a code is required");
        }
    }
}
