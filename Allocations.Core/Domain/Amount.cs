using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Allocations.Exceptions;
using Allocations.Utility;

namespace Allocations.Domain;

/// <summary>An exact amount in an allocation's unit (or in USD), held as an integer count of millionths.</summary>
/// <remarks>
/// Range ±9,223,372,036,854.775807 units; six decimal places. Arithmetic is checked: a result outside the range
/// throws <see cref="OverflowException"/> rather than wrapping. The default value is zero.
/// </remarks>
public readonly struct Amount : IEquatable<Amount>, IComparable<Amount>, ISpanFormattable, ISpanParsable<Amount>
{
    private readonly long micros;

    private Amount(long micros) => this.micros = micros;

    /// <summary>Gets zero.</summary>
    public static Amount Zero => default;

    /// <summary>Gets the integer count of millionths of a unit.</summary>
    public long Micros => micros;

    /// <summary>Creates an amount from an integer count of millionths of a unit.</summary>
    /// <param name="micros">The count of 10^-6 units.</param>
    /// <returns>The amount.</returns>
    public static Amount FromMicros(long micros) => new(micros);

    /// <summary>Creates an amount from a decimal number of units.</summary>
    /// <param name="value">The number of units, with at most six decimal places.</param>
    /// <returns>The amount.</returns>
    /// <exception cref="InvalidInputException">The value has more than six decimal places or is out of range.</exception>
    public static Amount FromDecimal(decimal value) => new(FixedPoint.ToScaled(value, 6, FixedPoint.MicroScale, "amount"));

    /// <summary>Converts the amount to a decimal number of units, exactly.</summary>
    /// <returns>The number of units.</returns>
    public decimal ToDecimal() => FixedPoint.ToDecimal(micros, FixedPoint.MicroScale);

    /// <summary>Formats the amount rounded (half to even) to a number of decimal places, for display.</summary>
    /// <param name="decimals">Decimal places, 0 to 6.</param>
    /// <returns>The formatted amount, invariant culture.</returns>
    /// <exception cref="InvalidInputException"><paramref name="decimals"/> is outside 0 to 6.</exception>
    public string ToString(int decimals)
    {
        Preconditions.CheckArgument(decimals is >= 0 and <= 6, "decimals", decimals.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be from 0 to 6");
        return FixedPoint.FormatMicro(micros, decimals);
    }

    /// <summary>Formats the value exactly, invariant culture, without trailing zeros (<c>1234.5</c>); <see cref="Parse(string)"/>
    /// reads it back.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => FixedPoint.Format(micros, 6);

    /// <summary>Formats the amount with a standard or custom numeric format of <see cref="decimal"/>, applied to its exact
    /// value.</summary>
    /// <remarks>Rounds as <see cref="decimal"/> formatting does (<c>N2</c> of 0.125 is 0.13); use <see cref="ToDecimal"/>
    /// and a rounding of your choice otherwise. Never goes through <see cref="double"/>.</remarks>
    /// <param name="format">A numeric format such as <c>N2</c>, <c>F3</c> or <c>G</c>; null or empty for <c>G</c>.</param>
    /// <param name="formatProvider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>The formatted amount.</returns>
    /// <exception cref="FormatException">The format is not a numeric format.</exception>
    public string ToString(string? format, IFormatProvider? formatProvider) => FixedPointText.Format(micros, FixedPoint.MicroScale, format, formatProvider);

    /// <summary>Formats the amount into a span of characters, as <see cref="ToString(string?, IFormatProvider?)"/> does.</summary>
    /// <param name="destination">Where to write.</param>
    /// <param name="charsWritten">How many characters were written.</param>
    /// <param name="format">A numeric format; empty for <c>G</c>.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>False when <paramref name="destination"/> is too short.</returns>
    /// <exception cref="FormatException">The format is not a numeric format.</exception>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        FixedPointText.TryFormat(micros, FixedPoint.MicroScale, destination, out charsWritten, format, provider);

    /// <summary>Parses the invariant text <see cref="ToString()"/> writes, such as <c>1234.5</c>, exactly.</summary>
    /// <param name="s">The text.</param>
    /// <returns>The amount.</returns>
    /// <exception cref="FormatException">The text is not a number, has more than 6 decimal places other than
    /// trailing zeros, or is outside the range.</exception>
    public static Amount Parse(string s) => Parse(s, CultureInfo.InvariantCulture);

    /// <summary>Parses a number in a culture's format, exactly: white space, a leading sign, group separators and the
    /// decimal separator of <paramref name="provider"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>The amount.</returns>
    /// <exception cref="FormatException">The text is null or not a number, has more than 6 decimal places other
    /// than trailing zeros, or is outside the range.</exception>
    public static Amount Parse(string s, IFormatProvider? provider) =>
        s is null ? throw FixedPointText.Refused("", "amount", "is null") : Parse(s.AsSpan(), provider);

    /// <summary>Parses a number in a culture's format, exactly; see <see cref="Parse(string, IFormatProvider?)"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>The amount.</returns>
    /// <exception cref="FormatException">The text is not a number, has more than 6 decimal places other than
    /// trailing zeros, or is outside the range.</exception>
    public static Amount Parse(ReadOnlySpan<char> s, IFormatProvider? provider)
    {
        var problem = FixedPointText.TryParse(s, 6, FixedPoint.MicroScale, allowNegative: true, provider, out var value);
        return problem is null ? new Amount(value) : throw FixedPointText.Refused(s, "amount", problem);
    }

    /// <summary>Tries to parse a number in a culture's format, exactly; see <see cref="Parse(string, IFormatProvider?)"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <param name="result">The amount, or zero when the text was refused.</param>
    /// <returns>Whether the text names a amount exactly.</returns>
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out Amount result) =>
        TryParse(s.AsSpan(), provider, out result) && s is not null;

    /// <summary>Tries to parse a number in a culture's format, exactly; see <see cref="Parse(string, IFormatProvider?)"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <param name="result">The amount, or zero when the text was refused.</param>
    /// <returns>Whether the text names a amount exactly.</returns>
    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out Amount result)
    {
        var ok = FixedPointText.TryParse(s, 6, FixedPoint.MicroScale, allowNegative: true, provider, out var value) is null;
        result = ok ? new Amount(value) : default;
        return ok;
    }

    /// <inheritdoc />
    public bool Equals(Amount other) => micros == other.micros;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Amount other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => micros.GetHashCode();

    /// <inheritdoc />
    public int CompareTo(Amount other) => micros.CompareTo(other.micros);

    /// <summary>Adds two amounts.</summary>
    /// <param name="left">The first amount.</param>
    /// <param name="right">The second amount.</param>
    /// <returns>The sum.</returns>
    /// <exception cref="OverflowException">The sum is out of range.</exception>
    public static Amount operator +(Amount left, Amount right) => new(checked(left.micros + right.micros));

    /// <summary>Subtracts one amount from another.</summary>
    /// <param name="left">The amount to subtract from.</param>
    /// <param name="right">The amount to subtract.</param>
    /// <returns>The difference.</returns>
    /// <exception cref="OverflowException">The difference is out of range.</exception>
    public static Amount operator -(Amount left, Amount right) => new(checked(left.micros - right.micros));

    /// <summary>Negates an amount.</summary>
    /// <param name="value">The amount.</param>
    /// <returns>The negated amount.</returns>
    public static Amount operator -(Amount value) => new(checked(-value.micros));

    /// <summary>Compares two amounts.</summary>
    /// <param name="left">The first amount.</param>
    /// <param name="right">The second amount.</param>
    /// <returns>True when equal.</returns>
    public static bool operator ==(Amount left, Amount right) => left.Equals(right);

    /// <summary>Compares two amounts.</summary>
    /// <param name="left">The first amount.</param>
    /// <param name="right">The second amount.</param>
    /// <returns>True when different.</returns>
    public static bool operator !=(Amount left, Amount right) => !left.Equals(right);

    /// <summary>Compares two amounts.</summary>
    /// <param name="left">The first amount.</param>
    /// <param name="right">The second amount.</param>
    /// <returns>True when the first is smaller.</returns>
    public static bool operator <(Amount left, Amount right) => left.micros < right.micros;

    /// <summary>Compares two amounts.</summary>
    /// <param name="left">The first amount.</param>
    /// <param name="right">The second amount.</param>
    /// <returns>True when the first is larger.</returns>
    public static bool operator >(Amount left, Amount right) => left.micros > right.micros;

    /// <summary>Compares two amounts.</summary>
    /// <param name="left">The first amount.</param>
    /// <param name="right">The second amount.</param>
    /// <returns>True when the first is smaller or equal.</returns>
    public static bool operator <=(Amount left, Amount right) => left.micros <= right.micros;

    /// <summary>Compares two amounts.</summary>
    /// <param name="left">The first amount.</param>
    /// <param name="right">The second amount.</param>
    /// <returns>True when the first is larger or equal.</returns>
    public static bool operator >=(Amount left, Amount right) => left.micros >= right.micros;
}

