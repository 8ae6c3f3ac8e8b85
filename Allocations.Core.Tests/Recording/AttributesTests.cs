using System.Text.Json;
using Allocations.Recording;
using FsCheck.Xunit;
using Xunit;

namespace Allocations.Tests.Recording;

/// <summary>The attributes' stored text is compared byte for byte for idempotency, so the direct writer must produce
/// exactly what serializing a SortedDictionary did.</summary>
public class AttributesTests
{
    private static readonly string Alphabet = "abcXYZ019 _-:\"\\/<>&'\u00e9\u00df\u4e2d\u0001\n\t\u2028+";

    private static string RandomText(Random random, int maxLength)
    {
        var chars = new char[random.Next(1, maxLength + 1)];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = Alphabet[random.Next(Alphabet.Length)];
        }
        return new string(chars);
    }

    [Property(MaxTest = 300)]
    public bool ToJson_OnRandomAttributes_EqualsSortedDictionarySerialization(int seed)
    {
        var random = new Random(seed);
        var attributes = new Dictionary<string, string>();
        var count = random.Next(1, 12);
        for (var i = 0; i < count; i++)
        {
            var key = RandomText(random, 10);
            if (!string.IsNullOrWhiteSpace(key))
            {
                attributes[key] = random.Next(5) == 0 ? "" : RandomText(random, 40);
            }
        }
        if (attributes.Count == 0)
        {
            return true;
        }
        var expected = JsonSerializer.Serialize(new SortedDictionary<string, string>(attributes, StringComparer.Ordinal));
        Assert.Equal(expected, Attributes.ToJson(attributes));
        Assert.Equal(attributes, Attributes.FromJson(Attributes.ToJson(attributes)));
        return true;
    }

    [Fact]
    public void ToJson_OfEqualAttributesInAnyOrder_IsTheSameText()
    {
        var a = new Dictionary<string, string> { ["user"] = "ana", ["Project"] = "p1", ["cluster"] = "alpha" };
        var b = new Dictionary<string, string> { ["cluster"] = "alpha", ["user"] = "ana", ["Project"] = "p1" };
        Assert.Equal("{\"Project\":\"p1\",\"cluster\":\"alpha\",\"user\":\"ana\"}", Attributes.ToJson(a));
        Assert.Equal(Attributes.ToJson(a), Attributes.ToJson(b));
    }
}
