using System.Buffers;
using System.Text;
using System.Text.Json;
using Allocations.Exceptions;
using Allocations.Utility;

namespace Allocations.Recording;

/// <summary>Event attributes in their one stored form: a JSON object with keys in ordinal order, so that equal
/// attributes are equal text.</summary>
internal static class Attributes
{
    internal const int MaxKeyLength = 64;
    internal const int MaxValueLength = 1000;
    internal const int MaxCount = 32;

    internal static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>();

    internal static string? ToJson(IReadOnlyDictionary<string, string>? attributes)
    {
        if (attributes is null || attributes.Count == 0)
        {
            return null;
        }
        if (attributes.Count > MaxCount)
        {
            throw new InvalidInputException("attributes", $"{attributes.Count} entries", $"at most {MaxCount} attributes are allowed");
        }
        var keys = new string[attributes.Count];
        var n = 0;
        foreach (var (key, value) in attributes)
        {
            if (string.IsNullOrWhiteSpace(key) || key.Length > MaxKeyLength)
            {
                throw new InvalidInputException("attributes.key", key, $"an attribute key has 1 to {MaxKeyLength} characters, not all white space");
            }
            Preconditions.CheckWellFormed(key, "attributes.key");
            if (value is null)
            {
                throw new InvalidInputException($"attributes[{key}]", null, "an attribute value is required");
            }
            if (value.Length > MaxValueLength)
            {
                throw new InvalidInputException($"attributes[{key}]", value, $"an attribute value has at most {MaxValueLength} characters");
            }
            Preconditions.CheckWellFormed(value, $"attributes[{key}]");
            keys[n++] = key;
        }
        Array.Sort(keys, StringComparer.Ordinal);
        return Write(attributes, keys);
    }

    /// <summary>The JSON object with keys in ordinal order, written directly: the same text as serializing a
    /// <c>SortedDictionary</c> with the default options (same encoder, no indentation), without building one per
    /// event. A buffer and writer per thread are reused.</summary>
    private static string Write(IReadOnlyDictionary<string, string> attributes, string[] sortedKeys)
    {
        var buffer = threadBuffer ??= new ArrayBufferWriter<byte>(256);
        buffer.ResetWrittenCount();
        var writer = threadWriter ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        writer.WriteStartObject();
        foreach (var key in sortedKeys)
        {
            writer.WriteString(key, attributes[key]);
        }
        writer.WriteEndObject();
        writer.Flush();
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? threadBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? threadWriter;

    internal static IReadOnlyDictionary<string, string> FromJson(string? json) =>
        json is null ? Empty : JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? (IReadOnlyDictionary<string, string>)Empty;
}
