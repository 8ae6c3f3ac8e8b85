using Allocations.Access;
using Allocations.Domain;

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
    /// <remarks>Set when a batch failed as a whole (<see cref="Domain.BatchMode.AllOrNothing"/>): no item of the batch
    /// was stored. The exception of an item refused in <see cref="Domain.BatchMode.PerItem"/> leaves it null; its
    /// <see cref="Domain.BatchItemResult.Index"/> names the item.</remarks>
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
/// asking for an allocation that does not exist: the library is not an existence oracle. The identifier looked for is
/// in the typed property of its kind (<see cref="Allocation"/>, <see cref="UsageEvent"/>, <see cref="Organization"/>,
/// <see cref="Unit"/>, <see cref="Sku"/>); <see cref="Key"/> is the same identifier as the message shows it.
/// </remarks>
public sealed class NotFoundException : AllocationsException
{
    /// <summary>Initializes the exception for a thing named by text (a group, or a name a host looked up).</summary>
    /// <param name="kind">What was looked for: "allocation", "usage event", "SKU", "unit", "organization", "group".</param>
    /// <param name="key">The identifier, code or name that was looked for.</param>
    public NotFoundException(string kind, string key)
        : base($"{kind} {InvalidInputException.Display(key)} was not found")
    {
        Kind = kind;
        Key = key;
    }

    internal NotFoundException(AllocationId allocation)
        : this("allocation", allocation.ToString()) => Allocation = allocation;

    internal NotFoundException(UsageEventId usageEvent)
        : this("usage event", usageEvent.ToString()) => UsageEvent = usageEvent;

    internal NotFoundException(OrganizationId organization)
        : this("organization", organization.ToString()) => Organization = organization;

    internal NotFoundException(UnitCode unit)
        : this("unit", unit.Value) => Unit = unit;

    internal NotFoundException(SkuCode sku)
        : this("SKU", sku.Value) => Sku = sku;

    /// <summary>Gets what was looked for: "allocation", "usage event", "SKU", "unit", "organization" or "group".</summary>
    public string Kind { get; }

    /// <summary>Gets the identifier, code or name that was looked for, as the message shows it.</summary>
    public string Key { get; }

    /// <summary>Gets the allocation that was looked for; null when the thing is not an allocation (or was named by
    /// text).</summary>
    public AllocationId? Allocation { get; }

    /// <summary>Gets the usage event that was looked for; null when the thing is not an event.</summary>
    public UsageEventId? UsageEvent { get; }

    /// <summary>Gets the organization that was looked for; null when the thing is not an organization (or was named by
    /// text).</summary>
    public OrganizationId? Organization { get; }

    /// <summary>Gets the unit code that was looked for; null when the thing is not a unit.</summary>
    public UnitCode? Unit { get; }

    /// <summary>Gets the SKU code that was looked for; null when the thing is not a SKU.</summary>
    public SkuCode? Sku { get; }
}

/// <summary>A role an operation needs when it is not a level on an allocation.</summary>
public enum AccessRole
{
    /// <summary>An admin of the organization.</summary>
    OrganizationAdmin = 1,

    /// <summary>An admin of the organization, or a principal with a grant on one of its allocations.</summary>
    OrganizationAdminOrGrantee = 2,

    /// <summary>The system actor (<see cref="Principal.System"/>).</summary>
    SystemActor = 3,
}

/// <summary>The caller can see the target but lacks the level the operation needs.</summary>
/// <remarks>Exactly one of <see cref="RequiredLevel"/> and <see cref="RequiredRole"/> is set.</remarks>
public sealed class AccessDeniedException : AllocationsException
{
    internal AccessDeniedException(
        string principal, string operation, string target, AccessLevel? requiredLevel, AccessRole? requiredRole,
        AllocationId? allocation = null, OrganizationId? organization = null)
        : base($"{InvalidInputException.Display(principal)} may not {operation} on {target}: it needs {Describe(requiredLevel, requiredRole)}")
    {
        Principal = principal;
        Operation = operation;
        Target = target;
        RequiredLevel = requiredLevel;
        RequiredRole = requiredRole;
        Allocation = allocation;
        Organization = organization;
    }

    /// <summary>Gets the acting principal's id (<see cref="Domain.Principal.Id"/>).</summary>
    public string Principal { get; }

    /// <summary>Gets the operation that was refused, as the message names it.</summary>
    public string Operation { get; }

    /// <summary>Gets what the operation was aimed at, as the message names it.</summary>
    public string Target { get; }

    /// <summary>Gets the level on the allocation the operation needs (Read, Use or Admin); null when it needs a role
    /// (<see cref="RequiredRole"/>).</summary>
    public AccessLevel? RequiredLevel { get; }

    /// <summary>Gets the role the operation needs; null when it needs a level on the allocation
    /// (<see cref="RequiredLevel"/>).</summary>
    public AccessRole? RequiredRole { get; }

    /// <summary>Gets the allocation the operation was aimed at; null when it was aimed at an organization or the
    /// store.</summary>
    public AllocationId? Allocation { get; }

    /// <summary>Gets the organization the operation was aimed at (the allocation's, for an allocation); null when it
    /// was aimed at the store.</summary>
    public OrganizationId? Organization { get; }

    private static string Describe(AccessLevel? level, AccessRole? role) => (level, role) switch
    {
        ({ } l, _) => l.ToString(),
        (_, AccessRole.SystemActor) => "the system actor",
        (_, AccessRole.OrganizationAdminOrGrantee) => "organization admin or a grant on one of its allocations",
        _ => "organization admin",
    };
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
    internal NoRateException(string schedule, bool usdPrices, NodaTime.Instant instant)
        : base($"no rate is in force for {InvalidInputException.Display(schedule)} at {instant}")
    {
        Schedule = schedule;
        Instant = instant;
        if (usdPrices)
        {
            Unit = TryCode(() => new UnitCode(schedule));
        }
        else
        {
            Sku = TryCode(() => new SkuCode(schedule));
        }
    }

    /// <summary>Gets the SKU code, or the unit code of a USD price schedule, as the message shows it.</summary>
    public string Schedule { get; }

    /// <summary>Gets the SKU that has no rate in force; null when a unit has no USD price in force.</summary>
    public SkuCode? Sku { get; }

    /// <summary>Gets the unit that has no USD price in force; null when a SKU has no rate in force.</summary>
    public UnitCode? Unit { get; }

    /// <summary>Gets the first instant that no rule covers.</summary>
    public NodaTime.Instant Instant { get; }

    /// <summary>A code as stored, or null when a row changed outside the library no longer holds a valid one.</summary>
    private static T? TryCode<T>(Func<T> make)
        where T : struct
    {
        try
        {
            return make();
        }
        catch (InvalidInputException)
        {
            return null;
        }
    }
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
