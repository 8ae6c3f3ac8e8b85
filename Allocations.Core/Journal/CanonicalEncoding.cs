using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Allocations.Journal;

/// <summary>The byte encoding the journal hashes: integers big-endian, a byte as itself, strings and byte strings as a
/// 4-byte big-endian length (−1 for a null string) followed by their bytes (UTF-8 for strings). Both the chain
/// (<see cref="JournalChain"/>) and the event digests (<see cref="EventDigest"/>) write through it; files written
/// earlier are verified with it, so it never changes.</summary>
internal static class CanonicalEncoding
{
    internal static void Byte(ArrayBufferWriter<byte> buffer, byte value)
    {
        buffer.GetSpan(1)[0] = value;
        buffer.Advance(1);
    }

    internal static void Int32(ArrayBufferWriter<byte> buffer, int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(buffer.GetSpan(4), value);
        buffer.Advance(4);
    }

    internal static void Int64(ArrayBufferWriter<byte> buffer, long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(buffer.GetSpan(8), value);
        buffer.Advance(8);
    }

    internal static void Bytes(ArrayBufferWriter<byte> buffer, ReadOnlySpan<byte> bytes)
    {
        var span = buffer.GetSpan(bytes.Length + 4);
        BinaryPrimitives.WriteInt32BigEndian(span, bytes.Length);
        bytes.CopyTo(span[4..]);
        buffer.Advance(bytes.Length + 4);
    }

    internal static void String(ArrayBufferWriter<byte> buffer, string? value)
    {
        if (value is null)
        {
            Int32(buffer, -1);
            return;
        }
        var span = buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(value.Length) + 4);
        var written = Encoding.UTF8.GetBytes(value, span[4..]);
        BinaryPrimitives.WriteInt32BigEndian(span, written);
        buffer.Advance(written + 4);
    }
}
