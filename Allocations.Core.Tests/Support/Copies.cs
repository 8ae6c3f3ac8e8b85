using Allocations.Domain;
using Allocations.Import.Slurm;
using Allocations.Reporting;
using NodaTime;

namespace Allocations.Tests.Support;

/// <summary>Copies of the library's input types with some properties changed, for tests that vary one field of a
/// valid value (the types have no <c>with</c>). A null argument keeps the property as it is.</summary>
internal static class Copies
{
    public static UsageRecord With(
        this UsageRecord r,
        AllocationId? allocation = null,
        SkuCode? sku = null,
        Quantity? quantity = null,
        Instant? start = null,
        Instant? end = null,
        UsageStatus? status = null,
        string? externalKey = null,
        IReadOnlyDictionary<string, string>? attributes = null) =>
        new(allocation ?? r.Allocation, sku ?? r.Sku, quantity ?? r.Quantity, start ?? r.Start, end ?? r.End, status ?? r.Status,
            externalKey ?? r.ExternalKey, attributes ?? r.Attributes);

    public static SlurmSyncOptions WithSince(this SlurmSyncOptions o, Instant since) =>
        new() { DryRun = o.DryRun, SnapshotAt = o.SnapshotAt, Since = since, ListClusters = o.ListClusters };

    public static EventQuery WithPageSize(this EventQuery q, int pageSize) => q.WithPage(pageSize, q.After);
}