/// <summary>An exact, non-negative quantity of a SKU (cores, nodes, GB, GPU-hours), held as millionths.</summary>
/// <remarks>
/// For a <see cref="RateBasis.PerHour"/> SKU it is a level held over the event's interval; for
/// <see cref="RateBasis.PerUnit"/> it is the count consumed. Range 0 to 9,223,372,036,854.775807; six decimal
/// places. The default value is zero.
/// </remarks>
public readonly struct Quantity : IEquatable<Quantity>, ISpanFormattable, ISpanParsable<Quantity>
{
    private readonly long micros;

    private Quantity(long micros) => this.micros = micros;

    /// <summary>Gets the integer count of millionths.</summary>
    public long Micros => micros;

    /// <summary>Creates a quantity from a decimal number.</summary>
    /// <param name="value">The quantity: zero or more, at most six decimal places.</param>
    /// <returns>The quantity.</returns>
    /// <exception cref="InvalidInputException">The value is negative, has more than six decimal places or is out of range.</exception>
    public static Quantity FromDecimal(decimal value)
    {
        var scaled = FixedPoint.ToScaled(value, 6, FixedPoint.MicroScale, "quantity");
        return FromMicros(scaled);
    }

    /// <summary>Creates a quantity from a count of millionths.</summary>
    /// <param name="micros">The count of 10^-6, zero or more.</param>
    /// <returns>The quantity.</returns>
    /// <exception cref="InvalidInputException">The count is negative.</exception>
    public static Quantity FromMicros(long micros)
    {
        if (micros < 0)
        {
            throw new InvalidInputException("quantity", FixedPoint.Format(micros, 6), "must not be negative");
        }
        return new Quantity(micros);
    }

    /// <summary>Converts the quantity to a decimal, exactly.</summary>
    /// <returns>The quantity as a decimal.</returns>
    public decimal ToDecimal() => FixedPoint.ToDecimal(micros, FixedPoint.MicroScale);

    /// <summary>Formats the value exactly, invariant culture, without trailing zeros (<c>1234.5</c>); <see cref="Parse(string)"/>
    /// reads it back.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => FixedPoint.Format(micros, 6);

    /// <summary>Formats the quantity with a standard or custom numeric format of <see cref="decimal"/>, applied to its exact
    /// value.</summary>
    /// <remarks>Rounds as <see cref="decimal"/> formatting does (<c>N2</c> of 0.125 is 0.13); use <see cref="ToDecimal"/>
    /// and a rounding of your choice otherwise. Never goes through <see cref="double"/>.</remarks>
    /// <param name="format">A numeric format such as <c>N2</c>, <c>F3</c> or <c>G</c>; null or empty for <c>G</c>.</param>
    /// <param name="formatProvider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>The formatted quantity.</returns>
    /// <exception cref="FormatException">The format is not a numeric format.</exception>
    public string ToString(string? format, IFormatProvider? formatProvider) => FixedPointText.Format(micros, FixedPoint.MicroScale, format, formatProvider);

    /// <summary>Formats the quantity into a span of characters, as <see cref="ToString(string?, IFormatProvider?)"/> does.</summary>
    /// <param name="destination">Where to write.</param>
    /// <param name="charsWritten">How many characters were written.</param>
    /// <param name="format">A numeric format; empty for <c>G</c>.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>False when <paramref name="destination"/> is too short.</returns>
    /// <exception cref="FormatException">The format is not a numeric format.</exception>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        FixedPointText.TryFormat(micros, FixedPoint.MicroScale, destination, out charsWritten, format, provider);

    /// <summary>Parses the invariant text <see cref="ToString()"/> writes, such as <c>1234.5</c>, exactly.</summary>
    /// <param name="s">The text.</param>
    /// <returns>The quantity.</returns>
    /// <exception cref="FormatException">The text is not a number, has more than 6 decimal places other than
    /// trailing zeros, is negative or is outside the range.</exception>
    public static Quantity Parse(string s) => Parse(s, CultureInfo.InvariantCulture);

    /// <summary>Parses a number in a culture's format, exactly: white space, a leading sign, group separators and the
    /// decimal separator of <paramref name="provider"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>The quantity.</returns>
    /// <exception cref="FormatException">The text is null or not a number, has more than 6 decimal places other
    /// than trailing zeros, is negative or is outside the range.</exception>
    public static Quantity Parse(string s, IFormatProvider? provider) =>
        s is null ? throw FixedPointText.Refused("", "quantity", "is null") : Parse(s.AsSpan(), provider);

    /// <summary>Parses a number in a culture's format, exactly; see <see cref="Parse(string, IFormatProvider?)"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>The quantity.</returns>
    /// <exception cref="FormatException">The text is not a number, has more than 6 decimal places other than
    /// trailing zeros, is negative or is outside the range.</exception>
    public static Quantity Parse(ReadOnlySpan<char> s, IFormatProvider? provider)
    {
        var problem = FixedPointText.TryParse(s, 6, FixedPoint.MicroScale, allowNegative: false, provider, out var value);
        return problem is null ? new Quantity(value) : throw FixedPointText.Refused(s, "quantity", problem);
    }

    /// <summary>Tries to parse a number in a culture's format, exactly; see <see cref="Parse(string, IFormatProvider?)"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <param name="result">The quantity, or zero when the text was refused.</param>
    /// <returns>Whether the text names a quantity exactly.</returns>
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out Quantity result) =>
        TryParse(s.AsSpan(), provider, out result) && s is not null;

    /// <summary>Tries to parse a number in a culture's format, exactly; see <see cref="Parse(string, IFormatProvider?)"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <param name="result">The quantity, or zero when the text was refused.</param>
    /// <returns>Whether the text names a quantity exactly.</returns>
    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out Quantity result)
    {
        var ok = FixedPointText.TryParse(s, 6, FixedPoint.MicroScale, allowNegative: false, provider, out var value) is null;
        result = ok ? new Quantity(value) : default;
        return ok;
    }

    /// <inheritdoc />
    public bool Equals(Quantity other) => micros == other.micros;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Quantity other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => micros.GetHashCode();

    /// <summary>Compares two quantities.</summary>
    /// <param name="left">The first quantity.</param>
    /// <param name="right">The second quantity.</param>
    /// <returns>True when equal.</returns>
    public static bool operator ==(Quantity left, Quantity right) => left.Equals(right);

    /// <summary>Compares two quantities.</summary>
    /// <param name="left">The first quantity.</param>
    /// <param name="right">The second quantity.</param>
    /// <returns>True when different.</returns>
    public static bool operator !=(Quantity left, Quantity right) => !left.Equals(right);
}

