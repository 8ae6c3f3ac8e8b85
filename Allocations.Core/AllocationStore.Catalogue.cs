using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Journal;
using Allocations.Rating;
using Allocations.Storage;
using Allocations.Utility;
using NodaTime;

namespace Allocations;

public sealed partial class AllocationStore
{
    private const int UsdDisplayPrecision = 2;

    /// <summary>Creates an organization with the built-in USD unit and its first admin.</summary>
    /// <param name="actor">Must be <see cref="Principal.System"/>.</param>
    /// <param name="name">1 to 200 printable characters, trimmed; unique in the store ignoring case.</param>
    /// <param name="firstAdmin">The user id of the organization's first admin.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new organization.</returns>
    /// <exception cref="InvalidInputException">The name or admin id is invalid.</exception>
    /// <exception cref="AccessDeniedException">The actor is not the system actor.</exception>
    /// <exception cref="ConflictException">An organization with that name exists.</exception>
    public Task<Organization> CreateOrganizationAsync(Principal actor, string name, string firstAdmin, CancellationToken cancellationToken = default)
    {
        AccessResolver.CheckActor(actor);
        var trimmed = Preconditions.CheckName(name, "name");
        var admin = Principal.User(firstAdmin);
        return engine.WriteAsync(
            session =>
            {
                if (!actor.IsSystem)
                {
                    throw new AccessDeniedException(actor.Id, Permissions.Describe(Operation.CreateOrganization), "the store", null, AccessRole.SystemActor);
                }
                var key = Preconditions.NameKey(trimmed);
                if (session.OrganizationNameExists(key))
                {
                    throw new ConflictException($"an organization named {InvalidInputException.Display(trimmed)} already exists", ["name"]);
                }
                var now = NowNs();
                var id = session.InsertOrganization(trimmed, key, now);
                session.InsertUnit(id, UnitCode.Usd.Value, CodeRules.Key(UnitCode.Usd.Value), UsdDisplayPrecision);
                session.AddOrgAdmin(id, admin.Id);
                var journal = new JournalWriter(session, actor, now);
                journal.Append(id, null, "organization.create", new OrganizationId(id).ToString(), null, journal.Object(("name", trimmed), ("firstAdmin", admin.Id)));
                return new Organization(new OrganizationId(id), trimmed);
            },
            cancellationToken);
    }

    /// <summary>Lists the organizations the actor administers (every organization for the system actor).</summary>
    /// <param name="actor">Any principal.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The organizations, oldest first.</returns>
    public Task<IReadOnlyList<Organization>> ListOrganizationsAsync(Principal actor, CancellationToken cancellationToken = default)
    {
        AccessResolver.CheckActor(actor);
        return engine.ReadAsync<IReadOnlyList<Organization>>(
            session => session.ListOrganizations()
                .Where(o => AccessResolver.IsOrgAdmin(session, actor, o.Id))
                .Select(o => new Organization(new OrganizationId(o.Id), o.Name))
                .ToList(),
            cancellationToken);
    }

