using Allocations.Domain;
using Allocations.Exceptions;

namespace Allocations.Recording;

/// <summary>Records a stream of any length in chunks, each chunk one batch (one transaction), with memory bounded by
/// the chunk size; an item's error names its position in the whole stream.</summary>
internal static class ChunkedIngest
{
    internal static void CheckChunkSize(int chunkSize)
    {
        if (chunkSize is < 1 or > 1_000_000)
        {
            throw new InvalidInputException("chunkSize", chunkSize.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be between 1 and 1,000,000");
        }
    }

    internal static async Task<IngestSummary> RunAsync(
        IEnumerable<UsageRecord> records, int chunkSize, Func<List<UsageRecord>, CancellationToken, Task<BatchResult>> recordBatch, IProgress<IngestSummary>? progress, CancellationToken cancellationToken)
    {
        var totals = new IngestSummary(0, 0, 0, 0, 0);
        var chunk = new List<UsageRecord>(Math.Min(chunkSize, 65_536));
        foreach (var record in records)
        {
            chunk.Add(record);
            if (chunk.Count == chunkSize)
            {
                totals = await CommitAsync(chunk, totals, recordBatch, progress, cancellationToken).ConfigureAwait(false);
            }
        }
        if (chunk.Count > 0)
        {
            totals = await CommitAsync(chunk, totals, recordBatch, progress, cancellationToken).ConfigureAwait(false);
        }
        return totals;
    }

    internal static async Task<IngestSummary> RunAsync(
        IAsyncEnumerable<UsageRecord> records, int chunkSize, Func<List<UsageRecord>, CancellationToken, Task<BatchResult>> recordBatch, IProgress<IngestSummary>? progress, CancellationToken cancellationToken)
    {
        var totals = new IngestSummary(0, 0, 0, 0, 0);
        var chunk = new List<UsageRecord>(Math.Min(chunkSize, 65_536));
        await foreach (var record in records.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            chunk.Add(record);
            if (chunk.Count == chunkSize)
            {
                totals = await CommitAsync(chunk, totals, recordBatch, progress, cancellationToken).ConfigureAwait(false);
            }
        }
        if (chunk.Count > 0)
        {
            totals = await CommitAsync(chunk, totals, recordBatch, progress, cancellationToken).ConfigureAwait(false);
        }
        return totals;
    }

    private static async Task<IngestSummary> CommitAsync(
        List<UsageRecord> chunk, IngestSummary totals, Func<List<UsageRecord>, CancellationToken, Task<BatchResult>> recordBatch, IProgress<IngestSummary>? progress, CancellationToken cancellationToken)
    {
        BatchResult result;
        try
        {
            result = await recordBatch(chunk, cancellationToken).ConfigureAwait(false);
        }
        catch (AllocationsException ex) when (ex.BatchIndex is { } index)
        {
            ex.BatchIndex = checked((int)(totals.Items + index));
            throw;
        }
        chunk.Clear();
        totals = new IngestSummary(
            totals.Items + result.EventIds.Count,
            totals.Recorded + result.Recorded,
            totals.Replaced + result.Replaced,
            totals.Unchanged + result.Unchanged,
            totals.Chunks + 1);
        progress?.Report(totals);
        return totals;
    }
}
