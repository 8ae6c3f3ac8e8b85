using System.Text.Json;
using Allocations.Domain;
using Allocations.Storage;

namespace Allocations.Journal;

/// <summary>Checks <c>usage.batch</c> entries against the stored events: each allocation's part of a batch must still
/// hash to its digest. An event a later entry changed or removed is taken as that entry's before-state recorded it
/// (its <c>rowDigest</c>), so legitimate changes keep verifying; the part of an allocation deleted later is not
/// checked (its events went with it, and the deletion's entry counts them).</summary>
internal sealed class BatchVerification
{
    private static readonly HashSet<string> ChangingActions = new(StringComparer.Ordinal)
    {
        "usage.replace", "usage.confirm", "usage.extend", "usage.release", "usage.expire", "usage.delete", "usage.move-out", "usage.rerate",
    };

    private readonly List<(long Id, long? AllocationId, string After)> batches = [];
    private readonly Dictionary<long, (long EntryId, long AllocationId, byte[] Digest)> changed = [];
    private readonly Dictionary<long, long> deleted = [];

    /// <summary>Notes what an entry (already checked against its hash) tells about batches.</summary>
    internal void Observe(JournalRow row)
    {
        if (row.Action == "usage.batch" && row.After is { } after)
        {
            batches.Add((row.Id, row.AllocationId, after));
        }
        else if (ChangingActions.Contains(row.Action) && row.Before is { } before && before.Contains("\"rowDigest\"", StringComparison.Ordinal))
        {
            try
            {
                using var json = JsonDocument.Parse(before);
                var root = json.RootElement;
                var id = root.GetProperty("id").GetInt64();
                changed.TryAdd(id, (row.Id, root.GetProperty("allocation").GetInt64(), Convert.FromHexString(root.GetProperty("rowDigest").GetString()!)));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                // Not written by the library (its hash matched, so it was written so): nothing to learn from it.
            }
        }
        else if (row.Action == "allocation.delete" && row.AllocationId is { } allocation)
        {
            deleted.TryAdd(allocation, row.Id);
        }
    }

    /// <summary>The first batch entry (before <paramref name="beforeId"/>) whose events or allocation index no longer
    /// match it, with the problem; null when all hold.</summary>
    internal (long Id, string Problem)? FirstProblem(IStorageSession session, long orgId, long? beforeId)
    {
        var index = session.ListJournalParts(orgId).ToLookup(p => p.JournalId, p => p.AllocationId);
        var batchIds = new HashSet<long>();
        (long Id, string Problem)? first = null;
        foreach (var (id, allocationId, after) in batches)
        {
            if (beforeId is { } limit && id >= limit)
            {
                break;
            }
            batchIds.Add(id);
            var problem = Check(session, orgId, id, allocationId, after, index[id].ToHashSet());
            if (problem is not null)
            {
                first = (id, problem);
                break;
            }
        }
        // An index row for an entry that is not a batch spanning several allocations would show it to another
        // allocation's readers.
        foreach (var group in index)
        {
            if (group.Key < (first?.Id ?? beforeId ?? long.MaxValue) && !batchIds.Contains(group.Key))
            {
                first = (group.Key, $"the allocation index (journal_parts) lists {new AllocationId(group.First())} for it, but it is no batch entry with parts (the index was edited after it was written)");
                break;
            }
        }
        return first;
    }

    private string? Check(IStorageSession session, long orgId, long entryId, long? entryAllocation, string after, HashSet<long> indexed)
    {
        List<(long Allocation, long Events, long First, long Last, byte[] Digest)> parts = [];
        long first, last;
        try
        {
            using var json = JsonDocument.Parse(after);
            var root = json.RootElement;
            if (root.GetProperty("encoding").GetInt32() != EventDigest.Encoding1)
            {
                return "it uses a digest encoding this library does not know";
            }
            first = root.GetProperty("first").GetInt64();
            last = root.GetProperty("last").GetInt64();
            foreach (var part in root.GetProperty("parts").EnumerateArray())
            {
                parts.Add((
                    part.GetProperty("allocation").GetInt64(),
                    part.GetProperty("events").GetInt64(),
                    part.GetProperty("first").GetInt64(),
                    part.GetProperty("last").GetInt64(),
                    Convert.FromHexString(part.GetProperty("digest").GetString()!)));
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return "its content is not a batch entry this library wrote";
        }

        var expectedIndex = parts.Count == 1 && entryAllocation == parts[0].Allocation ? [] : parts.Select(p => p.Allocation).ToHashSet();
        if (!indexed.SetEquals(expectedIndex))
        {
            return "the allocation index (journal_parts) does not list exactly the allocations it has parts for (the index was edited after it was written)";
        }

        // Each event of the range as the batch left it: from the first later entry that changed or removed it, else
        // from its stored row.
        var events = new SortedDictionary<long, (long Allocation, byte[] Digest)>();
        foreach (var (row, segments) in session.ReadEventsForDigest(orgId, first, last))
        {
            events[row.Id] = changed.TryGetValue(row.Id, out var later) && later.EntryId > entryId
                ? (later.AllocationId, later.Digest)
                : (row.AllocationId, EventDigest.Compute(row, segments));
        }
        foreach (var (eventId, later) in changed)
        {
            if (eventId >= first && eventId <= last && later.EntryId > entryId)
            {
                events.TryAdd(eventId, (later.AllocationId, later.Digest));
            }
        }
        var byAllocation = events.GroupBy(e => e.Value.Allocation).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var part in parts)
        {
            if (deleted.TryGetValue(part.Allocation, out var deletedAt) && deletedAt > entryId)
            {
                byAllocation.Remove(part.Allocation);
                continue;
            }
            var range = $"{new UsageEventId(part.First)}..{new UsageEventId(part.Last)}";
            if (!byAllocation.Remove(part.Allocation, out var stored) || stored.Count != part.Events
                || stored[0].Key != part.First || stored[^1].Key != part.Last)
            {
                return $"the events it records for {new AllocationId(part.Allocation)} ({part.Events} in {range}) are not all stored as recorded: an event was added, removed or moved after it was written";
            }
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            foreach (var (_, value) in stored)
            {
                hash.AppendData(value.Digest);
            }
            if (!hash.GetHashAndReset().AsSpan().SequenceEqual(part.Digest))
            {
                return $"the events it records for {new AllocationId(part.Allocation)} ({range}) do not match its digest: a field of an event or of its segments was edited after it was written";
            }
        }
        foreach (var (allocation, stored) in byAllocation)
        {
            if (!(deleted.TryGetValue(allocation, out var deletedAt) && deletedAt > entryId))
            {
                return $"{new UsageEventId(stored[0].Key)} of {new AllocationId(allocation)} lies in its range but is not among the events it records (it was added after it was written)";
            }
        }
        return null;
    }
}
