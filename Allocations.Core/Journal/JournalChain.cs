using System.Buffers;
using System.Security.Cryptography;
using Allocations.Storage;

namespace Allocations.Journal;

/// <summary>The journal's hash chain: every entry's hash is SHA-256 over the previous entry's hash (of the same
/// organization; 32 zero bytes before the first) followed by the entry's canonical content.</summary>
/// <remarks>The bytes hashed are, in order: the previous hash as a 4-byte big-endian length (32) and its bytes; the
/// id and the organization id (each integer 8 bytes big-endian); the allocation id as a presence byte (0 or 1)
/// followed, when present, by its 8 bytes; the instant in nanoseconds (8 bytes); then actor, action, target, before
/// and after, each as a 4-byte big-endian length of its UTF-8 bytes (−1 for null) followed by those bytes. Every
/// stored column but the hash itself goes in, so any edit of a stored column changes the hash. Files written earlier
/// are verified with this encoding: never change it.</remarks>
internal static class JournalChain
{
    internal const int HashLength = 32;

    internal static readonly byte[] Genesis = new byte[HashLength];

    /// <summary>Computes the hash of <paramref name="row"/> chained to <see cref="JournalRow.PrevHash"/>.</summary>
    /// <param name="row">The entry.</param>
    /// <param name="buffer">A reusable buffer; cleared first.</param>
    internal static byte[] Compute(JournalRow row, ArrayBufferWriter<byte> buffer)
    {
        buffer.ResetWrittenCount();
        CanonicalEncoding.Bytes(buffer, row.PrevHash);
        CanonicalEncoding.Int64(buffer, row.Id);
        CanonicalEncoding.Int64(buffer, row.OrgId);
        if (row.AllocationId is { } allocationId)
        {
            CanonicalEncoding.Byte(buffer, 1);
            CanonicalEncoding.Int64(buffer, allocationId);
        }
        else
        {
            CanonicalEncoding.Byte(buffer, 0);
        }
        CanonicalEncoding.Int64(buffer, row.AtNs);
        CanonicalEncoding.String(buffer, row.Actor);
        CanonicalEncoding.String(buffer, row.Action);
        CanonicalEncoding.String(buffer, row.Target);
        CanonicalEncoding.String(buffer, row.Before);
        CanonicalEncoding.String(buffer, row.After);
        return SHA256.HashData(buffer.WrittenSpan);
    }

    /// <summary>Walks an organization's entries in order and returns the first that does not hold: its stored hash
    /// differs from the recomputed one, it does not link to the entry before it, a column holds a value of another
    /// type than the schema declares (text in the hash, say: a row edited outside the library), or it is a
    /// <c>usage.batch</c> entry whose events no longer match its digests (see <see cref="BatchVerification"/>).</summary>
    internal static (long Checked, long? BrokenId, string? Problem, byte[]? Head) Verify(IStorageSession session, long orgId)
    {
        var damaged = session.FindStoredRowDamage(orgId, "journal").Where(d => d.RowId is not null).MinBy(d => d.RowId);
        var batches = new BatchVerification();
        var result = VerifyChain(session, orgId, damaged?.RowId, batches);
        if (result.BrokenId is null && damaged is not null)
        {
            result = (result.Checked + 1, damaged.RowId, $"its column {damaged.Column} {damaged.Problem} (the row was edited after it was written)", null);
        }
        if (batches.FirstProblem(session, orgId, result.BrokenId) is { } batch)
        {
            return (result.Checked, batch.Id, batch.Problem, null);
        }
        return result;
    }

    private static (long Checked, long? BrokenId, string? Problem, byte[]? Head) VerifyChain(IStorageSession session, long orgId, long? beforeId, BatchVerification batches)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        byte[] previous = Genesis;
        long previousId = 0;
        long count = 0;
        long? brokenId = null;
        string? problem = null;
        session.ScanJournal(orgId, row =>
        {
            count++;
            if (!row.PrevHash.AsSpan().SequenceEqual(previous))
            {
                brokenId = row.Id;
                problem = previousId == 0
                    ? "it should be the first entry of the organization but links to another (an earlier entry was removed or the link edited)"
                    : $"it does not link to entry {previousId} before it (an entry between them was removed, or the link edited)";
                return false;
            }
            var recomputed = Compute(row, buffer);
            if (!recomputed.AsSpan().SequenceEqual(row.Hash))
            {
                brokenId = row.Id;
                problem = "its content does not match its hash (the row was edited after it was written)";
                return false;
            }
            batches.Observe(row);
            previous = row.Hash;
            previousId = row.Id;
            return true;
        }, beforeId);
        return (count, brokenId, problem, previousId == 0 ? null : previous);
    }
}
