using System.Globalization;
using System.Text.Json;
using Allocations.Domain;
using Allocations.Storage;

namespace Allocations.Journal;

/// <summary>Replays an organization's journal, oldest entry first, into the state it describes: each allocation's
/// name, parent, total and own figures; each event's last recorded state; the grants, groups, members and
/// organization admins; and each allocation's figure history. <see cref="Compare"/> then checks today's stored rows
/// against that state, naming every row that differs.</summary>
/// <remarks>Each journal action maps to its effect in one place, <see cref="Effects"/>: a new action of the library
/// adds one line there. An action missing from it is reported (its effect cannot be checked), never skipped silently.
/// Events recorded by a <c>usage.batch</c> entry are known by their entry's per-allocation sums and digest, which
/// <see cref="BatchVerification"/> checks against the stored events; every other event by its full recorded state.</remarks>
internal sealed class JournalReplay
{
    private static readonly Action<JournalReplay, Entry> Nothing = static (_, _) => { };

    /// <summary>What each action does to the replayed state.</summary>
    private static readonly Dictionary<string, Action<JournalReplay, Entry>> Effects = new(StringComparer.Ordinal)
    {
        ["organization.create"] = static (r, e) => r.AddAdmin(e.After.Text("firstAdmin")),
        ["organization.admin.add"] = static (r, e) => r.AddAdmin(User(e.Row.Target)),
        ["organization.admin.remove"] = static (r, e) => r.admins.Remove(User(e.Row.Target)),
        ["unit.create"] = Nothing,
        ["sku.create"] = Nothing,
        ["rate.add"] = Nothing,
        ["rate.change"] = Nothing,
        ["price.add"] = Nothing,
        ["price.change"] = Nothing,
        ["group.create"] = static (r, e) => r.groups[e.After.Text("name")] = new(StringComparer.Ordinal),
        ["group.delete"] = static (r, e) => r.groups.Remove(e.Before.Text("name")),
        ["group.member.add"] = static (r, e) => r.Group(e.After.Text("group")).Add(e.After.Text("user")),
        ["group.member.remove"] = static (r, e) => r.Group(e.Before.Text("group")).Remove(e.Before.Text("user")),
        ["grant.set"] = static (r, e) => r.grants[(e.Allocation, e.After.Text("grantee"))] = e.After.Text("level"),
        ["grant.revoke"] = static (r, e) => r.grants.Remove((e.Allocation, e.Before.Text("grantee"))),
        ["allocation.create"] = static (r, e) => r.Create(e),
        ["allocation.total"] = static (r, e) => r.SetTotal(e),
        ["allocation.transfer-out"] = static (r, e) => r.SetTotal(e),
        ["allocation.transfer-in"] = static (r, e) => r.SetTotal(e),
        ["allocation.child-deleted"] = Nothing, // a parent's Used and Estimated are replayed from its children's
        ["allocation.delete"] = static (r, e) => r.Delete(e),
        ["usage.record"] = static (r, e) => r.AddEvent(e, e.After),
        ["usage.move-in"] = static (r, e) => r.AddEvent(e, e.After),
        ["usage.replace"] = static (r, e) => r.ReplaceEvent(e),
        ["usage.confirm"] = static (r, e) => r.ReplaceEvent(e),
        ["usage.move-out"] = static (r, e) => r.RemoveEvent(e, e.Before),
        ["usage.release"] = static (r, e) => r.RemoveEvent(e, e.Before),
        ["usage.delete"] = static (r, e) => r.RemoveEvent(e, e.Before),
        ["usage.batch"] = static (r, e) => r.Batch(e),
        ["usage.extend"] = static (r, e) => r.ReplaceEvent(e),
        ["usage.rerate"] = static (r, e) => r.ReplaceEvent(e),
        ["usage.expire"] = static (r, e) => r.RemoveEvent(e, e.Before),
        // Periods, thresholds and rate corrections change no total, figure, event, grant or membership.
        ["allocation.period"] = Nothing,
        ["allocation.period-alert"] = Nothing,
        ["allocation.alert-thresholds"] = Nothing,
        ["rate.correct"] = Nothing,
    };

