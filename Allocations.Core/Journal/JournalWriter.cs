using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Allocations.Domain;
using Allocations.Storage;
using NodaTime.Text;

namespace Allocations.Journal;

/// <summary>A JSON value already written by <see cref="JournalWriter"/>, to nest in another object.</summary>
/// <param name="Json">The JSON text.</param>
internal readonly record struct RawJson(string Json);

/// <summary>Appends entries to the journal inside the current write transaction: who (the actor), when (the injected
/// clock's instant for the call), what (an action and a target), and the state before and after as JSON.</summary>
/// <remarks>Cheap enough for the recording path: one prepared INSERT per entry, hashes chained in memory, JSON and
/// hash buffers reused for the whole transaction.</remarks>
internal sealed class JournalWriter
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IStorageSession session;
    private readonly string actor;
    private readonly long nowNs;
    private readonly ArrayBufferWriter<byte> hashBuffer = new(512);
    private readonly ArrayBufferWriter<byte> jsonBuffer = new(512);
    private Utf8JsonWriter? json;

    internal JournalWriter(IStorageSession session, Principal actor, long nowNs)
    {
        this.session = session;
        this.actor = actor.Encoded;
        this.nowNs = nowNs;
    }

    /// <summary>Gets where the call notes its entries for the alerts it records; null to note nothing.</summary>
    internal Alerts.AlertCauses? Causes { get; init; }

    /// <summary>Appends one entry chained to the organization's last, and returns its sequence.</summary>
    internal long Append(long orgId, long? allocationId, string action, string target, string? before, string? after)
    {
        var (id, head) = session.JournalTail(orgId);
        var row = new JournalRow
        {
            Id = id,
            OrgId = orgId,
            AllocationId = allocationId,
            AtNs = nowNs,
            Actor = actor,
            Action = action,
            Target = target,
            Before = before,
            After = after,
            PrevHash = head ?? JournalChain.Genesis,
        };
        row.Hash = JournalChain.Compute(row, hashBuffer);
        session.InsertJournal(row);
        Causes?.Journaled(allocationId, action, id);
        return id;
    }

    /// <summary>A usage event's state, as JSON.</summary>
    /// <param name="row">The event.</param>
    /// <param name="rowDigest">The digest of its stored row and segments (see <see cref="EventDigest"/>), written as
    /// <c>rowDigest</c> into a before-state: it tells verification what a <c>usage.batch</c> entry recorded for an
    /// event changed since; null to leave it out.</param>
    internal string Event(EventRow row, byte[]? rowDigest = null)
    {
        var w = Begin();
        w.WriteStartObject();
        w.WriteNumber("id", row.Id);
        w.WriteNumber("allocation", row.AllocationId);
        w.WriteString("sku", row.SkuCode);
        w.WriteString("quantity", FixedPoint.Format(row.Quantity, 6));
        w.WriteString("start", InstantPattern.ExtendedIso.Format(InstantCodec.FromNs(row.StartNs)));
        w.WriteString("end", InstantPattern.ExtendedIso.Format(InstantCodec.FromNs(row.EndNs)));
        w.WriteString("status", ((UsageStatus)row.Status).ToString());
        if (row.ExternalKey is { } key)
        {
            w.WriteString("externalKey", key);
        }
        w.WriteString("amount", FixedPoint.Format(row.Amount, 6));
        if (row.Usd is { } usd)
        {
            w.WriteString("usd", FixedPoint.Format(usd, 6));
        }
        if (row.Attributes is { } attributes)
        {
            w.WritePropertyName("attributes");
            w.WriteRawValue(attributes, skipInputValidation: true);
        }
        if (row.ExpiresNs is { } expiresNs)
        {
            w.WriteString("expires", InstantPattern.ExtendedIso.Format(InstantCodec.FromNs(expiresNs)));
        }
        if (rowDigest is not null)
        {
            w.WriteString("rowDigest", Convert.ToHexStringLower(rowDigest));
        }
        w.WriteEndObject();
        return End(w);
    }

    /// <summary>A <c>usage.batch</c> entry's content: the whole batch's count and id range, the digest encoding, and
    /// each allocation's part (its count, id range, sums of amounts and USD, what it added to own Used and own
    /// Estimated, and the digest of its events), parts in allocation id order.</summary>
    internal string Batch(IReadOnlyList<BatchPart> parts, IReadOnlyList<byte[]> digests)
    {
        var w = Begin();
        w.WriteStartObject();
        long count = 0, first = long.MaxValue, last = 0;
        foreach (var part in parts)
        {
            count += part.Count;
            first = Math.Min(first, part.FirstId);
            last = Math.Max(last, part.LastId);
        }
        w.WriteNumber("events", count);
        w.WriteNumber("first", first);
        w.WriteNumber("last", last);
        w.WriteNumber("encoding", EventDigest.Encoding1);
        w.WriteStartArray("parts");
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            w.WriteStartObject();
            w.WriteNumber("allocation", part.AllocationId);
            w.WriteNumber("events", part.Count);
            w.WriteNumber("first", part.FirstId);
            w.WriteNumber("last", part.LastId);
            w.WriteString("amount", FixedPoint.Format(checked((long)part.Amount), 6));
            w.WriteString("usd", FixedPoint.Format(checked((long)part.Usd), 6));
            w.WriteString("used", FixedPoint.Format(checked((long)part.Used), 6));
            w.WriteString("estimated", FixedPoint.Format(checked((long)part.Estimated), 6));
            w.WriteString("digest", Convert.ToHexStringLower(digests[i]));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        return End(w);
    }

    /// <summary>An allocation's state with its figures, as JSON.</summary>
    internal string Allocation(AllocationRow row, params (string Name, object? Value)[] extra)
    {
        var w = Begin();
        w.WriteStartObject();
        w.WriteNumber("id", row.Id);
        w.WriteString("name", row.Name);
        w.WriteString("unit", row.UnitCode);
        if (row.ParentId is { } parent)
        {
            w.WriteNumber("parent", parent);
        }
        w.WriteString("total", FixedPoint.Format(row.Total, 6));
        w.WriteString("used", FixedPoint.Format(row.Used, 6));
        w.WriteString("estimated", FixedPoint.Format(row.Estimated, 6));
        w.WriteString("ownUsed", FixedPoint.Format(row.OwnUsed, 6));
        w.WriteString("ownEstimated", FixedPoint.Format(row.OwnEstimated, 6));
        if (row.PeriodStartNs is { } periodStart)
        {
            w.WriteString("periodStart", InstantText(periodStart));
        }
        if (row.PeriodEndNs is { } periodEnd)
        {
            w.WriteString("periodEnd", InstantText(periodEnd));
        }
        WriteFields(w, extra);
        w.WriteEndObject();
        return End(w);
    }

    /// <summary>A small JSON object of named values (strings, integers, booleans, string lists, null).</summary>
    internal string Object(params (string Name, object? Value)[] fields)
    {
        var w = Begin();
        w.WriteStartObject();
        WriteFields(w, fields);
        w.WriteEndObject();
        return End(w);
    }

    /// <summary>An amount in micro-units, formatted exactly for the JSON of an entry.</summary>
    internal static string Amount(long micros) => FixedPoint.Format(micros, 6);

    /// <summary>An instant in store nanoseconds as journal text (extended ISO, UTC).</summary>
    internal static string InstantText(long ns) => InstantPattern.ExtendedIso.Format(InstantCodec.FromNs(ns));

    private static void WriteFields(Utf8JsonWriter w, (string Name, object? Value)[] fields)
    {
        foreach (var (name, value) in fields)
        {
            switch (value)
            {
                case null:
                    w.WriteNull(name);
                    break;
                case string s:
                    w.WriteString(name, s);
                    break;
                case long l:
                    w.WriteNumber(name, l);
                    break;
                case int i:
                    w.WriteNumber(name, i);
                    break;
                case RawJson raw:
                    w.WritePropertyName(name);
                    w.WriteRawValue(raw.Json, skipInputValidation: true);
                    break;
                case bool b:
                    w.WriteBoolean(name, b);
                    break;
                case IEnumerable<string> list:
                    w.WriteStartArray(name);
                    foreach (var item in list)
                    {
                        w.WriteStringValue(item);
                    }
                    w.WriteEndArray();
                    break;
                default:
                    w.WriteString(name, value.ToString());
                    break;
            }
        }
    }

    private Utf8JsonWriter Begin()
    {
        jsonBuffer.ResetWrittenCount();
        if (json is null)
        {
            json = new Utf8JsonWriter(jsonBuffer, WriterOptions);
        }
        else
        {
            json.Reset(jsonBuffer);
        }
        return json;
    }

    private string End(Utf8JsonWriter w)
    {
        w.Flush();
        return System.Text.Encoding.UTF8.GetString(jsonBuffer.WrittenSpan);
    }
}
