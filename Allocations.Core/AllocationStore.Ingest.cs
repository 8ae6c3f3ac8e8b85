using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Recording;
using Allocations.Utility;

namespace Allocations;

public sealed partial class AllocationStore
{
    /// <summary>The default number of records committed per transaction by the streaming overloads.</summary>
    public const int DefaultChunkSize = 10_000;

    /// <summary>Records a stream of events of any length, committing every <paramref name="chunkSize"/> records in one
    /// transaction, with memory bounded by the chunk size.</summary>
    /// <remarks>
    /// <para><b>Each chunk is all or nothing, the stream is not</b>: when an item fails, the chunks before it stay
    /// committed, its own chunk is rolled back, and the exception's <see cref="AllocationsException.BatchIndex"/> is the
    /// item's position in the whole stream (counting from 0). Because recording with external keys is idempotent,
    /// running the same stream again after fixing the item resumes safely: committed items come back Unchanged.</para>
    /// <para>Within a chunk the rules of <see cref="RecordBatchAsync"/> apply. <paramref name="progress"/> receives the
    /// running totals after each committed chunk, on the calling thread's context as <see cref="IProgress{T}"/>
    /// implementations decide.</para>
    /// </remarks>
    /// <param name="actor">Use on every allocation named.</param>
    /// <param name="records">The events, read once, in order.</param>
    /// <param name="progress">Told the running totals after each committed chunk; null for none.</param>
    /// <param name="chunkSize">Records per transaction, 1 to 1,000,000; default 10,000.</param>
    /// <param name="cancellationToken">Cancels between and within chunks; committed chunks stay.</param>
    /// <returns>The totals over the whole stream.</returns>
    /// <exception cref="InvalidInputException">The chunk size is out of range, or an item is invalid.</exception>
    /// <exception cref="AllocationsException">Any error of <see cref="RecordBatchAsync"/>, with
    /// <see cref="AllocationsException.BatchIndex"/> naming the item's position in the stream.</exception>
    public async Task<IngestSummary> RecordStreamAsync(
        Principal actor,
        IEnumerable<UsageRecord> records,
        IProgress<IngestSummary>? progress = null,
        int chunkSize = DefaultChunkSize,
        CancellationToken cancellationToken = default)
    {
        Preconditions.CheckNotNull(records, "records");
        ChunkedIngest.CheckChunkSize(chunkSize);
        return await ChunkedIngest.RunAsync(records, chunkSize, (chunk, ct) => RecordBatchAsync(actor, chunk, BatchMode.AllOrNothing, ct), progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records an asynchronous stream of events, committing every <see cref="DefaultChunkSize"/> (10,000)
    /// records in one transaction, with memory bounded by the chunk size.</summary>
    /// <remarks>The same rules as the <see cref="IEnumerable{T}"/> overload: each chunk is all or nothing, earlier
    /// chunks stay committed when a later item fails, and the error's <see cref="AllocationsException.BatchIndex"/> is
    /// the position in the whole stream.</remarks>
    /// <param name="actor">Use on every allocation named.</param>
    /// <param name="records">The events, read once, in order.</param>
    /// <param name="progress">Told the running totals after each committed chunk; null for none.</param>
    /// <param name="cancellationToken">Cancels between and within chunks; committed chunks stay.</param>
    /// <returns>The totals over the whole stream.</returns>
    /// <exception cref="InvalidInputException">An item is invalid.</exception>
    /// <exception cref="AllocationsException">Any error of <see cref="RecordBatchAsync"/>, with
    /// <see cref="AllocationsException.BatchIndex"/> naming the item's position in the stream.</exception>
    public async Task<IngestSummary> RecordStreamAsync(
        Principal actor,
        IAsyncEnumerable<UsageRecord> records,
        IProgress<IngestSummary>? progress,
        CancellationToken cancellationToken)
    {
        Preconditions.CheckNotNull(records, "records");
        return await ChunkedIngest.RunAsync(records, DefaultChunkSize, (chunk, ct) => RecordBatchAsync(actor, chunk, BatchMode.AllOrNothing, ct), progress, cancellationToken).ConfigureAwait(false);
    }
}
