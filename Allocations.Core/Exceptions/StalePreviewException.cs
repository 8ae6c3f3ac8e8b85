using Allocations.Domain;

namespace Allocations.Exceptions;

/// <summary>A re-rate preview no longer describes the store: an event it lists, or the rules it rated with, changed
/// after it was taken. Nothing was applied; take a new preview.</summary>
public sealed class StalePreviewException : AllocationsException
{
    internal StalePreviewException(SkuCode sku, string reason, IReadOnlyList<UsageEventId> events)
        : base($"the re-rate preview of {InvalidInputException.Display(sku.Value)} is out of date: {reason}; nothing was applied, take a new preview")
    {
        Sku = sku;
        Reason = reason;
        Events = events;
    }

    /// <summary>Gets the SKU of the preview.</summary>
    public SkuCode Sku { get; }

    /// <summary>Gets what changed, as the message names it.</summary>
    public string Reason { get; }

    /// <summary>Gets the listed events that changed or are gone since the preview (empty when the rules changed).</summary>
    public IReadOnlyList<UsageEventId> Events { get; }
}
