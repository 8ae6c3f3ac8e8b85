using Allocations.Access;
using Allocations.Domain;
using Allocations.Recording;
using NodaTime;

namespace Allocations.Storage;

/// <summary>Stored rows as the values callers see: the one place a row turns into a domain type, explicitly.</summary>
internal static class RowMapping
{
    /// <summary>The allocation of a row. Writes keep Used + Estimated in range, so Remaining and the percentage can
    /// always be computed; a row that breaks this (an older or edited file) throws <see cref="OverflowException"/>
    /// here, inside the unit of work, where the engine translates it, not later in the caller's hands.</summary>
    internal static Allocation ToAllocation(AllocationRow row) => ToAllocation(row, default);

    /// <summary>The allocation of a row as it stands: without the holds that have expired but are still stored
    /// (<paramref name="expired"/>, from <see cref="IStorageSession.SumExpiredHolds"/>), which no longer count.</summary>
    internal static Allocation ToAllocation(AllocationRow row, (long Own, long Tree) expired)
    {
        _ = checked(row.Used + row.Estimated);
        return new(
            new AllocationId(row.Id),
            new OrganizationId(row.OrgId),
            row.Name,
            new UnitCode(row.UnitCode),
            row.ParentId is { } p ? new AllocationId(p) : null,
            Amount.FromMicros(row.Total),
            Amount.FromMicros(row.Used),
            Amount.FromMicros(checked(row.Estimated - expired.Tree)),
            Amount.FromMicros(row.OwnUsed),
            Amount.FromMicros(checked(row.OwnEstimated - expired.Own)),
            InstantCodec.FromNs(row.CreatedNs),
            row.PeriodStartNs is { } start ? InstantCodec.FromNs(start) : null,
            row.PeriodEndNs is { } end ? InstantCodec.FromNs(end) : null);
    }

    internal static RateRule ToRule(RuleRow row) =>
        new(row.Id, InstantCodec.FromNs(row.FromNs), row.ToNs is { } to ? InstantCodec.FromNs(to) : null, Rate.FromNanos(row.Rate));

    internal static SkuInfo ToSkuInfo(SkuRow row) => new(new SkuCode(row.Code), new UnitCode(row.UnitCode), (RateBasis)row.Basis);

    internal static Grant ToGrant(GrantRow row, bool inherited) => new(
        new AllocationId(row.AllocationId),
        row.GroupName is { } name ? Grantee.Group(name) : Grantee.Organization,
        (AccessLevel)row.Level,
        inherited,
        InstantCodec.FromNs(row.GrantedNs),
        row.GrantedBy);

    /// <summary>An event with its rated segments.</summary>
    internal static UsageEvent ToEvent(EventRow row, IReadOnlyList<SegmentRow> segments) => new(
        new UsageEventId(row.Id),
        new AllocationId(row.AllocationId),
        new SkuCode(row.SkuCode),
        Quantity.FromMicros(row.Quantity),
        new Interval(InstantCodec.FromNs(row.StartNs), InstantCodec.FromNs(row.EndNs)),
        (UsageStatus)row.Status,
        row.ExternalKey,
        Amount.FromMicros(row.Amount),
        row.Usd is { } usd ? Amount.FromMicros(usd) : null,
        Attributes.FromJson(row.Attributes),
        segments.Select(s => new RatedSegment(
            new Interval(InstantCodec.FromNs(s.StartNs), InstantCodec.FromNs(s.EndNs)),
            s.RuleId,
            Rate.FromNanos(s.Rate),
            Amount.FromMicros(s.Amount))).ToList(),
        InstantCodec.FromNs(row.RecordedNs),
        row.RecordedBy,
        row.ExpiresNs is { } expiresNs ? InstantCodec.FromNs(expiresNs) : null);

    /// <summary>A journal entry as callers see it. Rows up to <paramref name="legacyLastSequence"/> were written before
    /// actors were encoded: their bare <c>system</c> is read as the system actor, any other id as <c>user:&lt;id&gt;</c>.</summary>
    internal static JournalEntry ToEntry(JournalRow row, long legacyLastSequence) => new(
        row.Id,
        new OrganizationId(row.OrgId),
        row.AllocationId is { } a ? new AllocationId(a) : null,
        InstantCodec.FromNs(row.AtNs),
        row.Id <= legacyLastSequence && row.Actor != "system" ? "user:" + row.Actor : row.Actor,
        row.Action,
        row.Target,
        row.Before,
        row.After,
        Convert.ToHexStringLower(row.Hash),
        Convert.ToHexStringLower(row.PrevHash));
}
