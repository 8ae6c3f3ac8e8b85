using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Journal;
using Allocations.Storage;
using NodaTime;

namespace Allocations.Recording;

/// <summary>Re-rating a SKU's stored events under today's rules: a preview that changes nothing, and the application
/// of exactly that preview, inside the caller's unit of work.</summary>
/// <remarks>Both need an organization admin: a preview lists events of any allocation of the organization, so no
/// lesser level could be shown it without revealing events it may not Read.</remarks>
internal static class RerateService
{
    /// <summary>How many changed events a preview lists unless asked otherwise.</summary>
    internal const int DefaultMaxEvents = 10_000;

    /// <summary>The most a preview lists, and so the most one re-rate applies in one transaction.</summary>
    internal const int MaxEventsLimit = 100_000;

    /// <summary>How many events a preview reads from storage at a time.</summary>
    internal const int PageSize = 1_000;

    /// <summary>Checks a preview's arguments before any transaction.</summary>
    internal static (long FromNs, long ToNs) Check(SkuCode sku, Interval interval, int maxEvents)
    {
        Catalogue.CatalogueService.CheckCode(sku.Value, "sku");
        if (!interval.HasStart || !interval.HasEnd)
        {
            throw new InvalidInputException("interval", interval.ToString(), "must have a start and an end");
        }
        var fromNs = InstantCodec.ToNs(interval.Start, "interval");
        var toNs = InstantCodec.ToNs(interval.End, "interval");
        if (toNs <= fromNs)
        {
            throw new InvalidInputException("interval", interval.ToString(), "must not be empty");
        }
        if (maxEvents is < 1 or > MaxEventsLimit)
        {
            throw new InvalidInputException("maxEvents", maxEvents.ToString(CultureInfo.InvariantCulture), $"must be between 1 and {MaxEventsLimit:N0}");
        }
        return (fromNs, toNs);
    }

    internal static ReratePreview Preview(UnitOfWork uow, OrganizationId organization, SkuCode sku, Interval interval, long fromNs, long toNs, int maxEvents)
    {
        var session = uow.Session;
        uow.Access.RequireOrganization(organization, Operation.Rerate);
        var skuRow = session.FindSku(organization.Value, CodeRules.Key(sku.Value)) ?? throw new NotFoundException(sku);
        var writer = uow.Writer();
        var items = new List<RerateItem>();
        var complete = true;
        long afterId = 0;
        while (complete)
        {
            var page = session.ListSkuEventsPage(skuRow.Id, fromNs, toNs, afterId, PageSize);
            foreach (var stored in page)
            {
                session.CancellationToken.ThrowIfCancellationRequested();
                var segments = session.ListSegments(stored.Id);
                var (rerated, newSegments) = writer.RateAgain(stored);
                if (UsageWriter.SameRating(stored, segments, rerated, newSegments))
                {
                    continue;
                }
                if (items.Count == maxEvents)
                {
                    complete = false;
                    break;
                }
                items.Add(new RerateItem(
                    new UsageEventId(stored.Id),
                    new AllocationId(stored.AllocationId),
                    (UsageStatus)stored.Status,
                    Amount.FromMicros(stored.Amount),
                    Amount.FromMicros(rerated.Amount),
                    stored.Usd is { } oldUsd ? Amount.FromMicros(oldUsd) : null,
                    rerated.Usd is { } newUsd ? Amount.FromMicros(newUsd) : null,
                    EventDigest.Compute(stored, segments),
                    EventDigest.Compute(rerated, newSegments)));
            }
            if (page.Count < PageSize)
            {
                break;
            }
            afterId = page[^1].Id;
        }
        var rulesDigest = RulesDigest(session, skuRow);
        return new ReratePreview(
            organization,
            new SkuCode(skuRow.Code),
            interval,
            items,
            Deltas(writer, items),
            complete,
            Token(organization.Value, skuRow.Id, fromNs, toNs, complete, rulesDigest, items),
            rulesDigest);
    }

