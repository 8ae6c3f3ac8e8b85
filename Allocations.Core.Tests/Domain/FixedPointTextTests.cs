using System.Globalization;
using Allocations.Domain;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Allocations.Tests.Domain;

public class FixedPointTextTests
{
    /// <summary>A culture unlike the invariant one in every part a number uses.</summary>
    private static readonly NumberFormatInfo Nordic = new()
    {
        NegativeSign = "\u2212",
        NumberDecimalSeparator = ",",
        NumberGroupSeparator = "\u00A0",
    };

    private static readonly NumberFormatInfo German = new() { NumberDecimalSeparator = ",", NumberGroupSeparator = "." };

    /// <summary>Any 64-bit count: FsCheck's own longs (small, growing), the full range from two halves, and the edges.</summary>
    private static readonly Gen<long> AnyLong = Gen.OneOf(
        ArbMap.Default.GeneratorFor<long>(),
        from hi in Gen.Choose(0, int.MaxValue)
        from lo in Gen.Choose(0, int.MaxValue)
        from negative in ArbMap.Default.GeneratorFor<bool>()
        let magnitude = ((long)hi << 32) | ((long)lo << 1)
        select negative ? -magnitude : magnitude,
        Gen.Elements(long.MinValue, long.MaxValue, 0L, 1L, -1L, 999_999L, 1_000_000L));

    private static readonly Gen<long> NonNegativeLong = AnyLong.Select(v => v == long.MinValue ? long.MaxValue : Math.Abs(v));

