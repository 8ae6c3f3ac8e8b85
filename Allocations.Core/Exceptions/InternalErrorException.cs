namespace Allocations.Exceptions;

/// <summary>The library broke one of its own rules: a storage error no rule of the library explains (a statement
/// SQLite calls misuse, a type mismatch, a lock taken out of order). It is a bug of the library, not a fault of the
/// store or of the call's arguments.</summary>
/// <remarks>The call's transaction was rolled back, so the store is as it was. Report the message (it names the
/// engine's own error code, never its text) together with the library's version.</remarks>
public sealed class InternalErrorException : AllocationsException
{
    /// <summary>Initializes the exception.</summary>
    /// <param name="location">The store's path or name.</param>
    /// <param name="detail">What went wrong, in the engine's terms (an error code), without stored data.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public InternalErrorException(string location, string detail, Exception? innerException = null)
        : base($"the Allocations library hit an internal error on store {InvalidInputException.Display(location)} (a bug of the library; please report it): {detail}", innerException)
    {
        Location = location;
        Detail = detail;
    }

    /// <summary>Gets the store's path or name.</summary>
    public string Location { get; }

    /// <summary>Gets what went wrong, in the engine's terms.</summary>
    public string Detail { get; }
}
