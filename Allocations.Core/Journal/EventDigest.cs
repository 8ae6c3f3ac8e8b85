using System.Buffers;
using System.Security.Cryptography;
using Allocations.Storage;

namespace Allocations.Journal;

/// <summary>The digest a <c>usage.batch</c> journal entry keeps of the events it records, so that editing any stored
/// field of any of them (or of their segments) behind the library's back breaks verification.</summary>
/// <remarks>
/// <para>Canonical encoding 1 of one event, in order: id, organization id, allocation id, SKU id, quantity (millionths),
/// start and end (nanoseconds since the Unix epoch) and status (1 Estimated, 2 Confirmed), each an 8-byte big-endian
/// integer; the external key as a string; the amount (8 bytes); the USD amount as a presence byte (0 or 1) followed,
/// when present, by its 8 bytes; the attributes' stored JSON as a string; the recorded instant (8 bytes); the recorder
/// and the source as strings; then the number of segments (4 bytes big-endian) and, for each in order, its sequence
/// number (4 bytes) and its start, end, rule id, rate (billionths) and amount (8 bytes each). A string is a 4-byte
/// big-endian length of its UTF-8 bytes (−1 for null) followed by those bytes.</para>
/// <para>An event's digest is SHA-256 of its encoding. The digest of an allocation's part of a batch is SHA-256 of
/// the concatenated digests of its events in ascending id order. Entries written with this encoding are verified
/// with it: never change it (a new encoding gets a new number).</para>
/// </remarks>
internal static class EventDigest
{
    /// <summary>The canonical encoding this library writes.</summary>
    internal const int Encoding1 = 1;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? threadBuffer;

    /// <summary>The SHA-256 digest of one event's canonical encoding, written to <paramref name="destination"/> (32 bytes).</summary>
    internal static void Compute(EventRow row, IReadOnlyList<SegmentRow> segments, Span<byte> destination)
    {
        var buffer = threadBuffer ??= new ArrayBufferWriter<byte>(512);
        buffer.ResetWrittenCount();
        CanonicalEncoding.Int64(buffer, row.Id);
        CanonicalEncoding.Int64(buffer, row.OrgId);
        CanonicalEncoding.Int64(buffer, row.AllocationId);
        CanonicalEncoding.Int64(buffer, row.SkuId);
        CanonicalEncoding.Int64(buffer, row.Quantity);
        CanonicalEncoding.Int64(buffer, row.StartNs);
        CanonicalEncoding.Int64(buffer, row.EndNs);
        CanonicalEncoding.Int64(buffer, row.Status);
        CanonicalEncoding.String(buffer, row.ExternalKey);
        CanonicalEncoding.Int64(buffer, row.Amount);
        if (row.Usd is { } usd)
        {
            CanonicalEncoding.Byte(buffer, 1);
            CanonicalEncoding.Int64(buffer, usd);
        }
        else
        {
            CanonicalEncoding.Byte(buffer, 0);
        }
        CanonicalEncoding.String(buffer, row.Attributes);
        CanonicalEncoding.Int64(buffer, row.RecordedNs);
        CanonicalEncoding.String(buffer, row.RecordedBy);
        CanonicalEncoding.String(buffer, row.Source);
        CanonicalEncoding.Int32(buffer, segments.Count);
        for (var i = 0; i < segments.Count; i++)
        {
            var s = segments[i];
            CanonicalEncoding.Int32(buffer, s.Seq);
            CanonicalEncoding.Int64(buffer, s.StartNs);
            CanonicalEncoding.Int64(buffer, s.EndNs);
            CanonicalEncoding.Int64(buffer, s.RuleId);
            CanonicalEncoding.Int64(buffer, s.Rate);
            CanonicalEncoding.Int64(buffer, s.Amount);
        }
        SHA256.HashData(buffer.WrittenSpan, destination);
    }

    /// <summary>One event's digest as a new array.</summary>
    internal static byte[] Compute(EventRow row, IReadOnlyList<SegmentRow> segments)
    {
        var digest = new byte[JournalChain.HashLength];
        Compute(row, segments, digest);
        return digest;
    }
}

/// <summary>Accumulates one allocation's part of a <c>usage.batch</c> entry: its events' count, id range, sums and
/// digest (events must be added in ascending id order).</summary>
internal sealed class BatchPart
{
    private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    internal BatchPart(long allocationId) => AllocationId = allocationId;

    internal long AllocationId { get; }

    internal long Count { get; private set; }

    internal long FirstId { get; private set; }

    internal long LastId { get; private set; }

    internal Int128 Amount { get; private set; }

    internal Int128 Usd { get; private set; }

    /// <summary>Gets the sum of the Confirmed events' amounts: what the batch added to the allocation's own Used.</summary>
    internal Int128 Used { get; private set; }

    /// <summary>Gets the sum of the Estimated events' amounts: what the batch added to the allocation's own Estimated.</summary>
    internal Int128 Estimated { get; private set; }

    internal void Add(long id, long amount, long? usd, int status, ReadOnlySpan<byte> eventDigest)
    {
        if (Count == 0)
        {
            FirstId = id;
        }
        LastId = id;
        Count++;
        Amount += amount;
        Usd += usd ?? 0;
        if (status == 2)
        {
            Used += amount;
        }
        else
        {
            Estimated += amount;
        }
        hash.AppendData(eventDigest);
    }

    /// <summary>Finishes the part's digest (once).</summary>
    internal byte[] Digest() => hash.GetHashAndReset();
}