    [Property(MaxTest = 1000)]
    public Property Amount_ParseOfToString_RoundTrips_InEveryFormatThatKeepsSixDecimals() => Prop.ForAll(Arb.From(AnyLong), micros =>
    {
        var a = Amount.FromMicros(micros);
        return Amount.Parse(a.ToString()) == a
            && Amount.Parse(a.ToString("G", Nordic), Nordic) == a
            && Amount.Parse(a.ToString("N6", Nordic), Nordic) == a
            && Amount.Parse(a.ToString("F6", German), German) == a
            && Amount.Parse(a.ToString(null, CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) == a
            && Amount.TryParse(a.ToString(), CultureInfo.InvariantCulture, out var parsed) && parsed == a;
    });

    [Property(MaxTest = 1000)]
    public Property Quantity_ParseOfToString_RoundTrips() => Prop.ForAll(Arb.From(NonNegativeLong), micros =>
    {
        var q = Quantity.FromMicros(micros);
        return Quantity.Parse(q.ToString()) == q
            && Quantity.Parse(q.ToString("N6", Nordic), Nordic) == q
            && Quantity.Parse(q.ToString("G", German).AsSpan(), German) == q;
    });

    [Property(MaxTest = 1000)]
    public Property Rate_ParseOfToString_RoundTrips_WithNineDecimals() => Prop.ForAll(Arb.From(NonNegativeLong), nanos =>
    {
        var r = Rate.FromNanos(nanos);
        return Rate.Parse(r.ToString()) == r
            && Rate.Parse(r.ToString("N9", Nordic), Nordic) == r
            && Rate.Parse(r.ToString("G", German), German) == r;
    });

    [Property(MaxTest = 300)]
    public Property TryFormat_WritesWhatToStringReturns_AndRefusesAShortSpan() => Prop.ForAll(Arb.From(AnyLong), micros =>
    {
        var a = Amount.FromMicros(micros);
        var expected = a.ToString("N3", Nordic);
        Span<char> buffer = stackalloc char[64];
        var ok = a.TryFormat(buffer, out var written, "N3", Nordic);
        var tooShort = a.TryFormat(buffer[..(expected.Length - 1)], out _, "N3", Nordic);
        return ok && buffer[..written].SequenceEqual(expected) && !tooShort;
    });

    [Fact]
    public void Interpolation_HonoursTheFormat()
    {
        var a = Amount.FromDecimal(1234.5678m);
        Assert.Equal("1,234.57", $"{a:N2}");
        Assert.Equal("1234.568", $"{a:F3}");
        Assert.Equal("1234.5678", $"{a}");
        Assert.Equal("1,234.567800", string.Format(CultureInfo.InvariantCulture, "{0:N6}", a));
        Assert.Equal("1.234,57", a.ToString("N2", German));
        Assert.Equal("2.50", $"{Quantity.FromDecimal(2.5m):F2}");
        Assert.Equal("0.000000001", $"{Rate.FromNanos(1)}");
        Assert.Equal("0.000000001", Rate.FromNanos(1).ToString("G", CultureInfo.InvariantCulture));
    }

    [Fact]
    public void ParseWithACulture_ReadsItsSeparatorsAndSign()
    {
        Assert.Equal(Amount.FromDecimal(-1234.5m), Amount.Parse("\u22121\u00A0234,5", Nordic));
        Assert.Equal(Amount.FromDecimal(1234.5m), Amount.Parse(" 1.234,50 ", German));
        Assert.Equal(Amount.FromDecimal(1.5m), Amount.Parse("+1.5000000000"));
    }

    [Theory]
    [InlineData("0.0000001", "more than 6 decimal places")]
    [InlineData("1.0000000000000000000000000001", "more than 6 decimal places")]
    [InlineData("9223372036854.775808", "outside")]
    [InlineData("-9223372036854.775809", "outside")]
    [InlineData("99999999999999999999999999999999", "outside")]
    [InlineData("", "empty")]
    [InlineData("abc", "unexpected character 'a'")]
    [InlineData("1.2.3", "unexpected character")]
    [InlineData("1e3", "unexpected character")]
    [InlineData("--1", "unexpected character '-'")]
    [InlineData(".", "no digits")]
    [InlineData("1,", "unexpected character")]
    public void Amount_Parse_RefusesWhatItCannotHoldExactly_NamingTheText(string text, string problem)
    {
        var ex = Assert.Throws<FormatException>(() => Amount.Parse(text));
        Assert.Contains($"'{text}'", ex.Message);
        Assert.Contains(problem, ex.Message);
        Assert.False(Amount.TryParse(text, CultureInfo.InvariantCulture, out var result));
        Assert.Equal(Amount.Zero, result);
    }

    [Fact]
    public void Amount_Parse_TakesTheExtremesExactly()
    {
        Assert.Equal(long.MaxValue, Amount.Parse("9223372036854.775807").Micros);
        Assert.Equal(long.MinValue, Amount.Parse("-9223372036854.775808").Micros);
        Assert.Equal(long.MaxValue, Rate.Parse("9223372036.854775807").Nanos);
    }

    [Fact]
    public void QuantityAndRate_Parse_RefuseNegativesAndExtraDecimals()
    {
        Assert.Contains("must not be negative", Assert.Throws<FormatException>(() => Quantity.Parse("-1")).Message);
        Assert.Contains("must not be negative", Assert.Throws<FormatException>(() => Rate.Parse("-0.5")).Message);
        Assert.Contains("more than 9 decimal places", Assert.Throws<FormatException>(() => Rate.Parse("0.0000000001")).Message);
        Assert.Equal(0L, Quantity.Parse("-0").Micros);
        Assert.False(Quantity.TryParse((string?)null, CultureInfo.InvariantCulture, out _));
        Assert.Throws<FormatException>(() => Quantity.Parse(null!, CultureInfo.InvariantCulture));
    }

    [Fact]
    public void GenericParsing_WorksThroughTheInterfaces()
    {
        static T ParseAny<T>(string s) where T : ISpanParsable<T> => T.Parse(s.AsSpan(), CultureInfo.InvariantCulture);
        static string FormatAny<T>(T value) where T : ISpanFormattable => value.ToString("F2", CultureInfo.InvariantCulture);
        Assert.Equal(Amount.FromDecimal(2.25m), ParseAny<Amount>("2.25"));
        Assert.Equal(Quantity.FromDecimal(2.25m), ParseAny<Quantity>("2.25"));
        Assert.Equal(Rate.FromDecimal(2.25m), ParseAny<Rate>("2.25"));
        Assert.Equal("2.25", FormatAny(Rate.FromDecimal(2.25m)));
    }
}
