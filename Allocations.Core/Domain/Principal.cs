using Allocations.Utility;

namespace Allocations.Domain;

/// <summary>Who is acting: a user id given by the host, or the system actor used for set-up.</summary>
/// <remarks>
/// The library does not authenticate; the host says who the caller is. <see cref="System"/> may do everything
/// and exists for bootstrapping (creating organizations and their first admins) and for trusted jobs; hand it
/// only to code that would be allowed everything anyway. The default value is not a valid principal.
/// </remarks>
public readonly struct Principal : IEquatable<Principal>
{
    private const string SystemId = "\u0000system";
    private readonly string? id;

    private Principal(string id) => this.id = id;

    /// <summary>Gets the system actor, which every check allows.</summary>
    public static Principal System { get; } = new(SystemId);

    /// <summary>Gets whether this is the system actor.</summary>
    public bool IsSystem => ReferenceEquals(id, SystemId) || id == SystemId;

    /// <summary>Gets the user id, or <c>system</c> for the system actor.</summary>
    public string Id => IsSystem ? "system" : id ?? string.Empty;

    /// <summary>Creates the principal of a host user.</summary>
    /// <param name="userId">The host's user id: 1 to 200 printable characters, trimmed.</param>
    /// <returns>The principal.</returns>
    /// <exception cref="Exceptions.InvalidInputException">The id is empty, too long or has control characters.</exception>
    public static Principal User(string userId) => new(Preconditions.CheckName(userId, "userId"));

    internal bool IsValid => id is not null;

    /// <summary>Gets how the principal is written in the journal, the total history and an event's source:
    /// <c>user:</c> followed by the user id for a host user, <c>system</c> for the system actor, so that a host user
    /// named <c>system</c> (written <c>user:system</c>) is never taken for the system actor.</summary>
    internal string Encoded => IsSystem ? "system" : "user:" + Id;

    /// <inheritdoc />
    public bool Equals(Principal other) => string.Equals(id, other.id, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Principal other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => id is null ? 0 : StringComparer.Ordinal.GetHashCode(id);

    /// <inheritdoc />
    public override string ToString() => IsSystem ? "system" : "user:" + Id;

    /// <summary>Compares two principals.</summary>
    /// <param name="left">The first principal.</param>
    /// <param name="right">The second principal.</param>
    /// <returns>True when both are the same actor.</returns>
    public static bool operator ==(Principal left, Principal right) => left.Equals(right);

    /// <summary>Compares two principals.</summary>
    /// <param name="left">The first principal.</param>
    /// <param name="right">The second principal.</param>
    /// <returns>True when they are different actors.</returns>
    public static bool operator !=(Principal left, Principal right) => !left.Equals(right);
}
