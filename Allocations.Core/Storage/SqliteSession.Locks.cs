namespace Allocations.Storage;

/// <summary>The contract's locks under SQLite: a write transaction already holds the database's one write lock from
/// its first statement to its commit (see <see cref="SqliteStorageEngine"/>), so no other writer can change what it
/// reads. Both calls only check that they are made in the order the contract asks for.</summary>
internal sealed partial class SqliteSession
{
    public ValueTask LockAllocationsAsync(IReadOnlyList<long> allocationIds, bool withParents = false)
    {
        for (var i = 1; i < allocationIds.Count; i++)
        {
            if (allocationIds[i] <= allocationIds[i - 1])
            {
                throw new Exceptions.InternalErrorException(connection.DataSource, $"allocations locked out of order ({allocationIds[i - 1]} then {allocationIds[i]}); they are locked in ascending id order, each once");
            }
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask LockImporterAsync(long orgId, string importer, string key) => ValueTask.CompletedTask;
}