    /// <summary>Makes a user an admin of an organization.</summary>
    /// <param name="actor">An organization admin or the system actor.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="userId">The user to make admin.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the change is durable.</returns>
    /// <exception cref="InvalidInputException">The user id is invalid.</exception>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task AddOrganizationAdminAsync(Principal actor, OrganizationId organization, string userId, CancellationToken cancellationToken = default)
    {
        var user = Principal.User(userId);
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ManageOrganizationAdmins);
                if (!session.IsOrgAdmin(organization.Value, user.Id))
                {
                    session.AddOrgAdmin(organization.Value, user.Id);
                    new JournalWriter(session, actor, NowNs()).Append(organization.Value, null, "organization.admin.add", "user:" + user.Id, "{\"admin\":false}", "{\"admin\":true}");
                }
                return 0;
            },
            cancellationToken);
    }

    /// <summary>Defines a custom unit in an organization.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="code">The unit's code, unique in the organization ignoring case.</param>
    /// <param name="displayPrecision">Decimal places shown for amounts, 0 to 6 (amounts are always stored with six).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The unit.</returns>
    /// <exception cref="InvalidInputException">The code or precision is invalid.</exception>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="ConflictException">The unit exists (USD always does).</exception>
    public Task<UnitInfo> CreateUnitAsync(Principal actor, OrganizationId organization, UnitCode code, int displayPrecision, CancellationToken cancellationToken = default)
    {
        CheckCode(code.Value, "unit");
        Preconditions.CheckArgument(displayPrecision is >= 0 and <= 6, "displayPrecision", displayPrecision.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be between 0 and 6");
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ManageCatalogue);
                var key = CodeRules.Key(code.Value);
                if (session.FindUnit(organization.Value, key) is not null)
                {
                    throw new ConflictException($"unit '{code}' already exists in {organization}", ["unit"]);
                }
                session.InsertUnit(organization.Value, code.Value, key, displayPrecision);
                var journal = new JournalWriter(session, actor, NowNs());
                journal.Append(organization.Value, null, "unit.create", "unit:" + code.Value, null, journal.Object(("code", code.Value), ("displayPrecision", displayPrecision)));
                return new UnitInfo(code, displayPrecision);
            },
            cancellationToken);
    }

    /// <summary>Lists the units of an organization, USD included.</summary>
    /// <param name="actor">An organization admin, or anyone holding a grant on an allocation of the organization.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The units, by code.</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor may not read the catalogue.</exception>
    public Task<IReadOnlyList<UnitInfo>> ListUnitsAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        engine.ReadAsync<IReadOnlyList<UnitInfo>>(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ReadCatalogue);
                return session.ListUnits(organization.Value).Select(u => new UnitInfo(new UnitCode(u.Code), u.DisplayPrecision)).ToList();
            },
            cancellationToken);

    /// <summary>Defines a SKU of a unit.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="code">The SKU's code, unique in the organization ignoring case.</param>
    /// <param name="unit">The unit its rates convert into.</param>
    /// <param name="basis">How its quantity turns into an amount.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The SKU.</returns>
    /// <exception cref="InvalidInputException">The code or basis is invalid.</exception>
    /// <exception cref="NotFoundException">The organization or the unit does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="ConflictException">The SKU exists.</exception>
    public Task<SkuInfo> CreateSkuAsync(Principal actor, OrganizationId organization, SkuCode code, UnitCode unit, RateBasis basis, CancellationToken cancellationToken = default)
    {
        CheckCode(code.Value, "sku");
        CheckCode(unit.Value, "unit");
        Preconditions.CheckArgument(Enum.IsDefined(basis), "basis", basis.ToString(), "must be PerHour or PerUnit");
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ManageCatalogue);
                var unitRow = session.FindUnit(organization.Value, CodeRules.Key(unit.Value)) ?? throw new NotFoundException(unit);
                var key = CodeRules.Key(code.Value);
                if (session.FindSku(organization.Value, key) is not null)
                {
                    throw new ConflictException($"SKU '{code}' already exists in {organization}", ["sku"]);
                }
                session.InsertSku(organization.Value, code.Value, key, unitRow.Id, (int)basis);
                var journal = new JournalWriter(session, actor, NowNs());
                journal.Append(organization.Value, null, "sku.create", "sku:" + code.Value, null, journal.Object(("code", code.Value), ("unit", unitRow.Code), ("basis", basis.ToString())));
                return new SkuInfo(code, new UnitCode(unitRow.Code), basis);
            },
            cancellationToken);
    }

    /// <summary>Lists the SKUs of an organization.</summary>
    /// <param name="actor">An organization admin, or anyone holding a grant on an allocation of the organization.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The SKUs, by code.</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor may not read the catalogue.</exception>
    public Task<IReadOnlyList<SkuInfo>> ListSkusAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        engine.ReadAsync<IReadOnlyList<SkuInfo>>(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ReadCatalogue);
                return session.ListSkus(organization.Value).Select(ToSkuInfo).ToList();
            },
            cancellationToken);

    /// <summary>Adds a rate rule to a SKU's schedule: from <paramref name="effectiveFrom"/> to
    /// <paramref name="effectiveTo"/> (exclusive; null for open-ended) the SKU is rated at <paramref name="rate"/>.</summary>
    /// <remarks>Rules of one SKU never overlap. Adding a rule never changes amounts already stored.</remarks>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="sku">The SKU.</param>
    /// <param name="effectiveFrom">The first instant the rule is in force.</param>
    /// <param name="effectiveTo">The first instant it is not, or null.</param>
    /// <param name="rate">Allocation units per SKU unit (per hour for PerHour SKUs).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored rule.</returns>
    /// <exception cref="InvalidInputException">An instant is out of range or the period is empty.</exception>
    /// <exception cref="NotFoundException">The organization or SKU does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="ConflictException">The rule overlaps another; the message names both periods.</exception>
    public Task<RateRule> AddRateRuleAsync(Principal actor, OrganizationId organization, SkuCode sku, Instant effectiveFrom, Instant? effectiveTo, Rate rate, CancellationToken cancellationToken = default)
    {
        CheckCode(sku.Value, "sku");
        var (fromNs, toNs) = CheckPeriod(effectiveFrom, effectiveTo);
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ManageCatalogue);
                var skuRow = session.FindSku(organization.Value, CodeRules.Key(sku.Value)) ?? throw new NotFoundException(sku);
                return AddRule(session, actor, organization, session.ListSkuRules(skuRow.Id), skuRow.Id, null, "rate.add", "sku:" + skuRow.Code, skuRow.Code, fromNs, toNs, rate);
            },
            cancellationToken);
    }

    /// <summary>Changes a SKU's rate from an instant on: the open-ended rule in force then is ended there and a new
    /// open-ended rule at <paramref name="rate"/> begins.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="sku">The SKU.</param>
    /// <param name="effectiveFrom">When the new rate takes effect.</param>
    /// <param name="rate">The new rate.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new rule.</returns>
    /// <exception cref="InvalidInputException">The instant is out of range.</exception>
    /// <exception cref="NotFoundException">The organization or SKU does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="ConflictException">A bounded rule covers the instant, or a rule starts at or after it.</exception>
    public Task<RateRule> ChangeRateAsync(Principal actor, OrganizationId organization, SkuCode sku, Instant effectiveFrom, Rate rate, CancellationToken cancellationToken = default)
    {
        CheckCode(sku.Value, "sku");
        var (fromNs, _) = CheckPeriod(effectiveFrom, null);
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ManageCatalogue);
                var skuRow = session.FindSku(organization.Value, CodeRules.Key(sku.Value)) ?? throw new NotFoundException(sku);
                var rules = session.ListSkuRules(skuRow.Id);
                return ChangeOpenRule(session, actor, organization.Value, skuRow.Code, rules, fromNs, rate, skuId: skuRow.Id, unitId: null);
            },
            cancellationToken);
    }

    /// <summary>Gets a SKU's rate rules in time order.</summary>
    /// <param name="actor">An organization admin, or anyone holding a grant on an allocation of the organization.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="sku">The SKU.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The rules.</returns>
    /// <exception cref="NotFoundException">The organization or SKU does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor may not read the catalogue.</exception>
    public Task<IReadOnlyList<RateRule>> GetRateRulesAsync(Principal actor, OrganizationId organization, SkuCode sku, CancellationToken cancellationToken = default)
    {
        CheckCode(sku.Value, "sku");
        return engine.ReadAsync<IReadOnlyList<RateRule>>(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ReadCatalogue);
                var skuRow = session.FindSku(organization.Value, CodeRules.Key(sku.Value)) ?? throw new NotFoundException(sku);
                return session.ListSkuRules(skuRow.Id).Select(ToRule).ToList();
            },
            cancellationToken);
    }

    /// <summary>Adds a USD price rule to a custom unit: from <paramref name="effectiveFrom"/> to
    /// <paramref name="effectiveTo"/>, one unit costs <paramref name="usdPerUnit"/> dollars.</summary>
    /// <remarks>Once a unit has prices, every event in it is priced in USD too, and an event at an instant no price
    /// covers is refused with <see cref="NoRateException"/>.</remarks>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="unit">A custom unit (not USD).</param>
    /// <param name="effectiveFrom">The first instant the price is in force.</param>
    /// <param name="effectiveTo">The first instant it is not, or null.</param>
    /// <param name="usdPerUnit">Dollars per unit.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored rule.</returns>
    /// <exception cref="InvalidInputException">The unit is USD, or the period is invalid.</exception>
    /// <exception cref="NotFoundException">The organization or unit does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="ConflictException">The rule overlaps another price of the unit.</exception>
    public Task<RateRule> AddUsdPriceAsync(Principal actor, OrganizationId organization, UnitCode unit, Instant effectiveFrom, Instant? effectiveTo, Rate usdPerUnit, CancellationToken cancellationToken = default)
    {
        CheckCode(unit.Value, "unit");
        Preconditions.CheckArgument(!unit.IsUsd, "unit", unit.Value, "USD has no USD price schedule");
        var (fromNs, toNs) = CheckPeriod(effectiveFrom, effectiveTo);
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ManageCatalogue);
                var unitRow = session.FindUnit(organization.Value, CodeRules.Key(unit.Value)) ?? throw new NotFoundException(unit);
                return AddRule(session, actor, organization, session.ListUnitPrices(unitRow.Id), null, unitRow.Id, "price.add", "unit:" + unitRow.Code, unitRow.Code, fromNs, toNs, usdPerUnit);
            },
            cancellationToken);
    }

    /// <summary>Gets a unit's USD price rules in time order (empty for USD and for units without prices).</summary>
    /// <param name="actor">An organization admin, or anyone holding a grant on an allocation of the organization.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="unit">The unit.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The price rules.</returns>
    /// <exception cref="NotFoundException">The organization or unit does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor may not read the catalogue.</exception>
    public Task<IReadOnlyList<RateRule>> GetUsdPricesAsync(Principal actor, OrganizationId organization, UnitCode unit, CancellationToken cancellationToken = default)
    {
        CheckCode(unit.Value, "unit");
        return engine.ReadAsync<IReadOnlyList<RateRule>>(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ReadCatalogue);
                var unitRow = session.FindUnit(organization.Value, CodeRules.Key(unit.Value)) ?? throw new NotFoundException(unit);
                return session.ListUnitPrices(unitRow.Id).Select(ToRule).ToList();
            },
            cancellationToken);
    }

    /// <summary>Adds a bounded or open rule to a SKU's rate schedule or a unit's price schedule, refusing overlaps,
    /// and journals it.</summary>
    private RateRule AddRule(
        IStorageSession session, Principal actor, OrganizationId organization, IReadOnlyList<RuleRow> existing, long? skuId, long? unitId,
        string action, string target, string scheduleName, long fromNs, long? toNs, Rate rate)
    {
        var from = InstantCodec.FromNs(fromNs);
        Instant? to = toNs is { } t ? InstantCodec.FromNs(t) : null;
        RateSchedule.CheckNoOverlap(scheduleName, existing.Select(ToRule), from, to);
        var now = NowNs();
        var id = session.InsertRule(skuId, unitId, fromNs, toNs, rate.Nanos, now, actor.Id);
        var journal = new JournalWriter(session, actor, now);
        journal.Append(organization.Value, null, action, target, null, RuleJson(journal, id, fromNs, toNs, rate.Nanos));
        return new RateRule(id, from, to, rate);
    }

    private RateRule ChangeOpenRule(IStorageSession session, Principal actor, long orgId, string name, IReadOnlyList<RuleRow> rules, long fromNs, Rate rate, long? skuId, long? unitId)
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
                    $"the rule {RateSchedule.Describe(ToRule(rule))} of '{name}' is bounded and covers {from}; add a rule after it instead",
                    ["effectiveFrom"]);
            }
        }
        var open = rules.FirstOrDefault(r => r.ToNs is null);
        if (open is not null)
        {
            session.SetRuleEnd(open.Id, fromNs);
        }
        var now = NowNs();
        var id = session.InsertRule(skuId, unitId, fromNs, null, rate.Nanos, now, actor.Id);
        var journal = new JournalWriter(session, actor, now);
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

    private static string RuleJson(JournalWriter journal, long id, long fromNs, long? toNs, long rateNanos) => journal.Object(
        ("rule", id),
        ("from", NodaTime.Text.InstantPattern.ExtendedIso.Format(InstantCodec.FromNs(fromNs))),
        ("to", toNs is { } to ? NodaTime.Text.InstantPattern.ExtendedIso.Format(InstantCodec.FromNs(to)) : null),
        ("rate", FixedPoint.Format(rateNanos, 9)));

    private static (long FromNs, long? ToNs) CheckPeriod(Instant effectiveFrom, Instant? effectiveTo)
    {
        var fromNs = InstantCodec.ToNs(effectiveFrom, "effectiveFrom");
        long? toNs = effectiveTo is { } to ? InstantCodec.ToNs(to, "effectiveTo") : null;
        if (toNs is { } t && t <= fromNs)
        {
            throw new InvalidInputException("effectiveTo", effectiveTo.ToString(), $"must be later than effectiveFrom {effectiveFrom}");
        }
        return (fromNs, toNs);
    }

    private static void CheckCode(string value, string field)
    {
        if (value.Length == 0)
        {
            throw new InvalidInputException(field, null, "a code is required");
        }
    }

    internal static RateRule ToRule(RuleRow row) =>
        new(row.Id, InstantCodec.FromNs(row.FromNs), row.ToNs is { } to ? InstantCodec.FromNs(to) : null, Rate.FromNanos(row.Rate));

    private static SkuInfo ToSkuInfo(SkuRow row) => new(new SkuCode(row.Code), new UnitCode(row.UnitCode), (RateBasis)row.Basis);
}
