namespace Allocations.Exceptions;

/// <summary>The base of every exception the Allocations library throws on purpose.</summary>
/// <remarks>
/// Catch this type to handle all library errors at once. Each concrete exception is sealed and carries the
/// identifiers involved, so a host can turn it into a precise message or HTTP status without parsing text.
/// A call that throws one of these has left the store exactly as it was.
/// </remarks>
public abstract class AllocationsException : Exception
{
    /// <summary>Initializes the exception with a message and an optional inner exception.</summary>
    /// <param name="message">What went wrong, naming the values involved.</param>
    /// <param name="innerException">The underlying cause, if any.</param>
    private protected AllocationsException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <summary>Gets the index of the batch item that caused the error, or null outside a batch.</summary>
    /// <remarks>A batch is all or nothing: when this is set, no item of the batch was stored.</remarks>
    public int? BatchIndex { get; internal set; }

    /// <inheritdoc />
    public override string Message => BatchIndex is { } index ? $"batch item {index}: {base.Message}" : base.Message;
}

/// <summary>An argument broke a rule: the exception names the field and the offending value.</summary>
public sealed class InvalidInputException : AllocationsException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="field">The name of the field or parameter that is wrong.</param>
    /// <param name="value">The offending value as text (possibly truncated for display).</param>
    /// <param name="rule">The rule that the value breaks.</param>
    /// <param name="innerException">The underlying cause, such as an <see cref="OverflowException"/>.</param>
    public InvalidInputException(string field, string? value, string rule, Exception? innerException = null)
        : base($"{field} {Display(value)} is invalid: {rule}", innerException)
    {
        Field = field;
        Value = value;
        Rule = rule;
    }

    /// <summary>Gets the name of the field or parameter that is wrong.</summary>
    public string Field { get; }

    /// <summary>Gets the offending value as text, or null when the value was null.</summary>
    public string? Value { get; }

    /// <summary>Gets the rule that the value breaks.</summary>
    public string Rule { get; }

    internal static string Display(string? value)
    {
        if (value is null)
        {
            return "(null)";
        }
        var shown = value.Length > 80 ? value[..80] + $"…({value.Length} chars)" : value;
        var builder = new System.Text.StringBuilder(shown.Length + 2);
        builder.Append('\'');
        foreach (var c in shown)
        {
            if (char.IsControl(c))
            {
                builder.Append($"\\u{(int)c:x4}");
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.Append('\'').ToString();
    }
}

/// <summary>The thing asked for does not exist, or the caller may not know that it exists.</summary>
/// <remarks>
/// A caller without Read on an allocation gets exactly this exception, with the same message shape, as a caller
/// asking for an allocation that does not exist: the library is not an existence oracle.
/// </remarks>
public sealed class NotFoundException : AllocationsException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="kind">What was looked for: "allocation", "usage event", "SKU", "unit", "organization".</param>
    /// <param name="key">The identifier or code that was looked for.</param>
    public NotFoundException(string kind, string key)
        : base($"{kind} {InvalidInputException.Display(key)} was not found")
    {
        Kind = kind;
        Key = key;
    }

    /// <summary>Gets what was looked for.</summary>
    public string Kind { get; }

    /// <summary>Gets the identifier or code that was looked for.</summary>
    public string Key { get; }
}

/// <summary>The caller can see the target but lacks the level the operation needs.</summary>
public sealed class AccessDeniedException : AllocationsException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="principal">The acting principal's id.</param>
    /// <param name="operation">The operation that was refused.</param>
    /// <param name="target">What the operation was aimed at.</param>
    /// <param name="required">The level the operation needs.</param>
    public AccessDeniedException(string principal, string operation, string target, string required)
        : base($"{InvalidInputException.Display(principal)} may not {operation} on {target}: it needs {required}")
    {
        Principal = principal;
        Operation = operation;
        Target = target;
        Required = required;
    }

    /// <summary>Gets the acting principal's id.</summary>
    public string Principal { get; }

    /// <summary>Gets the operation that was refused.</summary>
    public string Operation { get; }

    /// <summary>Gets what the operation was aimed at.</summary>
    public string Target { get; }

    /// <summary>Gets the level the operation needs.</summary>
    public string Required { get; }
}

/// <summary>The request contradicts what the store already holds: a duplicate name, a rule overlap, a different
/// event under an external key that is already Confirmed, a state change that no longer applies.</summary>
public sealed class ConflictException : AllocationsException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="message">What conflicts with what, naming both.</param>
    /// <param name="fields">The fields that differ or collide.</param>
    public ConflictException(string message, IReadOnlyList<string> fields)
        : base(message)
    {
        Fields = fields;
    }

    /// <summary>Gets the fields that differ or collide.</summary>
    public IReadOnlyList<string> Fields { get; }
}

/// <summary>No rate rule is in force for a SKU (or no USD price for a unit) at an instant an event covers.</summary>
public sealed class NoRateException : AllocationsException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="schedule">The SKU code, or the unit code for a USD price schedule.</param>
    /// <param name="instant">The first instant that no rule covers.</param>
    public NoRateException(string schedule, NodaTime.Instant instant)
        : base($"no rate is in force for {InvalidInputException.Display(schedule)} at {instant}")
    {
        Schedule = schedule;
        Instant = instant;
    }

    /// <summary>Gets the SKU code, or the unit code of a USD price schedule.</summary>
    public string Schedule { get; }

    /// <summary>Gets the first instant that no rule covers.</summary>
    public NodaTime.Instant Instant { get; }
}

/// <summary>The store cannot be used: the file is not an Allocations database, comes from a newer version of the
/// library, is damaged, or stayed locked by another process past the configured timeout.</summary>
/// <remarks>A file refused on open is left byte-for-byte untouched.</remarks>
public sealed class StoreUnavailableException : AllocationsException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="path">The database path, or ":memory:".</param>
    /// <param name="reason">Why the store cannot be used.</param>
    /// <param name="innerException">The underlying cause, if any.</param>
    public StoreUnavailableException(string path, string reason, Exception? innerException = null)
        : base($"the Allocations store {InvalidInputException.Display(path)} cannot be used: {reason}", innerException)
    {
        Path = path;
        Reason = reason;
    }

    /// <summary>Gets the database path.</summary>
    public string Path { get; }

    /// <summary>Gets why the store cannot be used.</summary>
    public string Reason { get; }
}