    /// <summary>Applies a preview: the events it lists are locked (their allocations, with parents) and read again;
    /// each must still be as the preview saw it (then it is re-rated) or already as the preview would leave it (then it
    /// was applied before), and the SKU's rules and the unit's prices must be the ones the preview rated with.</summary>
    internal static async ValueTask<RerateResult> ApplyAsync(UnitOfWork uow, ReratePreview preview)
    {
        var session = uow.Session;
        uow.Access.RequireOrganization(preview.Organization, Operation.Rerate);
        var skuRow = session.FindSku(preview.Organization.Value, CodeRules.Key(preview.Sku.Value)) ?? throw new NotFoundException(preview.Sku);
        var allocationIds = new SortedSet<long>();
        foreach (var item in preview.Events)
        {
            if (session.GetEvent(item.Event.Value) is { } row)
            {
                allocationIds.Add(row.AllocationId);
            }
        }
        if (allocationIds.Count > 0)
        {
            await session.LockAllocationsAsync([.. allocationIds], withParents: true).ConfigureAwait(false);
        }
        if (!RulesDigest(session, skuRow).AsSpan().SequenceEqual(preview.RulesDigest))
        {
            throw new StalePreviewException(preview.Sku, $"the rules of '{skuRow.Code}' or the USD prices of its unit changed", []);
        }

        var writer = uow.Writer();
        var apply = new List<(EventRow Stored, EventRow Rerated, List<SegmentRow> Segments)>();
        var stale = new List<UsageEventId>();
        var already = 0;
        foreach (var item in preview.Events)
        {
            session.CancellationToken.ThrowIfCancellationRequested();
            var stored = session.GetEvent(item.Event.Value);
            if (stored is null || stored.SkuId != skuRow.Id || stored.OrgId != preview.Organization.Value)
            {
                stale.Add(item.Event);
                continue;
            }
            var current = EventDigest.Compute(stored, session.ListSegments(stored.Id));
            var (rerated, segments) = writer.RateAgain(stored);
            if (current.AsSpan().SequenceEqual(item.OldDigest) && EventDigest.Compute(rerated, segments).AsSpan().SequenceEqual(item.NewDigest))
            {
                apply.Add((stored, rerated, segments));
            }
            else if (current.AsSpan().SequenceEqual(item.NewDigest))
            {
                already++;
            }
            else
            {
                stale.Add(item.Event);
            }
        }
        if (stale.Count > 0)
        {
            var shown = string.Join(", ", stale.Take(5)) + (stale.Count > 5 ? $" and {stale.Count - 5} more" : "");
            throw new StalePreviewException(preview.Sku, $"{stale.Count} of its events changed or are gone since ({shown})", stale);
        }

        var before = new Dictionary<long, Int128>();
        foreach (var (stored, rerated, segments) in apply)
        {
            Remember(writer.Load(stored.AllocationId));
            if (writer.Load(stored.AllocationId).ParentId is { } parent)
            {
                Remember(writer.Load(parent));
            }
            writer.Rerate(stored, rerated, segments);
        }
        writer.Flush();

        // Expired holds no longer count: the figures compared and returned are without them, before and after.
        var moved = before.Keys.Order().Select(id => (Row: writer.Load(id), Expired: uow.Session.SumExpiredHolds(id, uow.NowNs))).ToList();
        return new RerateResult(
            apply.Count,
            already,
            moved.Select(m => RowMapping.ToAllocation(m.Row, m.Expired)).ToList(),
            moved.Where(m => Counted(m.Row, m.Expired.Tree) > before[m.Row.Id] && Counted(m.Row, m.Expired.Tree) > m.Row.Total)
                .Select(m => new AllocationId(m.Row.Id))
                .ToList());

        void Remember(AllocationRow row)
        {
            if (!before.ContainsKey(row.Id))
            {
                before[row.Id] = Counted(row, uow.Session.SumExpiredHolds(row.Id, uow.NowNs).Tree);
            }
        }

        static Int128 Counted(AllocationRow row, long expired) => (Int128)row.Used + row.Estimated - expired;
    }

