namespace Allocations.Storage;

/// <summary>What happens after a transaction: every cache kept across transactions is filled through here.</summary>
internal partial interface IStorageSession
{
    /// <summary>Runs <paramref name="action"/> once the current unit of work has committed durably (for a read, once
    /// it has ended). It never runs when the work fails or rolls back, whether alone (a call of a group rolled back to
    /// its savepoint) or with its whole transaction; then what the work read or wrote may never have been committed,
    /// and a cache filled from it would serve a state that never existed.</summary>
    /// <param name="action">Work that must not throw, such as filling a cache; it runs on the thread that committed.</param>
    void OnCommitted(Action action);
}
