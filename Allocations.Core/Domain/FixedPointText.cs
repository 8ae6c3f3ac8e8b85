using System.Globalization;

namespace Allocations.Domain;

/// <summary>Formatting and exact parsing of the fixed-point values (<see cref="Amount"/>, <see cref="Quantity"/>,
/// <see cref="Rate"/>) as text.</summary>
/// <remarks>Formatting goes through the exact <see cref="decimal"/> value, so every standard numeric format of
/// <see cref="decimal"/> (<c>G</c>, <c>F3</c>, <c>N2</c>, …) applies, rounding as <see cref="decimal"/> does. Parsing
/// is done on the digits themselves, never through a rounding conversion: text that names a value the type cannot
/// hold exactly is refused.</remarks>
internal static class FixedPointText
{
    internal static string Format(long scaledValue, long scale, string? format, IFormatProvider? provider) =>
        FixedPoint.ToDecimal(scaledValue, scale).ToString(format, provider);

    internal static bool TryFormat(long scaledValue, long scale, Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        FixedPoint.ToDecimal(scaledValue, scale).TryFormat(destination, out charsWritten, format, provider);

    /// <summary>Parses <paramref name="text"/> as a number with at most <paramref name="decimals"/> significant
    /// decimal places into a count of 10^-<paramref name="decimals"/> units.</summary>
    /// <remarks>Accepted: leading and trailing white space, the culture's negative or positive sign before the digits,
    /// digits with the culture's group separator between them, and the culture's decimal separator followed by
    /// digits. Decimal places beyond <paramref name="decimals"/> are accepted only when they are zeros.</remarks>
    /// <returns>Null on success, else why the text was refused.</returns>
    internal static string? TryParse(ReadOnlySpan<char> text, int decimals, long scale, bool allowNegative, IFormatProvider? provider, out long value)
    {
        value = 0;
        var info = NumberFormatInfo.GetInstance(provider);
        var s = text.Trim();
        if (s.IsEmpty)
        {
            return "is empty";
        }
        var negative = false;
        if (info.NegativeSign.Length > 0 && s.StartsWith(info.NegativeSign, StringComparison.Ordinal))
        {
            negative = true;
            s = s[info.NegativeSign.Length..];
        }
        else if (info.PositiveSign.Length > 0 && s.StartsWith(info.PositiveSign, StringComparison.Ordinal))
        {
            s = s[info.PositiveSign.Length..];
        }
        var decimalSeparator = info.NumberDecimalSeparator;
        var groupSeparator = info.NumberGroupSeparator;
        Int128 magnitude = 0;
        var integerDigits = 0;
        var i = 0;
        var lastWasDigit = false;
        while (i < s.Length)
        {
            var c = s[i];
            if (char.IsAsciiDigit(c))
            {
                magnitude = (magnitude * 10) + (c - '0');
                if (magnitude > (Int128)long.MaxValue * 10)
                {
                    return $"is outside ±{long.MaxValue / scale}";
                }
                integerDigits++;
                lastWasDigit = true;
                i++;
            }
            else if (lastWasDigit && groupSeparator.Length > 0 && s[i..].StartsWith(groupSeparator, StringComparison.Ordinal)
                && i + groupSeparator.Length < s.Length && char.IsAsciiDigit(s[i + groupSeparator.Length]))
            {
                i += groupSeparator.Length;
                lastWasDigit = false;
            }
            else
            {
                break;
            }
        }
        var fractionDigits = 0;
        if (i < s.Length)
        {
            if (!s[i..].StartsWith(decimalSeparator, StringComparison.Ordinal))
            {
                return $"has an unexpected character '{s[i]}'";
            }
            i += decimalSeparator.Length;
            while (i < s.Length)
            {
                var c = s[i];
                if (!char.IsAsciiDigit(c))
                {
                    return $"has an unexpected character '{c}'";
                }
                if (fractionDigits < decimals)
                {
                    magnitude = (magnitude * 10) + (c - '0');
                    fractionDigits++;
                }
                else if (c != '0')
                {
                    return $"has more than {decimals} decimal places";
                }
                i++;
            }
            if (integerDigits == 0 && fractionDigits == 0)
            {
                return "has no digits";
            }
        }
        else if (integerDigits == 0)
        {
            return "has no digits";
        }
        for (; fractionDigits < decimals; fractionDigits++)
        {
            magnitude *= 10;
        }
        if (negative)
        {
            magnitude = -magnitude;
        }
        if (magnitude > long.MaxValue || magnitude < long.MinValue)
        {
            return $"is outside ±{long.MaxValue / scale}";
        }
        if (magnitude < 0 && !allowNegative)
        {
            return "must not be negative";
        }
        value = (long)magnitude;
        return null;
    }

    internal static FormatException Refused(ReadOnlySpan<char> text, string what, string problem) =>
        new($"'{text.ToString()}' is not a valid {what}: it {problem}");
}
