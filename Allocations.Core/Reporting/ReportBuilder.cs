using System.Text.Json;
using Allocations.Domain;
using Allocations.Storage;
using NodaTime;

namespace Allocations.Reporting;

/// <summary>Adds rated segments into report lines: each segment (and each event's USD cost) is cut at the range's
/// and the buckets' edges with <see cref="ProportionalSplit"/>, and each piece lands in the line of its group.</summary>
/// <remarks>Memory grows with the number of lines, never with the number of events.</remarks>
internal sealed class ReportBuilder
{
    private readonly UsageReportRequest request;
    private readonly long fromNs;
    private readonly long toNs;
    private readonly BucketCalendar calendar;
    private readonly bool byBucket;
    private readonly Dictionary<LineKey, Line> lines = [];
    private readonly Dictionary<string, string?[]> attributeCache = new(StringComparer.Ordinal);
    private readonly string?[] noAttributes;

    internal ReportBuilder(UsageReportRequest request, long fromNs, long toNs)
    {
        this.request = request;
        this.fromNs = fromNs;
        this.toNs = toNs;
        calendar = new BucketCalendar(request.Bucket, request.Zone, fromNs, toNs);
        byBucket = request.Bucket != CalendarBucket.None;
        noAttributes = new string?[request.AttributeKeys.Count];
    }

    /// <summary>Adds the segments of the given allocations' events, each event's segments together in segment order.</summary>
    internal void Add(IReadOnlyDictionary<long, AllocationRow> allocations, IEnumerable<ReportSegmentRow> segments, CancellationToken cancellationToken)
    {
        long currentEvent = -1;
        AllocationRow allocation = null!;
        string?[] attributes = noAttributes;
        var count = 0;
        foreach (var segment in segments)
        {
            if ((++count & 4095) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (segment.EventId != currentEvent)
            {
                currentEvent = segment.EventId;
                allocation = allocations[segment.AllocationId];
                attributes = AttributeValues(segment.Attributes);
                if (segment.Usd is { } usd)
                {
                    Spread(allocation, segment, attributes, usd, segment.EventStartNs, segment.EventEndNs, usdAmount: true);
                }
            }
            Spread(allocation, segment, attributes, segment.Amount, segment.StartNs, segment.EndNs, usdAmount: false);
        }
    }

    private void Spread(AllocationRow allocation, ReportSegmentRow segment, string?[] attributes, long amount, long startNs, long endNs, bool usdAmount)
    {
        if (startNs == endNs)
        {
            if (startNs >= fromNs && startNs < toNs)
            {
                var (date, bucketStart, bucketEnd) = calendar.BucketOf(startNs);
                AddPiece(allocation, segment, attributes, date, bucketStart, bucketEnd, amount, usdAmount);
            }
            return;
        }
        var lo = Math.Max(startNs, fromNs);
        var hi = Math.Min(endNs, toNs);
        var t = lo;
        while (t < hi)
        {
            var (date, bucketStart, bucketEnd) = calendar.BucketOf(t);
            var pieceEnd = Math.Min(bucketEnd, hi);
            var piece = ProportionalSplit.Piece(amount, startNs, endNs, t, pieceEnd);
            AddPiece(allocation, segment, attributes, date, bucketStart, bucketEnd, piece, usdAmount);
            t = pieceEnd;
        }
    }

    private void AddPiece(AllocationRow allocation, ReportSegmentRow segment, string?[] attributes, LocalDate date, long bucketStart, long bucketEnd, long amount, bool usdAmount)
    {
        var groups = request.GroupBy;
        var key = new LineKey(
            allocation.UnitId,
            (groups & ReportGroups.Allocation) != 0 ? allocation.Id : 0,
            (groups & ReportGroups.Sku) != 0 ? segment.SkuId : 0,
            (groups & ReportGroups.Status) != 0 ? segment.Status : 0,
            attributes,
            byBucket ? bucketStart : 0);
        if (!lines.TryGetValue(key, out var line))
        {
            line = new Line(allocation, segment, attributes, date, bucketStart, bucketEnd);
            lines[key] = line;
        }
        if (usdAmount)
        {
            line.Usd = checked(line.Usd.GetValueOrDefault() + amount);
            return;
        }
        line.Amount = checked(line.Amount + amount);
        if (line.LastEvent != segment.EventId)
        {
            line.LastEvent = segment.EventId;
            line.Events++;
        }
    }

    private string?[] AttributeValues(string? json)
    {
        if (noAttributes.Length == 0 || json is null)
        {
            return noAttributes;
        }
        if (attributeCache.TryGetValue(json, out var cached))
        {
            return cached;
        }
        var values = new string?[noAttributes.Length];
        var map = JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? [];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = map.GetValueOrDefault(request.AttributeKeys[i]);
        }
        if (attributeCache.Count < 100_000)
        {
            attributeCache[json] = values;
        }
        return values;
    }

