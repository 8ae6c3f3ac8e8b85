using Allocations.Domain;
using Allocations.Storage;

namespace Allocations.Recording;

/// <summary>A SKU as the recording path rates with it: immutable, so a store's transactions on several threads can
/// share it (with its compiled <see cref="Rating.RateSchedule"/>) through the <see cref="CatalogueCache"/>.</summary>
/// <param name="Id">The SKU's id.</param>
/// <param name="OrgId">Its organization's id.</param>
/// <param name="Code">Its code as defined.</param>
/// <param name="UnitId">The id of the unit its rates convert into.</param>
/// <param name="UnitCode">That unit's code.</param>
/// <param name="Basis">How a quantity turns into an amount.</param>
internal sealed record CompiledSku(long Id, long OrgId, string Code, long UnitId, string UnitCode, RateBasis Basis)
{
    internal static CompiledSku Of(SkuRow row) => new(row.Id, row.OrgId, row.Code, row.UnitId, row.UnitCode, (RateBasis)row.Basis);
}
