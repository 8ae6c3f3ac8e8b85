namespace Allocations.Storage;

// Row shapes Dapper maps to and from; they carry raw integers and convert to domain types in the facade.
#pragma warning disable SA1649, SA1402 // one file for the plain row carriers

internal sealed class OrganizationRow
{
    public long Id { get; set; }

    public string Name { get; set; } = "";

    public long CreatedNs { get; set; }
}

internal sealed class UnitRow
{
    public long Id { get; set; }

    public long OrgId { get; set; }

    public string Code { get; set; } = "";

    public int DisplayPrecision { get; set; }
}

internal sealed class SkuRow
{
    public long Id { get; set; }

    public long OrgId { get; set; }

    public string Code { get; set; } = "";

    public long UnitId { get; set; }

    public string UnitCode { get; set; } = "";

    public int Basis { get; set; }
}

internal sealed class RuleRow
{
    public long Id { get; set; }

    public long FromNs { get; set; }

    public long? ToNs { get; set; }

    public long Rate { get; set; }
}

internal sealed class AllocationRow
{
    /// <summary>A copy of the row, for a caller that may change it while the original is kept.</summary>
    public AllocationRow Copy() => new()
    {
        Id = Id,
        OrgId = OrgId,
        Name = Name,
        UnitId = UnitId,
        UnitCode = UnitCode,
        ParentId = ParentId,
        Total = Total,
        OwnUsed = OwnUsed,
        OwnEstimated = OwnEstimated,
        Used = Used,
        Estimated = Estimated,
        CreatedNs = CreatedNs,
        PeriodStartNs = PeriodStartNs,
        PeriodEndNs = PeriodEndNs,
    };

    public long Id { get; set; }

    public long OrgId { get; set; }

    public string Name { get; set; } = "";

    public long UnitId { get; set; }

    public string UnitCode { get; set; } = "";

    public long? ParentId { get; set; }

    public long Total { get; set; }

    public long OwnUsed { get; set; }

    public long OwnEstimated { get; set; }

    public long Used { get; set; }

    public long Estimated { get; set; }

    public long CreatedNs { get; set; }

    /// <summary>Gets or sets the start of the allocation's own period (inclusive), or null when open.</summary>
    public long? PeriodStartNs { get; set; }

    /// <summary>Gets or sets the end of the allocation's own period (exclusive), or null when open.</summary>
    public long? PeriodEndNs { get; set; }
}

internal sealed class TotalChangeRow
{
    public long AllocationId { get; set; }

    public long OldTotal { get; set; }

    public long NewTotal { get; set; }

    public string Actor { get; set; } = "";

    public long AtNs { get; set; }

    public string Reason { get; set; } = "";
}

internal sealed class EventRow
{
    public long Id { get; set; }

    public long OrgId { get; set; }

    public long AllocationId { get; set; }

    public long SkuId { get; set; }

    public string SkuCode { get; set; } = "";

    public long Quantity { get; set; }

    public long StartNs { get; set; }

    public long EndNs { get; set; }

    public int Status { get; set; }

    public string? ExternalKey { get; set; }

    public long Amount { get; set; }

    public long? Usd { get; set; }

    public string? Attributes { get; set; }

    public long RecordedNs { get; set; }

    public string RecordedBy { get; set; } = "";

    /// <summary>Who recorded the event, as the key scope sees it: <c>user:&lt;id&gt;</c>, <c>system</c> or
    /// <c>slurm</c>. An external key is unique within (organization, source).</summary>
    public string Source { get; set; } = "";

    /// <summary>When a hold placed by a reservation expires; null for a hold that never does and for every Confirmed
    /// event.</summary>
    public long? ExpiresNs { get; set; }
}

internal sealed class SegmentRow
{
    public long EventId { get; set; }

    public int Seq { get; set; }

    public long StartNs { get; set; }

    public long EndNs { get; set; }

    public long RuleId { get; set; }

    public long Rate { get; set; }

    public long Amount { get; set; }
}

internal sealed class EventSumRow
{
    public long AllocationId { get; set; }

    public int Status { get; set; }

    public long Total { get; set; }

    public long Count { get; set; }
}