    internal UsageReport Build()
    {
        var groups = request.GroupBy;
        var byAllocation = (groups & ReportGroups.Allocation) != 0;
        var bySku = (groups & ReportGroups.Sku) != 0;
        var byStatus = (groups & ReportGroups.Status) != 0;
        var sorted = new List<Line>(lines.Values);
        // The order of the lines: unit, allocation name and id, SKU (names ignoring case), status, attribute values,
        // bucket; a dimension the report does not group by compares equal. The lines are sorted before they become
        // rows, each comparison on the line's own fields.
        sorted.Sort((x, y) =>
        {
            var c = StringComparer.OrdinalIgnoreCase.Compare(x.UnitCode, y.UnitCode);
            if (c != 0)
            {
                return c;
            }
            if (byAllocation)
            {
                c = StringComparer.OrdinalIgnoreCase.Compare(x.AllocationName, y.AllocationName);
                if (c == 0)
                {
                    c = x.AllocationId.CompareTo(y.AllocationId);
                }
                if (c != 0)
                {
                    return c;
                }
            }
            if (bySku && (c = StringComparer.OrdinalIgnoreCase.Compare(x.SkuCode, y.SkuCode)) != 0)
            {
                return c;
            }
            if (byStatus && (c = x.Status.CompareTo(y.Status)) != 0)
            {
                return c;
            }
            c = AttributeComparer.Instance.Compare(x.Attributes, y.Attributes);
            return c != 0 || !byBucket ? c : x.BucketStart.CompareTo(y.BucketStart);
        });
        var rows = new List<UsageReportRow>(sorted.Count);
        foreach (var l in sorted)
        {
            rows.Add(new UsageReportRow(
                new UnitCode(l.UnitCode),
                byAllocation ? new AllocationId(l.AllocationId) : null,
                byAllocation ? l.AllocationName : null,
                bySku ? new SkuCode(l.SkuCode) : null,
                byStatus ? (UsageStatus)l.Status : null,
                l.Attributes,
                byBucket ? new ReportPeriod(l.Date, new Interval(InstantCodec.FromNs(l.BucketStart), InstantCodec.FromNs(l.BucketEnd))) : null,
                Amount.FromMicros(l.Amount),
                l.Usd is { } usd ? Amount.FromMicros(usd) : null,
                l.Events));
        }
        var totals = rows
            .GroupBy(r => r.Unit)
            .Select(g => new ReportTotal(
                g.Key,
                Amount.FromMicros(g.Aggregate(0L, (sum, r) => checked(sum + r.Amount.Micros))),
                g.Any(r => r.Usd is not null) ? Amount.FromMicros(g.Aggregate(0L, (sum, r) => checked(sum + (r.Usd?.Micros ?? 0)))) : null))
            .ToList();
        return new UsageReport(InstantCodec.FromNs(fromNs), InstantCodec.FromNs(toNs), request, rows, totals);
    }

    private readonly record struct LineKey(long UnitId, long AllocationId, long SkuId, int Status, string?[] Attributes, long BucketStart)
    {
        public bool Equals(LineKey other) =>
            UnitId == other.UnitId && AllocationId == other.AllocationId && SkuId == other.SkuId && Status == other.Status &&
            BucketStart == other.BucketStart && Attributes.AsSpan().SequenceEqual(other.Attributes);

        public override int GetHashCode()
        {
            var hash = new HashCode();
            hash.Add(UnitId);
            hash.Add(AllocationId);
            hash.Add(SkuId);
            hash.Add(Status);
            hash.Add(BucketStart);
            foreach (var value in Attributes)
            {
                hash.Add(value, StringComparer.Ordinal);
            }
            return hash.ToHashCode();
        }
    }

    private sealed class Line(AllocationRow allocation, ReportSegmentRow segment, string?[] attributes, LocalDate date, long bucketStart, long bucketEnd)
    {
        public string UnitCode { get; } = allocation.UnitCode;

        public long AllocationId { get; } = allocation.Id;

        public string AllocationName { get; } = allocation.Name;

        public string SkuCode { get; } = segment.SkuCode;

        public int Status { get; } = segment.Status;

        public string?[] Attributes { get; } = attributes;

        public LocalDate Date { get; } = date;

        public long BucketStart { get; } = bucketStart;

        public long BucketEnd { get; } = bucketEnd;

        public long Amount { get; set; }

        public long? Usd { get; set; }

        public int Events { get; set; }

        public long LastEvent { get; set; } = -1;
    }

    private sealed class AttributeComparer : IComparer<IReadOnlyList<string?>>
    {
        internal static readonly AttributeComparer Instance = new();

        public int Compare(IReadOnlyList<string?>? x, IReadOnlyList<string?>? y)
        {
            if (x is null || y is null)
            {
                return (x is null).CompareTo(y is null);
            }
            for (var i = 0; i < Math.Min(x.Count, y.Count); i++)
            {
                var c = string.CompareOrdinal(x[i], y[i]);
                if (c != 0)
                {
                    return c;
                }
            }
            return x.Count.CompareTo(y.Count);
        }
    }
}
