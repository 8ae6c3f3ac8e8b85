using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Usage;

/// <summary><see cref="BatchMode.PerItem"/>: each item gets its own answer; refused items change nothing, and the
/// store ends exactly as if only the accepted items had been recorded.</summary>
public class BatchPerItemTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Start = TestStore.November1 + Duration.FromHours(2);

    private static UsageRecord Cpu(AllocationId allocation, decimal cores, int hour, int hours, UsageStatus status = UsageStatus.Confirmed, string? key = null, SkuCode? sku = null) =>
        new(allocation, sku ?? TestStore.Cpu, Quantity.FromDecimal(cores), Start + Duration.FromHours(hour), Start + Duration.FromHours(hour + hours), status, key);

    [Theory, Engines]
    public async Task RecordBatch_PerItem_AnswersEachItem_AndStoresWhatRecordingOnlyTheAcceptedStores(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        using var expected = await TestStore.CreateAsync(engine);
        var a = (await t.CreateAllocationAsync("A", 100m)).Id;
        var b = (await expected.CreateAllocationAsync("A", 100m)).Id;
        Assert.Equal(a, b);
        UsageRecord[] history = [Cpu(a, 1m, 0, 1, key: "done"), Cpu(a, 2m, 1, 1, UsageStatus.Estimated, key: "running")];
        await t.Store.RecordBatchAsync(Admin, history);
        await expected.Store.RecordBatchAsync(Admin, history);

        UsageRecord[] batch =
        [
            Cpu(a, 3m, 2, 1, key: "new"),                            // recorded
            Cpu(a, 1m, 0, 1, key: "done"),                           // the same content again: unchanged
            Cpu(a, 2m, 1, 2, UsageStatus.Estimated, key: "running"), // an Estimated event replaced
            Cpu(a, 1m, 3, -1),                                       // invalid: ends before it starts
            Cpu(a, 1m, 3, 1, sku: new SkuCode("NOPE")),              // unknown SKU
            Cpu(a, 5m, 0, 1, key: "done"),                           // different content under a Confirmed key
            Cpu(new AllocationId(424242), 1m, 3, 1),                 // unknown allocation
            Cpu(a, 4m, 4, 1),                                        // recorded
        ];
        var result = await t.Store.RecordBatchAsync(Admin, batch, BatchMode.PerItem);

        Assert.Equal(
            [BatchItemStatus.Recorded, BatchItemStatus.Unchanged, BatchItemStatus.Replaced, BatchItemStatus.Refused,
             BatchItemStatus.Refused, BatchItemStatus.Refused, BatchItemStatus.Refused, BatchItemStatus.Recorded],
            result.Items.Select(i => i.Status));
        Assert.Equal(Enumerable.Range(0, batch.Length), result.Items.Select(i => i.Index));
        Assert.Equal((2, 1, 1, 4), (result.Recorded, result.Replaced, result.Unchanged, result.Refused));
        Assert.Equal([3, 4, 5, 6], result.Refusals.Select(r => r.Index));

        var invalid = Assert.IsType<InvalidInputException>(result.Items[3].Error);
        Assert.Equal("end", invalid.Field);
        Assert.Null(invalid.BatchIndex);
        Assert.DoesNotContain("batch item", invalid.Message, StringComparison.Ordinal);
        var sku = Assert.IsType<NotFoundException>(result.Items[4].Error);
        Assert.Equal(new SkuCode("NOPE"), sku.Sku);
        Assert.IsType<ConflictException>(result.Items[5].Error);
        Assert.Equal(new AllocationId(424242), Assert.IsType<NotFoundException>(result.Items[6].Error).Allocation);

        foreach (var item in result.Items)
        {
            Assert.Equal(item.Accepted, item.Error is null);
            Assert.Equal(item.Accepted, item.EventId is not null);
            Assert.Equal(item.EventId ?? default, result.EventIds[item.Index]);
        }
        var done = await t.Store.FindEventByKeyAsync(Admin, t.Organization, "done");
        Assert.Equal(done!.Id, result.Items[1].EventId);
        Assert.Equal((await t.Store.FindEventByKeyAsync(Admin, t.Organization, "running"))!.Id, result.Items[2].EventId);

        var accepted = result.Items.Where(i => i.Accepted).Select(i => batch[i.Index]).ToList();
        var alone = await expected.Store.RecordBatchAsync(Admin, accepted);
        Assert.Equal(result.Items.Where(i => i.Accepted).Select(i => i.EventId!.Value), alone.EventIds);
        Assert.Equal(expected.ContentHash(), t.ContentHash());
        Assert.Equal(Amount.FromDecimal(1m + 3m + 4m), (await t.Store.GetAllocationAsync(Admin, a)).Used);
        Assert.Equal(Amount.FromDecimal(4m), (await t.Store.GetAllocationAsync(Admin, a)).Estimated);
    }

    [Theory, Engines]
    public async Task RecordBatch_ByDefault_IsAllOrNothing_EvenWithItemsPerItemModeWouldAccept(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = (await t.CreateAllocationAsync("A", 100m)).Id;
        var before = t.ContentHash();
        UsageRecord[] batch = [Cpu(a, 3m, 2, 1, key: "new"), Cpu(a, 1m, 3, 1, sku: new SkuCode("NOPE")), Cpu(a, 1m, 3, -1)];

        var invalid = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordBatchAsync(Admin, batch));
        Assert.Equal((2, "end"), (invalid.BatchIndex, invalid.Field));
        Assert.Equal(before, t.ContentHash());
        var explicitMode = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.RecordBatchAsync(Admin, batch[..2], BatchMode.AllOrNothing));
        Assert.Equal(1, explicitMode.BatchIndex);
        Assert.Equal(before, t.ContentHash());

        var ok = await t.Store.RecordBatchAsync(Admin, batch[..1]);
        Assert.Equal(0, ok.Refused);
        Assert.Equal(BatchItemStatus.Recorded, Assert.Single(ok.Items).Status);
        Assert.Empty(ok.Refusals);
    }

    [Theory, Engines]
    public async Task RecordBatch_PerItem_WithEveryItemRefused_ChangesNothing(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = (await t.CreateAllocationAsync("A", 100m)).Id;
        var before = t.ContentHash();
        var result = await t.Store.RecordBatchAsync(Admin, [Cpu(a, 1m, 0, -1), null!, Cpu(a, 1m, 0, 1, sku: new SkuCode("NOPE"))], BatchMode.PerItem);
        Assert.All(result.Items, i => Assert.Equal(BatchItemStatus.Refused, i.Status));
        Assert.IsType<InvalidInputException>(result.Items[1].Error);
        Assert.Equal(3, result.Refused);
        Assert.Equal(before, t.ContentHash());
    }

    [Theory, Engines]
    public async Task RecordBatch_UndefinedMode_IsRefusedNamingIt(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = (await t.CreateAllocationAsync("A", 100m)).Id;
        var before = t.ContentHash();
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordBatchAsync(Admin, [Cpu(a, 1m, 0, 1)], (BatchMode)7));
        Assert.Equal(("mode", "7"), (ex.Field, ex.Value));
        Assert.Equal(before, t.ContentHash());
    }

    /// <summary>One item: allocation (0, 1, or 2 for one that does not exist), cores, start hour, hours (−1 is
    /// invalid: the end before the start), Estimated?, key slot or none, and whether it names an unknown SKU.</summary>
    public sealed record Item(int Allocation, int Cores, int Hour, int Hours, bool Estimated, int? Key, bool UnknownSku);

    private static readonly Gen<Item> Items =
        from allocation in Gen.Frequency((8, Gen.Choose(0, 1)), (1, Gen.Constant(2)))
        from cores in Gen.Choose(0, 8)
        from hour in Gen.Choose(0, 400)
        from hours in Gen.Frequency((8, Gen.Choose(0, 24)), (1, Gen.Constant(-1)))
        from estimated in Gen.Elements(true, false)
        from key in Gen.Frequency((1, Gen.Constant<int?>(null)), (2, Gen.Choose(0, 3).Select(k => (int?)k)))
        from unknownSku in Gen.Frequency((8, Gen.Constant(false)), (1, Gen.Constant(true)))
        select new Item(allocation, cores, hour, hours, estimated, key, unknownSku);

    [Property(MaxTest = 20)]
    public Property PerItemBatch_StoresExactlyWhatTheAcceptedItemsAloneStore() =>
        Prop.ForAll(
            Arb.From(Gen.ListOf(Items).Select(l => l.Take(8).ToArray())),
            Arb.From(Gen.ListOf(Items).Select(l => l.Take(12).ToArray())),
            (history, batch) =>
            {
                using var t = TestStore.CreateAsync().GetAwaiter().GetResult();
                using var expected = TestStore.CreateAsync().GetAwaiter().GetResult();
                var ids = Prepare(t);
                Assert.Equal(ids, Prepare(expected));
                // The same history on both (each item alone, refusals ignored), so keys exist to be unchanged, replaced or in conflict.
                foreach (var item in history)
                {
                    RecordAlone(t, ToRecord(item, ids));
                    RecordAlone(expected, ToRecord(item, ids));
                }
                var records = batch.Select(i => ToRecord(i, ids)).ToList();
                var result = t.Store.RecordBatchAsync(Admin, records, BatchMode.PerItem).GetAwaiter().GetResult();
                var acceptedItems = result.Items.Where(i => i.Accepted).ToList();
                var alone = expected.Store.RecordBatchAsync(Admin, acceptedItems.Select(i => records[i.Index]).ToList()).GetAwaiter().GetResult();

                Assert.Equal(batch.Length, result.Items.Count);
                Assert.Equal(acceptedItems.Select(i => i.Status), alone.Items.Select(i => i.Status));
                Assert.Equal(acceptedItems.Select(i => i.EventId!.Value), alone.EventIds);
                Assert.All(result.Refusals, r => Assert.NotNull(r.Error));
                Assert.Equal(result.Recorded + result.Replaced + result.Unchanged + result.Refused, batch.Length);
                Assert.Equal(expected.ContentHash(), t.ContentHash());
                Assert.True(t.Store.VerifyAsync(Admin, t.Organization).GetAwaiter().GetResult().IsClean);
            });

    private static AllocationId[] Prepare(TestStore t) =>
        [t.CreateAllocationAsync("P", 100m).GetAwaiter().GetResult().Id, t.CreateAllocationAsync("Q", 100m).GetAwaiter().GetResult().Id, new AllocationId(999_999)];

    private static UsageRecord ToRecord(Item item, AllocationId[] ids) =>
        Cpu(ids[item.Allocation], item.Cores, item.Hour, item.Hours, item.Estimated ? UsageStatus.Estimated : UsageStatus.Confirmed,
            item.Key is { } k ? $"key-{k}" : null, item.UnknownSku ? new SkuCode("NOPE") : null);

    private static void RecordAlone(TestStore t, UsageRecord record)
    {
        try
        {
            t.Store.RecordUsageAsync(Admin, record).GetAwaiter().GetResult();
        }
        catch (AllocationsException)
        {
            // refused the same way on both stores
        }
    }
}