/// <summary>An exact, non-negative rate: allocation units per SKU unit (per hour for <see cref="RateBasis.PerHour"/>),
/// or USD per unit for a price schedule; held as billionths.</summary>
/// <remarks>Nine decimal places; range 0 to 9,223,372,036.854775807. The default value is zero.</remarks>
public readonly struct Rate : IEquatable<Rate>, ISpanFormattable, ISpanParsable<Rate>
{
    private readonly long nanos;

    private Rate(long nanos) => this.nanos = nanos;

    /// <summary>Gets the integer count of billionths.</summary>
    public long Nanos => nanos;

    /// <summary>Creates a rate from a decimal number.</summary>
    /// <param name="value">The rate: zero or more, at most nine decimal places.</param>
    /// <returns>The rate.</returns>
    /// <exception cref="InvalidInputException">The value is negative, has more than nine decimal places or is out of range.</exception>
    public static Rate FromDecimal(decimal value) => FromNanos(FixedPoint.ToScaled(value, 9, FixedPoint.NanoScale, "rate"));

    /// <summary>Creates a rate from a count of billionths.</summary>
    /// <param name="nanos">The count of 10^-9, zero or more.</param>
    /// <returns>The rate.</returns>
    /// <exception cref="InvalidInputException">The count is negative.</exception>
    public static Rate FromNanos(long nanos)
    {
        if (nanos < 0)
        {
            throw new InvalidInputException("rate", FixedPoint.Format(nanos, 9), "must not be negative");
        }
        return new Rate(nanos);
    }

    /// <summary>Converts the rate to a decimal, exactly.</summary>
    /// <returns>The rate as a decimal.</returns>
    public decimal ToDecimal() => FixedPoint.ToDecimal(nanos, FixedPoint.NanoScale);

    /// <summary>Formats the value exactly, invariant culture, without trailing zeros (<c>1234.5</c>); <see cref="Parse(string)"/>
    /// reads it back.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => FixedPoint.Format(nanos, 9);

    /// <summary>Formats the rate with a standard or custom numeric format of <see cref="decimal"/>, applied to its exact
    /// value.</summary>
    /// <remarks>Rounds as <see cref="decimal"/> formatting does (<c>N2</c> of 0.125 is 0.13); use <see cref="ToDecimal"/>
    /// and a rounding of your choice otherwise. Never goes through <see cref="double"/>.</remarks>
    /// <param name="format">A numeric format such as <c>N2</c>, <c>F3</c> or <c>G</c>; null or empty for <c>G</c>.</param>
    /// <param name="formatProvider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>The formatted rate.</returns>
    /// <exception cref="FormatException">The format is not a numeric format.</exception>
    public string ToString(string? format, IFormatProvider? formatProvider) => FixedPointText.Format(nanos, FixedPoint.NanoScale, format, formatProvider);

    /// <summary>Formats the rate into a span of characters, as <see cref="ToString(string?, IFormatProvider?)"/> does.</summary>
    /// <param name="destination">Where to write.</param>
    /// <param name="charsWritten">How many characters were written.</param>
    /// <param name="format">A numeric format; empty for <c>G</c>.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>False when <paramref name="destination"/> is too short.</returns>
    /// <exception cref="FormatException">The format is not a numeric format.</exception>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        FixedPointText.TryFormat(nanos, FixedPoint.NanoScale, destination, out charsWritten, format, provider);

    /// <summary>Parses the invariant text <see cref="ToString()"/> writes, such as <c>1234.5</c>, exactly.</summary>
    /// <param name="s">The text.</param>
    /// <returns>The rate.</returns>
    /// <exception cref="FormatException">The text is not a number, has more than 9 decimal places other than
    /// trailing zeros, is negative or is outside the range.</exception>
    public static Rate Parse(string s) => Parse(s, CultureInfo.InvariantCulture);

    /// <summary>Parses a number in a culture's format, exactly: white space, a leading sign, group separators and the
    /// decimal separator of <paramref name="provider"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>The rate.</returns>
    /// <exception cref="FormatException">The text is null or not a number, has more than 9 decimal places other
    /// than trailing zeros, is negative or is outside the range.</exception>
    public static Rate Parse(string s, IFormatProvider? provider) =>
        s is null ? throw FixedPointText.Refused("", "rate", "is null") : Parse(s.AsSpan(), provider);

    /// <summary>Parses a number in a culture's format, exactly; see <see cref="Parse(string, IFormatProvider?)"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <returns>The rate.</returns>
    /// <exception cref="FormatException">The text is not a number, has more than 9 decimal places other than
    /// trailing zeros, is negative or is outside the range.</exception>
    public static Rate Parse(ReadOnlySpan<char> s, IFormatProvider? provider)
    {
        var problem = FixedPointText.TryParse(s, 9, FixedPoint.NanoScale, allowNegative: false, provider, out var value);
        return problem is null ? new Rate(value) : throw FixedPointText.Refused(s, "rate", problem);
    }

    /// <summary>Tries to parse a number in a culture's format, exactly; see <see cref="Parse(string, IFormatProvider?)"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <param name="result">The rate, or zero when the text was refused.</param>
    /// <returns>Whether the text names a rate exactly.</returns>
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out Rate result) =>
        TryParse(s.AsSpan(), provider, out result) && s is not null;

    /// <summary>Tries to parse a number in a culture's format, exactly; see <see cref="Parse(string, IFormatProvider?)"/>.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">The culture whose number format applies; null for the current culture.</param>
    /// <param name="result">The rate, or zero when the text was refused.</param>
    /// <returns>Whether the text names a rate exactly.</returns>
    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out Rate result)
    {
        var ok = FixedPointText.TryParse(s, 9, FixedPoint.NanoScale, allowNegative: false, provider, out var value) is null;
        result = ok ? new Rate(value) : default;
        return ok;
    }

    /// <inheritdoc />
    public bool Equals(Rate other) => nanos == other.nanos;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Rate other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => nanos.GetHashCode();

    /// <summary>Compares two rates.</summary>
    /// <param name="left">The first rate.</param>
    /// <param name="right">The second rate.</param>
    /// <returns>True when equal.</returns>
    public static bool operator ==(Rate left, Rate right) => left.Equals(right);

    /// <summary>Compares two rates.</summary>
    /// <param name="left">The first rate.</param>
    /// <param name="right">The second rate.</param>
    /// <returns>True when different.</returns>
    public static bool operator !=(Rate left, Rate right) => !left.Equals(right);
}