    private readonly Dictionary<long, ReplayedAllocation> allocations = [];
    private readonly Dictionary<long, KnownEvent> events = [];
    private readonly List<(long First, long Last, HashSet<long> Allocations)> batches = [];
    private readonly Dictionary<(long Allocation, string Grantee), string> grants = [];
    private readonly Dictionary<string, HashSet<string>> groups = new(StringComparer.Ordinal);
    private readonly HashSet<string> admins = new(StringComparer.Ordinal);
    private readonly SortedDictionary<(long Allocation, long AtNs), FigureHistoryRow> history = [];
    private readonly List<ReplayFinding> findings = [];

    /// <summary>Gets how many entries were replayed.</summary>
    internal long Entries { get; private set; }

    /// <summary>Gets what the replay itself could not follow (entries of unknown actions or unreadable content).</summary>
    internal IReadOnlyList<ReplayFinding> Problems => findings;

    /// <summary>Replays the organization's journal (its entries already checked by the chain).</summary>
    internal static JournalReplay Run(IStorageSession session, long orgId)
    {
        var replay = new JournalReplay();
        session.ScanJournal(orgId, row =>
        {
            session.CancellationToken.ThrowIfCancellationRequested();
            replay.Apply(row);
            return true;
        });
        return replay;
    }

    /// <summary>The figure history the journal describes: each allocation's total and figures after the entries of each
    /// instant at which they changed, in allocation then instant order (allocations deleted since left out).</summary>
    internal IReadOnlyList<FigureHistoryRow> History() =>
        history.Values.Where(h => allocations.ContainsKey(h.AllocationId)).ToList();

    /// <summary>Applies one entry.</summary>
    internal void Apply(JournalRow row)
    {
        Entries++;
        if (!Effects.TryGetValue(row.Action, out var effect))
        {
            findings.Add(new ReplayFinding("journal", "#" + row.Id, $"its action '{row.Action}' is not one this library replays; what it changed is not checked"));
            return;
        }
        try
        {
            using var before = row.Before is null ? null : JsonDocument.Parse(row.Before);
            using var after = row.After is null ? null : JsonDocument.Parse(row.After);
            effect(this, new Entry(row, before?.RootElement, after?.RootElement));
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            findings.Add(new ReplayFinding("journal", "#" + row.Id, $"its content ({row.Action}) could not be replayed: {ex.Message}"));
        }
    }

