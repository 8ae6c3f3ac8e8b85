using System.Buffers;
using System.Text.Json;
using Allocations.Storage;

namespace Allocations.Journal;

/// <summary>What one allocation's journal shows of a <c>usage.batch</c> entry that spans several allocations: only
/// that allocation's part (its count, id range, sums and digest), never the other allocations'.</summary>
internal static class BatchView
{
    /// <summary>The entry as <paramref name="allocationId"/>'s journal shows it: a batch entry spanning several
    /// allocations is narrowed to that allocation's part; any other entry is returned as it is. The hashes stay the
    /// whole entry's (they are what verification and a copy kept outside compare).</summary>
    internal static JournalRow ForAllocation(JournalRow row, long allocationId)
    {
        if (row.Action != "usage.batch" || row.AllocationId is not null || row.After is null)
        {
            return row;
        }
        using var json = JsonDocument.Parse(row.After);
        var root = json.RootElement;
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var part in root.GetProperty("parts").EnumerateArray())
            {
                if (part.GetProperty("allocation").GetInt64() != allocationId)
                {
                    continue;
                }
                w.WriteNumber("events", part.GetProperty("events").GetInt64());
                w.WriteNumber("first", part.GetProperty("first").GetInt64());
                w.WriteNumber("last", part.GetProperty("last").GetInt64());
                w.WriteNumber("encoding", root.GetProperty("encoding").GetInt32());
                w.WriteStartArray("parts");
                part.WriteTo(w);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        return new JournalRow
        {
            Id = row.Id,
            OrgId = row.OrgId,
            AllocationId = allocationId,
            AtNs = row.AtNs,
            Actor = row.Actor,
            Action = row.Action,
            Target = row.Target,
            Before = row.Before,
            After = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan),
            PrevHash = row.PrevHash,
            Hash = row.Hash,
        };
    }
}
