using Allocations.Access;
using Allocations.Catalogue;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Utility;
using NodaTime;

namespace Allocations;

public sealed partial class AllocationStore
{
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
        AccessRule.CheckActor(actor);
        var trimmed = Preconditions.CheckName(name, "name");
        var admin = Principal.User(firstAdmin);
        return tx.Write(actor, uow => CatalogueService.CreateOrganization(uow, trimmed, admin), cancellationToken);
    }

    /// <summary>Lists the organizations the actor administers (every organization for the system actor).</summary>
    /// <param name="actor">Any principal.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The organizations, oldest first.</returns>
    public Task<IReadOnlyList<Organization>> ListOrganizationsAsync(Principal actor, CancellationToken cancellationToken = default)
    {
        AccessRule.CheckActor(actor);
        return tx.Read(actor, CatalogueService.ListOrganizations, cancellationToken);
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
        CatalogueService.CheckUnit(code, displayPrecision);
        return tx.Write(actor, uow => CatalogueService.CreateUnit(uow, organization, code, displayPrecision), cancellationToken);
    }

    /// <summary>Lists the units of an organization, USD included.</summary>
    /// <param name="actor">An organization admin, or anyone holding a grant on an allocation of the organization.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The units, by code.</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor may not read the catalogue.</exception>
    public Task<IReadOnlyList<UnitInfo>> ListUnitsAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => CatalogueService.ListUnits(uow, organization), cancellationToken);

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
        CatalogueService.CheckSku(code, unit, basis);
        return tx.Write(actor, uow => CatalogueService.CreateSku(uow, organization, code, unit, basis), cancellationToken);
    }

    /// <summary>Lists the SKUs of an organization.</summary>
    /// <param name="actor">An organization admin, or anyone holding a grant on an allocation of the organization.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The SKUs, by code.</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor may not read the catalogue.</exception>
    public Task<IReadOnlyList<SkuInfo>> ListSkusAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => CatalogueService.ListSkus(uow, organization), cancellationToken);

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
        CatalogueService.CheckCode(sku.Value, "sku");
        var (fromNs, toNs) = CatalogueService.CheckPeriod(effectiveFrom, effectiveTo);
        return tx.Write(actor, uow => CatalogueService.AddRateRule(uow, organization, sku, fromNs, toNs, rate), cancellationToken);
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
        CatalogueService.CheckCode(sku.Value, "sku");
        var (fromNs, _) = CatalogueService.CheckPeriod(effectiveFrom, null);
        return tx.Write(actor, uow => CatalogueService.ChangeRate(uow, organization, sku, fromNs, rate), cancellationToken);
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
        CatalogueService.CheckCode(sku.Value, "sku");
        return tx.Read(actor, uow => CatalogueService.GetRateRules(uow, organization, sku), cancellationToken);
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
        CatalogueService.CheckCode(unit.Value, "unit");
        Preconditions.CheckArgument(!unit.IsUsd, "unit", unit.Value, "USD has no USD price schedule");
        var (fromNs, toNs) = CatalogueService.CheckPeriod(effectiveFrom, effectiveTo);
        return tx.Write(actor, uow => CatalogueService.AddUsdPrice(uow, organization, unit, fromNs, toNs, usdPerUnit), cancellationToken);
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
        CatalogueService.CheckCode(unit.Value, "unit");
        return tx.Read(actor, uow => CatalogueService.GetUsdPrices(uow, organization, unit), cancellationToken);
    }
}