    /// <summary>Each allocation's figure deltas from the listed events: an event moves its allocation's Used (when
    /// Confirmed) or Estimated, and its parent's the same.</summary>
    private static List<RerateAllocationDelta> Deltas(UsageWriter writer, List<RerateItem> items)
    {
        var sums = new SortedDictionary<long, (Int128 Used, Int128 Estimated)>();
        foreach (var item in items)
        {
            var allocation = writer.Load(item.Allocation.Value);
            Add(allocation.Id, item);
            if (allocation.ParentId is { } parent)
            {
                Add(parent, item);
            }
        }
        return sums.Select(s => new RerateAllocationDelta(new AllocationId(s.Key), writer.Load(s.Key).Name, ToAmount(s.Value.Used, s.Key), ToAmount(s.Value.Estimated, s.Key))).ToList();

        void Add(long id, RerateItem item)
        {
            var (used, estimated) = sums.GetValueOrDefault(id);
            Int128 delta = item.NewAmount.Micros - (Int128)item.OldAmount.Micros;
            sums[id] = item.Status == UsageStatus.Confirmed ? (used + delta, estimated) : (used, estimated + delta);
        }

        Amount ToAmount(Int128 value, long allocationId) => value >= long.MinValue && value <= long.MaxValue
            ? Amount.FromMicros((long)value)
            : throw new InvalidInputException("amount", value.ToString(CultureInfo.InvariantCulture), $"the re-rate would move the figures of {new AllocationId(allocationId)} past the amount range");
    }

    /// <summary>A digest of everything a rating under today's rules depends on besides the event: the SKU's basis and
    /// unit, its rules, and its unit's USD prices.</summary>
    private static byte[] RulesDigest(IStorageSession session, SkuRow sku)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        CanonicalEncoding.Int64(buffer, sku.Id);
        CanonicalEncoding.Int64(buffer, sku.Basis);
        CanonicalEncoding.Int64(buffer, sku.UnitId);
        Rules(session.ListSkuRules(sku.Id));
        Rules(session.ListUnitPrices(sku.UnitId));
        return SHA256.HashData(buffer.WrittenSpan);

        void Rules(IReadOnlyList<RuleRow> rules)
        {
            CanonicalEncoding.Int32(buffer, rules.Count);
            foreach (var rule in rules)
            {
                CanonicalEncoding.Int64(buffer, rule.Id);
                CanonicalEncoding.Int64(buffer, rule.FromNs);
                CanonicalEncoding.Int64(buffer, rule.ToNs ?? -1);
                CanonicalEncoding.Int64(buffer, rule.Rate);
            }
        }
    }

    private static string Token(long orgId, long skuId, long fromNs, long toNs, bool complete, byte[] rulesDigest, List<RerateItem> items)
    {
        var buffer = new ArrayBufferWriter<byte>(128 + (items.Count * 72));
        CanonicalEncoding.String(buffer, "rerate-preview/1");
        CanonicalEncoding.Int64(buffer, orgId);
        CanonicalEncoding.Int64(buffer, skuId);
        CanonicalEncoding.Int64(buffer, fromNs);
        CanonicalEncoding.Int64(buffer, toNs);
        CanonicalEncoding.Byte(buffer, complete ? (byte)1 : (byte)0);
        CanonicalEncoding.Bytes(buffer, rulesDigest);
        CanonicalEncoding.Int32(buffer, items.Count);
        foreach (var item in items)
        {
            CanonicalEncoding.Int64(buffer, item.Event.Value);
            CanonicalEncoding.Bytes(buffer, item.OldDigest);
            CanonicalEncoding.Bytes(buffer, item.NewDigest);
        }
        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }
}