    /// <summary>Checks today's stored rows of the organization against the replayed state; every row that differs is
    /// a finding naming its table and row.</summary>
    internal List<ReplayFinding> Compare(IStorageSession session, long orgId)
    {
        var found = new List<ReplayFinding>(findings);
        void Add(string table, string row, string problem) => found.Add(new ReplayFinding(table, row, problem));

        // Allocations: existence, fixed fields, total and figures.
        var stored = session.ListAllocations(orgId);
        var storedIds = new HashSet<long>();
        foreach (var row in stored)
        {
            storedIds.Add(row.Id);
            var name = new AllocationId(row.Id).ToString();
            if (!allocations.TryGetValue(row.Id, out var a))
            {
                Add("allocations", name, "it is stored, but no journal entry created it (or its deletion is journalled)");
                continue;
            }
            if (!string.Equals(a.Name, row.Name, StringComparison.Ordinal) || a.Parent != row.ParentId)
            {
                Add("allocations", name, $"its name or parent ('{row.Name}', {Show(row.ParentId)}) differ from what the journal created ('{a.Name}', {Show(a.Parent)})");
            }
            var (used, estimated) = Consumed(row.Id);
            Figure("total", row.Total, a.Total);
            Figure("own_used", row.OwnUsed, a.OwnUsed);
            Figure("own_estimated", row.OwnEstimated, a.OwnEstimated);
            Figure("used", row.Used, used);
            Figure("estimated", row.Estimated, estimated);

            void Figure(string column, long value, long replayed)
            {
                if (value != replayed)
                {
                    Add("allocations", name, $"its {column} is {JournalWriter.Amount(value)}, the journal says {JournalWriter.Amount(replayed)}");
                }
            }
        }
        foreach (var id in allocations.Keys.Where(id => !storedIds.Contains(id)).Order())
        {
            Add("allocations", new AllocationId(id).ToString(), "the journal created it and never deleted it, but it is not stored");
        }

        // Events: each stored event is one the journal recorded as it is now, or one of a batch (checked by its digest).
        var writer = new JournalWriter(session, Principal.System, 0);
        var seen = new HashSet<long>();
        long afterId = 0;
        while (true)
        {
            var page = session.ListEventsForReplay(orgId, afterId, 2000);
            foreach (var row in page)
            {
                session.CancellationToken.ThrowIfCancellationRequested();
                seen.Add(row.Id);
                var name = new UsageEventId(row.Id).ToString();
                if (events.TryGetValue(row.Id, out var known))
                {
                    if (known.Json is null)
                    {
                        Add("usage_events", name, $"it is stored, but entry #{known.EntryId} ({known.Action}) removed it");
                    }
                    else if (!string.Equals(writer.Event(row), known.Json, StringComparison.Ordinal))
                    {
                        Add("usage_events", name, $"its {Differences(writer.Event(row), known.Json)} differ from what entry #{known.EntryId} ({known.Action}) recorded");
                    }
                }
                else if (!batches.Any(b => row.Id >= b.First && row.Id <= b.Last && b.Allocations.Contains(row.AllocationId)))
                {
                    Add("usage_events", name, "it is stored, but no journal entry records it");
                }
            }
            if (page.Count < 2000)
            {
                break;
            }
            afterId = page[^1].Id;
        }
        foreach (var (id, known) in events.Where(e => e.Value.Json is not null && !seen.Contains(e.Key)).OrderBy(e => e.Key))
        {
            Add("usage_events", new UsageEventId(id).ToString(), $"entry #{known.EntryId} ({known.Action}) recorded it and nothing removed it since, but it is not stored");
        }

        // Grants, groups, members, admins.
        var storedGrants = new Dictionary<(long, string), string>();
        foreach (var row in stored)
        {
            foreach (var g in session.ListGrants(row.Id))
            {
                storedGrants[(row.Id, g.GroupName is { } group ? "group:" + group : "organization")] = ((Access.AccessLevel)g.Level).ToString();
            }
        }
        foreach (var ((allocation, grantee), level) in storedGrants)
        {
            if (!grants.TryGetValue((allocation, grantee), out var replayed))
            {
                Add("grants", $"{new AllocationId(allocation)} {grantee}", $"it grants {level}, but no journal entry granted it");
            }
            else if (!string.Equals(replayed, level, StringComparison.Ordinal))
            {
                Add("grants", $"{new AllocationId(allocation)} {grantee}", $"it grants {level}, the journal says {replayed}");
            }
        }
        foreach (var ((allocation, grantee), level) in grants)
        {
            if (storedIds.Contains(allocation) && !storedGrants.ContainsKey((allocation, grantee)))
            {
                Add("grants", $"{new AllocationId(allocation)} {grantee}", $"the journal granted {level} and never revoked it, but it is not stored");
            }
        }
        var storedGroups = session.ListGroups(orgId).ToDictionary(g => g.Id, g => g.Name);
        var members = session.ListGroupMembers(orgId).ToLookup(m => m.GroupId, m => m.UserId);
        foreach (var (id, groupName) in storedGroups)
        {
            if (!groups.TryGetValue(groupName, out var replayed))
            {
                Add("groups", "group:" + groupName, "it is stored, but no journal entry created it");
                continue;
            }
            foreach (var user in members[id].Where(u => !replayed.Contains(u)))
            {
                Add("group_members", $"group:{groupName} user:{user}", "it is stored, but no journal entry added the member");
            }
            foreach (var user in replayed.Where(u => !members[id].Contains(u, StringComparer.Ordinal)).Order(StringComparer.Ordinal))
            {
                Add("group_members", $"group:{groupName} user:{user}", "the journal added the member and never removed it, but it is not stored");
            }
        }
        foreach (var groupName in groups.Keys.Where(n => !storedGroups.ContainsValue(n)).Order(StringComparer.Ordinal))
        {
            Add("groups", "group:" + groupName, "the journal created it and never deleted it, but it is not stored");
        }
        var storedAdmins = session.ListOrgAdmins(orgId).ToHashSet(StringComparer.Ordinal);
        foreach (var user in storedAdmins.Where(u => !admins.Contains(u)).Order(StringComparer.Ordinal))
        {
            Add("org_admins", "user:" + user, "it is stored, but no journal entry made the user an organization admin");
        }
        foreach (var user in admins.Where(u => !storedAdmins.Contains(u)).Order(StringComparer.Ordinal))
        {
            Add("org_admins", "user:" + user, "the journal made the user an organization admin and never removed it, but it is not stored");
        }
        return found;
    }

