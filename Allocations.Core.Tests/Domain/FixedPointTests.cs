using Allocations.Domain;
using Allocations.Exceptions;
using Xunit;

namespace Allocations.Tests.Domain;

public class FixedPointTests
{
    [Fact]
    public void Amount_FromDecimal_RoundTripsExactly()
    {
        Assert.Equal(1_234_567_890_123_456L, Amount.FromDecimal(1_234_567_890.123456m).Micros);
        Assert.Equal(-0.000001m, Amount.FromDecimal(-0.000001m).ToDecimal());
    }

    [Fact]
    public void Amount_WithMoreThanSixDecimals_IsRefusedNotRounded()
    {
        var ex = Assert.Throws<InvalidInputException>(() => Amount.FromDecimal(0.0000001m));
        Assert.Equal("amount", ex.Field);
        Assert.Equal("0.0000001", ex.Value);
    }

    [Fact]
    public void Amount_BeyondRange_IsRefused()
    {
        Assert.Throws<InvalidInputException>(() => Amount.FromDecimal(10_000_000_000_000m));
        Assert.Throws<InvalidInputException>(() => Amount.FromDecimal(decimal.MaxValue));
    }

    [Fact]
    public void Amount_Addition_OverflowThrows()
    {
        var max = Amount.FromMicros(long.MaxValue);
        Assert.Throws<OverflowException>(() => max + Amount.FromMicros(1));
    }

    [Fact]
    public void Quantity_Negative_IsRefusedNamingQuantity()
    {
        var ex = Assert.Throws<InvalidInputException>(() => Quantity.FromDecimal(-1m));
        Assert.Equal("quantity", ex.Field);
        Assert.Equal("-1", ex.Value);
    }

    [Fact]
    public void Rate_HasNineDecimals_AndRefusesTen()
    {
        Assert.Equal(1L, Rate.FromDecimal(0.000000001m).Nanos);
        Assert.Equal("rate", Assert.Throws<InvalidInputException>(() => Rate.FromDecimal(0.0000000001m)).Field);
        Assert.Equal("rate", Assert.Throws<InvalidInputException>(() => Rate.FromDecimal(-0.5m)).Field);
    }

    [Fact]
    public void Amount_ToStringWithDecimals_RoundsHalfToEvenForDisplay()
    {
        Assert.Equal("0.12", Amount.FromDecimal(0.125m).ToString(2));
        Assert.Equal("0.14", Amount.FromDecimal(0.135m).ToString(2));
        Assert.Equal("12.5", Amount.FromDecimal(12.5m).ToString());
    }

    [Fact]
    public void Codes_CompareIgnoringCase_AndRefuseBadCharacters()
    {
        Assert.Equal(new SkuCode("cpu_hour"), new SkuCode("CPU_HOUR"));
        Assert.Equal("sku", Assert.Throws<InvalidInputException>(() => new SkuCode("cpu hour")).Field);
        Assert.Equal("unit", Assert.Throws<InvalidInputException>(() => new UnitCode("")).Field);
        Assert.Throws<InvalidInputException>(() => new UnitCode(new string('x', 65)));
        Assert.Throws<InvalidInputException>(() => new SkuCode("x'; DROP TABLE skus;--"));
    }

    [Fact]
    public void Principal_User_RefusesEmptyAndControlCharacters()
    {
        Assert.Equal("userId", Assert.Throws<InvalidInputException>(() => Principal.User("  ")).Field);
        Assert.Equal("userId", Assert.Throws<InvalidInputException>(() => Principal.User("a\u0000b")).Field);
        Assert.Equal("alice", Principal.User(" alice ").Id);
        Assert.NotEqual(Principal.User("system"), Principal.System);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(7)]
    public void AmountToString_WithDecimalsOutOfRange_IsRefusedNamingThem(int decimals)
    {
        var ex = Assert.Throws<InvalidInputException>(() => Amount.FromDecimal(1.5m).ToString(decimals));
        Assert.Equal("decimals", ex.Field);
    }
}
