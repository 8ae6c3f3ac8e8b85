using Allocations.Exceptions;

namespace Allocations.Domain;

/// <summary>The code of a unit (<c>USD</c>, <c>core-hours</c>, <c>credits</c>): unique per organization, compared
/// without regard to case.</summary>
/// <remarks>1 to 64 characters from letters, digits and <c>- _ . /</c>. The default value is <see cref="Usd"/>'s
/// opposite: it holds no code and is refused by every call.</remarks>
public readonly struct UnitCode : IEquatable<UnitCode>
{
    private readonly string? value;

    /// <summary>Creates a unit code, checking its form.</summary>
    /// <param name="value">The code.</param>
    /// <exception cref="InvalidInputException">The code is empty, too long or has a character outside the set.</exception>
    public UnitCode(string value) => this.value = CodeRules.Check(value, "unit");

    /// <summary>Gets the built-in US dollar unit, which every organization has.</summary>
    public static UnitCode Usd { get; } = new("USD");

    /// <summary>Gets the code as given (its case preserved).</summary>
    public string Value => value ?? string.Empty;

    /// <summary>Gets whether this is the built-in USD unit.</summary>
    public bool IsUsd => string.Equals(value, "USD", StringComparison.OrdinalIgnoreCase);

    /// <inheritdoc />
    public bool Equals(UnitCode other) => string.Equals(value, other.value, StringComparison.OrdinalIgnoreCase);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is UnitCode other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => value is null ? 0 : StringComparer.OrdinalIgnoreCase.GetHashCode(value);

    /// <inheritdoc />
    public override string ToString() => Value;

    /// <summary>Compares two codes, ignoring case.</summary>
    /// <param name="left">The first code.</param>
    /// <param name="right">The second code.</param>
    /// <returns>True when the codes are equal ignoring case.</returns>
    public static bool operator ==(UnitCode left, UnitCode right) => left.Equals(right);

    /// <summary>Compares two codes, ignoring case.</summary>
    /// <param name="left">The first code.</param>
    /// <param name="right">The second code.</param>
    /// <returns>True when the codes differ ignoring case.</returns>
    public static bool operator !=(UnitCode left, UnitCode right) => !left.Equals(right);
}

/// <summary>The code of a SKU (<c>SLURM_NODE_HOUR</c>, <c>A100_GPU_HOUR</c>): unique per organization, compared
/// without regard to case.</summary>
/// <remarks>1 to 64 characters from letters, digits and <c>- _ . /</c>. The default value holds no code and is
/// refused by every call.</remarks>
public readonly struct SkuCode : IEquatable<SkuCode>
{
    private readonly string? value;

    /// <summary>Creates a SKU code, checking its form.</summary>
    /// <param name="value">The code.</param>
    /// <exception cref="InvalidInputException">The code is empty, too long or has a character outside the set.</exception>
    public SkuCode(string value) => this.value = CodeRules.Check(value, "sku");

    /// <summary>Gets the code as given (its case preserved).</summary>
    public string Value => value ?? string.Empty;

    /// <inheritdoc />
    public bool Equals(SkuCode other) => string.Equals(value, other.value, StringComparison.OrdinalIgnoreCase);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SkuCode other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => value is null ? 0 : StringComparer.OrdinalIgnoreCase.GetHashCode(value);

    /// <inheritdoc />
    public override string ToString() => Value;

    /// <summary>Compares two codes, ignoring case.</summary>
    /// <param name="left">The first code.</param>
    /// <param name="right">The second code.</param>
    /// <returns>True when the codes are equal ignoring case.</returns>
    public static bool operator ==(SkuCode left, SkuCode right) => left.Equals(right);

    /// <summary>Compares two codes, ignoring case.</summary>
    /// <param name="left">The first code.</param>
    /// <param name="right">The second code.</param>
    /// <returns>True when the codes differ ignoring case.</returns>
    public static bool operator !=(SkuCode left, SkuCode right) => !left.Equals(right);
}

internal static class CodeRules
{
    internal const int MaxLength = 64;

    internal static string Check(string? value, string field)
    {
        if (value is null)
        {
            throw new InvalidInputException(field, null, "a code is required");
        }
        if (value.Length is 0 or > MaxLength)
        {
            throw new InvalidInputException(field, value, $"a code has 1 to {MaxLength} characters");
        }
        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/'))
            {
                throw new InvalidInputException(field, value, "a code may contain only ASCII letters, digits and - _ . /");
            }
        }
        return value;
    }

    internal static string Key(string value) => value.ToUpperInvariant();
}
