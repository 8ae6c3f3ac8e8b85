using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using FsCheck.Xunit;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Usage;

/// <summary>The batch path with prefetched allocations and keys, and the streamed overloads: the same outcomes as
/// recording one by one, chunk-level atomicity, stream-wide item indexes, progress.</summary>
public class BatchIngestTests
{
    private static readonly Instant Start = TestStore.November1 + Duration.FromDays(2);

    private static UsageRecord Cpu(Allocation a, decimal cores, int hour, string? key, UsageStatus status = UsageStatus.Confirmed) =>
        TestStore.Cpu1(a, cores, Start + Duration.FromHours(hour), Start + Duration.FromHours(hour + 3), status, key);

    [Theory, Engines]
    public async Task RecordBatch_KeyRepeatedWithinTheBatch_BehavesAsIfRecordedInTurn(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var result = await t.Store.RecordBatchAsync(TestStore.Admin, [
            Cpu(a, 2m, 0, "c:1:1", UsageStatus.Estimated),
            Cpu(a, 2m, 0, "c:1:1", UsageStatus.Estimated),
            Cpu(a, 4m, 0, "c:1:1", UsageStatus.Confirmed),
            Cpu(a, 4m, 0, "c:1:1", UsageStatus.Confirmed),
        ]);
        Assert.Equal((1, 1, 2), (result.Recorded, result.Replaced, result.Unchanged));
        Assert.Single(result.EventIds.Distinct());
        var after = await t.Store.GetAllocationAsync(TestStore.Admin, a.Id);
        Assert.Equal(Amount.FromDecimal(12m), after.Used);
        Assert.Equal(Amount.Zero, after.Estimated);
        Assert.True((await t.Store.VerifyAsync(TestStore.Admin, t.Organization)).IsClean);
    }

    [Theory, Engines]
    public async Task RecordBatch_ReimportOfCommittedKeys_ReturnsUnchangedAndCountsNothingTwice(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var b = await t.CreateAllocationAsync("Chemistry", 1000m);
        var batch = Enumerable.Range(0, 50).Select(i => Cpu(i % 2 == 0 ? a : b, 1m + i, i, $"c:{i}:7")).ToList();
        var first = await t.Store.RecordBatchAsync(TestStore.Admin, batch);
        var hash = t.ContentHash();
        var again = await t.Store.RecordBatchAsync(TestStore.Admin, batch);
        Assert.Equal(50, first.Recorded);
        Assert.Equal((0, 0, 50), (again.Recorded, again.Replaced, again.Unchanged));
        Assert.Equal(first.EventIds, again.EventIds);
        Assert.Equal(hash, t.ContentHash());
    }

    [Theory, Engines]
    public async Task RecordBatch_ConfirmedKeyWithDifferentContent_FailsNamingTheItemAndChangesNothing(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        await t.Store.RecordUsageAsync(TestStore.Admin, Cpu(a, 2m, 0, "c:9:9"));
        var hash = t.ContentHash();
        var ex = await Assert.ThrowsAsync<ConflictException>(() => t.Store.RecordBatchAsync(TestStore.Admin, [
            Cpu(a, 1m, 1, "c:1:1"),
            Cpu(a, 1m, 2, null),
            Cpu(a, 3m, 0, "c:9:9"),
        ]));
        Assert.Equal(2, ex.BatchIndex);
        Assert.Contains("quantity", ex.Fields);
        Assert.Equal(hash, t.ContentHash());
    }

