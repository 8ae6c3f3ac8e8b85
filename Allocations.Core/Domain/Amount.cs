using Allocations.Exceptions;

namespace Allocations.Domain;

/// <summary>An exact amount in an allocation's unit (or in USD), held as an integer count of millionths.</summary>
/// <remarks>
/// Range ±9,223,372,036,854.775807 units; six decimal places. Arithmetic is checked: a result outside the range
/// throws <see cref="OverflowException"/> rather than wrapping. The default value is zero.
/// </remarks>
public readonly struct Amount : IEquatable<Amount>, IComparable<Amount>
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
    /// <param name="units">The number of units, with at most six decimal places.</param>
    /// <returns>The amount.</returns>
    /// <exception cref="InvalidInputException">The value has more than six decimal places or is out of range.</exception>
    public static Amount FromUnits(decimal units) => new(FixedPoint.ToScaled(units, 6, FixedPoint.MicroScale, "amount"));

    /// <summary>Converts the amount to a decimal number of units, exactly.</summary>
    /// <returns>The number of units.</returns>
    public decimal ToDecimal() => FixedPoint.ToDecimal(micros, FixedPoint.MicroScale);

    /// <summary>Formats the amount rounded (half to even) to a number of decimal places, for display.</summary>
    /// <param name="decimals">Decimal places, 0 to 6.</param>
    /// <returns>The formatted amount, invariant culture.</returns>
    public string ToString(int decimals) => FixedPoint.FormatMicro(micros, Math.Clamp(decimals, 0, 6));

    /// <inheritdoc />
    public override string ToString() => FixedPoint.Format(micros, 6);

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
public readonly struct Quantity : IEquatable<Quantity>
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

    /// <inheritdoc />
    public override string ToString() => FixedPoint.Format(micros, 6);

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
public readonly struct Rate : IEquatable<Rate>
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

    /// <inheritdoc />
    public override string ToString() => FixedPoint.Format(nanos, 9);

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