    private static string Show(long? id) => id is { } value ? new AllocationId(value).ToString() : "no parent";

    private static string User(string target) => target.StartsWith("user:", StringComparison.Ordinal) ? target["user:".Length..] : target;

    /// <summary>The properties in which two event states differ, such as <c>amount, status</c>.</summary>
    private static string Differences(string stored, string recorded)
    {
        using var a = JsonDocument.Parse(stored);
        using var b = JsonDocument.Parse(recorded);
        var names = a.RootElement.EnumerateObject().Select(p => p.Name).Union(b.RootElement.EnumerateObject().Select(p => p.Name), StringComparer.Ordinal);
        var differing = names.Where(n =>
            !(a.RootElement.TryGetProperty(n, out var x) && b.RootElement.TryGetProperty(n, out var y) && string.Equals(x.GetRawText(), y.GetRawText(), StringComparison.Ordinal)));
        return "fields " + string.Join(", ", differing);
    }

    private static long Micros(string text) =>
        FixedPoint.ToScaled(decimal.Parse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture), 6, FixedPoint.MicroScale, "amount");

    private void AddAdmin(string user) => admins.Add(user);

    private HashSet<string> Group(string name)
    {
        if (!groups.TryGetValue(name, out var members))
        {
            groups[name] = members = new(StringComparer.Ordinal);
        }
        return members;
    }

    private void Create(Entry e)
    {
        var after = e.After!.Value;
        var id = after.GetProperty("id").GetInt64();
        allocations[id] = new ReplayedAllocation
        {
            Name = after.GetProperty("name").GetString()!,
            Parent = after.TryGetProperty("parent", out var parent) ? parent.GetInt64() : null,
            Total = Micros(after.GetProperty("total").GetString()!),
        };
        Changed(id, e.Row.AtNs, withParent: false);
    }

    private void SetTotal(Entry e)
    {
        Allocation(e.Allocation).Total = Micros(e.After.Text("total"));
        Changed(e.Allocation, e.Row.AtNs, withParent: false);
    }

    private void Delete(Entry e)
    {
        var id = e.Allocation;
        if (allocations.Remove(id, out var deleted) && deleted.Parent is { } parent)
        {
            Changed(parent, e.Row.AtNs);
        }
        foreach (var key in grants.Keys.Where(k => k.Allocation == id).ToList())
        {
            grants.Remove(key);
        }
        foreach (var (eventId, known) in events.Where(k => k.Value.Allocation == id && k.Value.Json is not null).ToList())
        {
            events[eventId] = known with { EntryId = e.Row.Id, Action = e.Row.Action, Json = null };
        }
    }

    private void AddEvent(Entry e, JsonElement? state)
    {
        var (id, allocation) = Move(state!.Value, +1, e.Row.AtNs);
        events[id] = new KnownEvent(e.Row.Id, e.Row.Action, allocation, state.Value.GetRawText());
    }

    private void ReplaceEvent(Entry e)
    {
        Move(e.Before!.Value, -1, e.Row.AtNs);
        AddEvent(e, e.After);
    }

    private void RemoveEvent(Entry e, JsonElement? state)
    {
        var (id, allocation) = Move(state!.Value, -1, e.Row.AtNs);
        events[id] = new KnownEvent(e.Row.Id, e.Row.Action, allocation, null);
    }

    /// <summary>Adds (<paramref name="sign"/> +1) or takes away (−1) an event's amount from its allocation's own figure
    /// of its status; returns the event's id and allocation.</summary>
    private (long Id, long Allocation) Move(JsonElement state, int sign, long atNs)
    {
        var id = state.GetProperty("id").GetInt64();
        var allocation = state.GetProperty("allocation").GetInt64();
        var amount = Micros(state.GetProperty("amount").GetString()!);
        var a = Allocation(allocation);
        var delta = checked(sign * amount);
        if (string.Equals(state.GetProperty("status").GetString(), nameof(UsageStatus.Confirmed), StringComparison.Ordinal))
        {
            a.OwnUsed = checked(a.OwnUsed + delta);
        }
        else
        {
            a.OwnEstimated = checked(a.OwnEstimated + delta);
        }
        Changed(allocation, atNs);
        return (id, allocation);
    }

    private void Batch(Entry e)
    {
        var after = e.After!.Value;
        var inBatch = new HashSet<long>();
        foreach (var part in after.GetProperty("parts").EnumerateArray())
        {
            var allocation = part.GetProperty("allocation").GetInt64();
            var a = Allocation(allocation);
            a.OwnUsed = checked(a.OwnUsed + Micros(part.GetProperty("used").GetString()!));
            a.OwnEstimated = checked(a.OwnEstimated + Micros(part.GetProperty("estimated").GetString()!));
            inBatch.Add(allocation);
            Changed(allocation, e.Row.AtNs);
        }
        batches.Add((after.GetProperty("first").GetInt64(), after.GetProperty("last").GetInt64(), inBatch));
    }

    private ReplayedAllocation Allocation(long id) =>
        allocations.TryGetValue(id, out var a) ? a : throw new InvalidOperationException($"it changes {new AllocationId(id)}, which no earlier entry created");

    /// <summary>Used and Estimated as the table shows them: own figures plus the children's.</summary>
    private (long Used, long Estimated) Consumed(long id)
    {
        var a = allocations[id];
        long used = a.OwnUsed, estimated = a.OwnEstimated;
        foreach (var child in allocations.Values.Where(c => c.Parent == id))
        {
            used = checked(used + child.OwnUsed);
            estimated = checked(estimated + child.OwnEstimated);
        }
        return (used, estimated);
    }

    /// <summary>Notes the allocation's figures after an entry at <paramref name="atNs"/>, and its parent's when the
    /// entry moved the parent's figures too (usage does; a total or a creation does not), as the writes record them.</summary>
    private void Changed(long id, long atNs, bool withParent = true)
    {
        if (!allocations.TryGetValue(id, out var a))
        {
            return;
        }
        foreach (var target in withParent && a.Parent is { } parent && allocations.ContainsKey(parent) ? new[] { id, parent } : [id])
        {
            var (used, estimated) = Consumed(target);
            var t = allocations[target];
            history[(target, atNs)] = new FigureHistoryRow
            {
                AllocationId = target,
                AtNs = atNs,
                Total = t.Total,
                OwnUsed = t.OwnUsed,
                OwnEstimated = t.OwnEstimated,
                Used = used,
                Estimated = estimated,
            };
        }
    }

    /// <summary>One entry with its parsed before and after states.</summary>
    private readonly record struct Entry(JournalRow Row, JsonElement? Before, JsonElement? After)
    {
        internal long Allocation => Row.AllocationId ?? throw new InvalidOperationException("it names no allocation");
    }

    /// <summary>An event's last recorded state (null once an entry removed it).</summary>
    private readonly record struct KnownEvent(long EntryId, string Action, long Allocation, string? Json);

    private sealed class ReplayedAllocation
    {
        internal string Name { get; init; } = "";

        internal long? Parent { get; init; }

        internal long Total { get; set; }

        internal long OwnUsed { get; set; }

        internal long OwnEstimated { get; set; }
    }
}

/// <summary>Reads the text properties the journal writes.</summary>
internal static class JournalJson
{
    /// <summary>The string property <paramref name="name"/> of a state that must be present.</summary>
    internal static string Text(this JsonElement? state, string name) =>
        (state ?? throw new InvalidOperationException("a state it should have is missing")).GetProperty(name).GetString()
        ?? throw new InvalidOperationException($"its '{name}' is null");
}