    [Theory, Engines]
    public async Task RecordBatch_UnknownAllocationAfterAGoodItem_FailsAtItsIndexAndChangesNothing(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var hash = t.ContentHash();
        var ghost = new Allocation(new AllocationId(999), a.Organization, a.Name, a.Unit, a.ParentId, a.Total, a.Used, a.Estimated, a.OwnUsed, a.OwnEstimated, a.CreatedAt);
        var ex = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.RecordBatchAsync(TestStore.Admin, [Cpu(a, 1m, 1, "k1"), Cpu(ghost, 1m, 1, "k2")]));
        Assert.Equal(1, ex.BatchIndex);
        Assert.Equal(hash, t.ContentHash());
    }

    /// <summary>Random sequences of keyed records (new, repeated, Estimated then Confirmed) give the same figures, the
    /// same dispositions and the same stored rows whether recorded one by one or as one batch.</summary>
    [Property(MaxTest = 12)]
    public bool RecordBatch_OnRandomKeyedSequences_MatchesRecordingOneByOne(int seed)
    {
        return Run().GetAwaiter().GetResult();

        async Task<bool> Run()
        {
            var random = new Random(seed);
            var records = new List<(int Allocation, decimal Cores, int Hour, string? Key, UsageStatus Status)>();
            var confirmed = new Dictionary<string, (int Allocation, decimal Cores, int Hour)>();
            for (var i = 0; i < 40; i++)
            {
                var key = random.Next(4) == 0 ? null : $"c:{random.Next(12)}:1";
                var allocation = random.Next(3);
                decimal cores = random.Next(1, 5);
                var hour = random.Next(0, 400);
                var status = random.Next(2) == 0 ? UsageStatus.Estimated : UsageStatus.Confirmed;
                if (key is not null && confirmed.TryGetValue(key, out var fixedContent))
                {
                    // A Confirmed key only ever comes back with the same content: a repeat, never a conflict.
                    (allocation, cores, hour, status) = (fixedContent.Allocation, fixedContent.Cores, fixedContent.Hour, UsageStatus.Confirmed);
                }
                if (key is not null && status == UsageStatus.Confirmed)
                {
                    confirmed[key] = (allocation, cores, hour);
                }
                records.Add((allocation, cores, hour, key, status));
            }

            using var single = await TestStore.CreateAsync();
            using var batch = await TestStore.CreateAsync();
            var singleDispositions = new List<RecordDisposition>();
            var allocationsSingle = await ThreeAllocations(single);
            var allocationsBatch = await ThreeAllocations(batch);
            foreach (var r in records)
            {
                var result = await single.Store.RecordUsageAsync(TestStore.Admin, Cpu(allocationsSingle[r.Allocation], r.Cores, r.Hour, r.Key, r.Status));
                singleDispositions.Add(result.Disposition);
            }
            var batchResult = await batch.Store.RecordBatchAsync(TestStore.Admin, records.Select(r => Cpu(allocationsBatch[r.Allocation], r.Cores, r.Hour, r.Key, r.Status)).ToList());
            Assert.Equal(
                (singleDispositions.Count(d => d == RecordDisposition.Recorded), singleDispositions.Count(d => d == RecordDisposition.Replaced), singleDispositions.Count(d => d == RecordDisposition.Unchanged)),
                (batchResult.Recorded, batchResult.Replaced, batchResult.Unchanged));
            var tableSingle = await single.Store.ListAllocationsAsync(TestStore.Admin, single.Organization);
            var tableBatch = await batch.Store.ListAllocationsAsync(TestStore.Admin, batch.Organization);
            Assert.Equal(tableSingle.Select(x => (x.Used, x.Estimated)), tableBatch.Select(x => (x.Used, x.Estimated)));
            Assert.Equal(single.ContentHashWithoutJournal(), batch.ContentHashWithoutJournal());
            Assert.True((await batch.Store.VerifyAsync(TestStore.Admin, batch.Organization)).IsClean);
            var journal = await batch.Store.VerifyJournalAsync(TestStore.Admin, batch.Organization);
            Assert.True(journal.IsIntact, journal.Problem);
            return true;
        }

        static async Task<Allocation[]> ThreeAllocations(TestStore t)
        {
            var parent = await t.CreateAllocationAsync("P", 100m);
            return [parent, await t.CreateAllocationAsync("C1", 50m, parent), await t.CreateAllocationAsync("Other", 10m)];
        }
    }

    [Theory, Engines]
    public async Task RecordStream_FailingItemInTheSecondChunk_KeepsTheFirstChunkAndNamesTheStreamIndex(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var reports = new List<IngestSummary>();
        var records = Enumerable.Range(0, 7).Select(i => i == 5
            ? TestStore.Cpu1(a, 1m, Start, Start - Duration.FromHours(1), key: "bad")
            : Cpu(a, 1m, i, $"c:{i}:1"));
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() =>
            t.Store.RecordStreamAsync(TestStore.Admin, records, new ListProgress(reports), chunkSize: 3));
        Assert.Equal(5, ex.BatchIndex);
        Assert.Equal("end", ex.Field);
        Assert.Equal([new IngestSummary(3, 3, 0, 0, 1)], reports);
        var after = await t.Store.GetAllocationAsync(TestStore.Admin, a.Id);
        Assert.Equal(Amount.FromDecimal(9m), after.Used); // 3 events × 1 core × 3 hours at rate 1
    }

    [Theory, Engines]
    public async Task RecordStream_Rerun_ResumesWithCommittedItemsUnchanged(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var records = Enumerable.Range(0, 10).Select(i => Cpu(a, 1m, i, $"c:{i}:1")).ToList();
        await t.Store.RecordStreamAsync(TestStore.Admin, records.Take(4), chunkSize: 3);
        var reports = new List<IngestSummary>();
        var summary = await t.Store.RecordStreamAsync(TestStore.Admin, records, new ListProgress(reports), chunkSize: 3);
        Assert.Equal(new IngestSummary(10, 6, 0, 4, 4), summary);
        Assert.Equal([3L, 6L, 9L, 10L], reports.Select(r => r.Items));
        Assert.True((await t.Store.VerifyAsync(TestStore.Admin, t.Organization)).IsClean);
    }

    [Theory, Engines]
    public async Task RecordStream_AsyncEnumerable_CommitsEveryItem(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var summary = await t.Store.RecordStreamAsync(TestStore.Admin, Generate(a, 25), null, CancellationToken.None);
        Assert.Equal(new IngestSummary(25, 25, 0, 0, 1), summary);
        var after = await t.Store.GetAllocationAsync(TestStore.Admin, a.Id);
        Assert.Equal(Amount.FromDecimal(75m), after.Used);

        static async IAsyncEnumerable<UsageRecord> Generate(Allocation a, int count)
        {
            for (var i = 0; i < count; i++)
            {
                await Task.Yield();
                yield return Cpu(a, 1m, i, $"async:{i}");
            }
        }
    }

    [Theory, Engines]
    public async Task RecordStream_ChunkSizeZero_IsRefusedNamingTheField(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordStreamAsync(TestStore.Admin, Array.Empty<UsageRecord>(), chunkSize: 0));
        Assert.Equal("chunkSize", ex.Field);
    }

    private sealed class ListProgress(List<IngestSummary> reports) : IProgress<IngestSummary>
    {
        public void Report(IngestSummary value) => reports.Add(value);
    }
}
