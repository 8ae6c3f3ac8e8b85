using System.Globalization;
using Allocations.Exceptions;

namespace Allocations.Utility;

/// <summary>The one place argument rules are checked; every failure names the field and the value.</summary>
internal static class Preconditions
{
    internal static T CheckNotNull<T>(T? value, string field)
        where T : class
        => value ?? throw new InvalidInputException(field, null, "a value is required");

    internal static void CheckArgument(bool expression, string field, string? value, string rule)
    {
        if (!expression)
        {
            throw new InvalidInputException(field, value, rule);
        }
    }

    internal static long CheckNonNegative(long value, string field)
    {
        if (value < 0)
        {
            throw new InvalidInputException(field, value.ToString(CultureInfo.InvariantCulture), "must not be negative");
        }
        return value;
    }

    /// <summary>Trims a name and checks it: 1 to <paramref name="maxLength"/> characters, none of them control
    /// characters or unpaired surrogates.</summary>
    internal static string CheckName(string? value, string field, int maxLength = 200)
    {
        if (value is null)
        {
            throw new InvalidInputException(field, null, "a value is required");
        }
        var trimmed = value.Trim();
        if (trimmed.Length == 0)
        {
            throw new InvalidInputException(field, value, "must contain at least one printable character");
        }
        if (trimmed.Length > maxLength)
        {
            throw new InvalidInputException(field, value, $"must be at most {maxLength} characters");
        }
        for (var i = 0; i < trimmed.Length; i++)
        {
            var c = trimmed[i];
            if (char.IsControl(c) || c is '\u2028' or '\u2029')
            {
                throw new InvalidInputException(field, value, $"must not contain control characters (found U+{(int)c:X4} at {i})");
            }
        }
        CheckWellFormed(trimmed, field);
        return trimmed;
    }

    /// <summary>Refuses text that is not valid UTF-16: SQLite stores UTF-8, where an unpaired surrogate becomes
    /// U+FFFD, so two different strings would be stored as one. Every text the library stores passes here.</summary>
    internal static string CheckWellFormed(string value, string field)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (!char.IsSurrogate(c))
            {
                continue;
            }
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
                continue;
            }
            throw new InvalidInputException(field, value, $"is not valid UTF-16: an unpaired surrogate U+{(int)c:X4} at {i}");
        }
        return value;
    }

    /// <summary>Checks an external key: 1 to 400 characters of valid UTF-16, kept verbatim.</summary>
    internal static string CheckExternalKey(string? value, string field)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 400)
        {
            throw new InvalidInputException(field, value, "an external key has 1 to 400 characters");
        }
        return CheckWellFormed(value, field);
    }

    /// <summary>The case-insensitive key under which a trimmed name is unique.</summary>
    internal static string NameKey(string trimmed) => trimmed.ToUpperInvariant();

    /// <summary>Checks free text (a reason, an attribute value): any length up to <paramref name="maxLength"/>;
    /// every character is kept verbatim.</summary>
    internal static string CheckText(string? value, string field, int maxLength)
    {
        if (value is null)
        {
            throw new InvalidInputException(field, null, "a value is required");
        }
        if (value.Length > maxLength)
        {
            throw new InvalidInputException(field, value, $"must be at most {maxLength} characters");
        }
        return CheckWellFormed(value, field);
    }

    internal static void CheckCancellation(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
    }
}
