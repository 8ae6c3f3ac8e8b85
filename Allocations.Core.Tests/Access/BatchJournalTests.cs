using System.Text.Json;
using Allocations.Domain;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Access;

/// <summary>New events recorded in one call are one <c>usage.batch</c> entry: its id range, each allocation's part
/// (count, sums) and digests of the stored rows, which verification recomputes.</summary>
public class BatchJournalTests
{
    private static readonly Principal Admin = TestStore.Admin;

    /// <summary>A batch of 13 events over A and B: 11 of one segment, two of two (job-11 and "across" cross Nov 15,
    /// when the CPU rate changes).</summary>
    internal static async Task<(TestStore Store, Allocation A, Allocation B, BatchResult Batch)> SetUpAsync(Engine engine = Engine.Sqlite)
    {
        var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 100_000m);
        var b = await t.CreateAllocationAsync("B", 100_000m);
        var records = new List<UsageRecord>();
        for (var i = 0; i < 12; i++)
        {
            // Events across Nov 15 have two segments (the CPU rate changes); the others one.
            var start = TestStore.November1 + Duration.FromHours(i * 30);
            var record = TestStore.Cpu1(i % 3 == 0 ? b : a, 1m + i, start, start + Duration.FromHours(20), i % 2 == 0 ? UsageStatus.Confirmed : UsageStatus.Estimated, "job-" + i);
            records.Add(record.With(attributes: new Dictionary<string, string> { ["user"] = "u" + i }));
        }
        records.Add(TestStore.Cpu1(a, 2m, TestStore.November15 - Duration.FromHours(2), TestStore.November15 + Duration.FromHours(2), key: "across"));
        var batch = await t.Store.RecordBatchAsync(Admin, records);
        return (t, a, b, batch);
    }

    private static async Task<List<JournalEntry>> AllEntriesAsync(TestStore t) =>
        (await t.Store.GetOrganizationJournalAsync(Admin, t.Organization, 0, 10_000)).ToList();

    [Theory, Engines]
    public async Task ABatch_IsOneEntry_WithItsRangeAndEachAllocationsSums(Engine engine)
    {
        var (t, a, b, batch) = await SetUpAsync(engine);
        using var _ = t;

        var entries = await AllEntriesAsync(t);
        var entry = Assert.Single(entries, e => e.Action.StartsWith("usage.", StringComparison.Ordinal));
        Assert.Equal("usage.batch", entry.Action);
        Assert.Null(entry.Allocation);
        Assert.Equal($"{batch.EventIds[0]}..{batch.EventIds[^1]}", entry.Target);
        using var json = JsonDocument.Parse(entry.After!);
        var root = json.RootElement;
        Assert.Equal(13, root.GetProperty("events").GetInt64());
        Assert.Equal(batch.EventIds[0].Value, root.GetProperty("first").GetInt64());
        Assert.Equal(batch.EventIds[^1].Value, root.GetProperty("last").GetInt64());
        var parts = root.GetProperty("parts").EnumerateArray().ToList();
        Assert.Equal([a.Id.Value, b.Id.Value], parts.Select(p => p.GetProperty("allocation").GetInt64()));
        foreach (var (allocation, part) in new[] { (a, parts[0]), (b, parts[1]) })
        {
            var events = new List<UsageEvent>();
            foreach (var id in batch.EventIds)
            {
                var e = await t.Store.GetEventAsync(Admin, id);
                if (e.Allocation == allocation.Id)
                {
                    events.Add(e);
                }
            }
            Assert.Equal(events.Count, part.GetProperty("events").GetInt64());
            Assert.Equal(events.Sum(e => e.Amount.ToDecimal()), Decimal(part, "amount"));
            Assert.Equal(events.Where(e => e.Status == UsageStatus.Confirmed).Sum(e => e.Amount.ToDecimal()), Decimal(part, "used"));
            Assert.Equal(events.Where(e => e.Status == UsageStatus.Estimated).Sum(e => e.Amount.ToDecimal()), Decimal(part, "estimated"));
            var figures = await t.Store.GetAllocationAsync(Admin, allocation.Id);
            Assert.Equal(figures.Used.ToDecimal(), Decimal(part, "used"));
            Assert.Equal(figures.Estimated.ToDecimal(), Decimal(part, "estimated"));
        }
        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(verification.IsIntact, verification.Problem);
        Assert.Equal(entries.Count, verification.EntriesChecked);
    }

    [Theory, Engines]
    public async Task AnAllocationsJournal_ShowsOnlyItsPartOfABatch(Engine engine)
    {
        var (t, a, b, _) = await SetUpAsync(engine);
        using var _ = t;

        var ofA = (await t.Store.GetAllocationJournalAsync(Admin, a.Id)).Single(e => e.Action == "usage.batch");
        var ofB = (await t.Store.GetAllocationJournalAsync(Admin, b.Id)).Single(e => e.Action == "usage.batch");

        Assert.Equal(ofA.Sequence, ofB.Sequence);
        Assert.Equal(a.Id, ofA.Allocation);
        var part = Assert.Single(JsonDocument.Parse(ofA.After!).RootElement.GetProperty("parts").EnumerateArray());
        Assert.Equal(a.Id.Value, part.GetProperty("allocation").GetInt64());
        Assert.DoesNotContain($"\"allocation\":{b.Id.Value}", ofA.After!);
        Assert.Equal(9, JsonDocument.Parse(ofA.After!).RootElement.GetProperty("events").GetInt64());
        Assert.Equal(4, JsonDocument.Parse(ofB.After!).RootElement.GetProperty("events").GetInt64());
    }

    [Theory]
    [EngineData("amount", "amount = amount + 1")]
    [EngineData("external key", "external_key = 'job-x'")]
    [EngineData("attributes", "attributes = '{\"user\":\"mallory\"}'")]
    [EngineData("recorder", "recorded_by = 'mallory'")]
    [EngineData("status", "status = 3 - status")]
    public async Task EditingAFieldOfOneEventOfABatch_IsReported_NamingTheEntry(string what, string assignment, Engine engine)
    {
        var (t, a, _, batch) = await SetUpAsync(engine);
        using var _ = t;
        var entry = (await AllEntriesAsync(t)).Single(e => e.Action == "usage.batch");
        var victim = batch.EventIds[4]; // an event of A
        t.Raw($"UPDATE usage_events SET {assignment} WHERE id = {victim.Value}", scalar: false);

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);

        Assert.False(verification.IsIntact, what);
        Assert.Equal(entry.Sequence, verification.FirstBrokenSequence);
        Assert.Contains(a.Id.ToString(), verification.Problem, StringComparison.Ordinal);
        Assert.Null(verification.HeadHash);
    }

    [Theory]
    [EngineData("UPDATE event_segments SET rate = rate + 1 WHERE event_id = {0} AND seq = 1")]
    [EngineData("UPDATE event_segments SET amount = amount - 1 WHERE event_id = {0} AND seq = 0")]
    [EngineData("DELETE FROM event_segments WHERE event_id = {0} AND seq = 1")]
    [EngineData("DELETE FROM usage_events WHERE id = {0}")]
    public async Task EditingASegmentOrRemovingAnEventOfABatch_IsReported(string statement, Engine engine)
    {
        var (t, _, _, batch) = await SetUpAsync(engine);
        using var _ = t;
        var entry = (await AllEntriesAsync(t)).Single(e => e.Action == "usage.batch");
        var across = batch.EventIds[^1];
        Assert.Equal(2, (await t.Store.GetEventAsync(Admin, across)).Segments.Count);
        t.Raw(string.Format(System.Globalization.CultureInfo.InvariantCulture, statement, across.Value), scalar: false);

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);

        Assert.Equal(entry.Sequence, verification.FirstBrokenSequence);
    }

    [Theory, Engines]
    public async Task AnEventSlippedIntoABatchsRange_IsReported(Engine engine)
    {
        var (t, a, _, batch) = await SetUpAsync(engine);
        using var _ = t;
        var entry = (await AllEntriesAsync(t)).Single(e => e.Action == "usage.batch");
        var removed = batch.EventIds[5];
        t.Raw($"UPDATE usage_events SET allocation_id = (SELECT allocation_id FROM usage_events WHERE id = {batch.EventIds[0].Value}) WHERE id = {removed.Value}", scalar: false);

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);

        Assert.Equal(entry.Sequence, verification.FirstBrokenSequence);
        Assert.Contains(a.Id.ToString(), verification.Problem, StringComparison.Ordinal);
    }

    [Theory, Engines]
    public async Task EditingTheAllocationIndexOfABatch_IsReported(Engine engine)
    {
        var (t, a, _, _) = await SetUpAsync(engine);
        using var _ = t;
        var entry = (await AllEntriesAsync(t)).Single(e => e.Action == "usage.batch");
        t.Raw($"DELETE FROM journal_parts WHERE allocation_id = {a.Id.Value}", scalar: false);

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);

        Assert.Equal(entry.Sequence, verification.FirstBrokenSequence);
        Assert.Contains("journal_parts", verification.Problem, StringComparison.Ordinal);
    }

    [Theory, Engines]
    public async Task LaterReplacesConfirmsReleasesAndDeletes_KeepABatchVerifying(Engine engine)
    {
        var (t, a, b, batch) = await SetUpAsync(engine);
        using var _ = t;
        var s = t.Store;
        var estimated = new List<UsageEvent>();
        foreach (var id in batch.EventIds)
        {
            var e = await s.GetEventAsync(Admin, id);
            if (e.Status == UsageStatus.Estimated)
            {
                estimated.Add(e);
            }
        }
        // Replace under its key (same allocation), move one to the other allocation, confirm, release, delete.
        await s.RecordUsageAsync(Admin, new UsageRecord(estimated[0].Allocation, estimated[0].Sku, Quantity.FromDecimal(50m), estimated[0].Interval.Start, estimated[0].Interval.End, UsageStatus.Estimated, estimated[0].ExternalKey, estimated[0].Attributes));
        await s.RecordUsageAsync(Admin, new UsageRecord(estimated[1].Allocation == a.Id ? b.Id : a.Id, estimated[1].Sku, estimated[1].Quantity, estimated[1].Interval.Start, estimated[1].Interval.End, UsageStatus.Estimated, estimated[1].ExternalKey));
        await s.ConfirmAsync(Admin, estimated[2].Id, Quantity.FromDecimal(3m));
        await s.ReleaseAsync(Admin, estimated[3].Id);
        await s.DeleteEventAsync(Admin, batch.EventIds[0]);
        // A second batch after them.
        await s.RecordBatchAsync(Admin, [TestStore.Cpu1(a, 1m, TestStore.November1, TestStore.November1 + Duration.FromHours(1)), TestStore.Cpu1(b, 1m, TestStore.November1, TestStore.November1 + Duration.FromHours(1))]);

        var verification = await s.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(verification.IsIntact, verification.Problem);
        Assert.Equal(2, (await AllEntriesAsync(t)).Count(e => e.Action == "usage.batch"));

        // And an edit made after all that is still caught.
        t.Raw($"UPDATE usage_events SET quantity = quantity + 1 WHERE id = {batch.EventIds[2].Value}", scalar: false); // untouched since
        Assert.False((await s.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
    }

    [Theory, Engines]
    public async Task DeletingAnAllocationAfterABatch_KeepsItVerifying(Engine engine)
    {
        var (t, _, b, _) = await SetUpAsync(engine);
        using var _ = t;

        await t.Store.DeleteAllocationAsync(Admin, b.Id, cascade: true);

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(verification.IsIntact, verification.Problem);
    }

    [Theory, Engines]
    public async Task AKeyRepeatedWithinABatch_IsJournaledOnceInItsFinalState(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var a = await t.CreateAllocationAsync("A", 1000m);
        var first = TestStore.Cpu1(a, 1m, TestStore.November1, TestStore.November1 + Duration.FromHours(10), UsageStatus.Estimated, "k");

        var result = await t.Store.RecordBatchAsync(Admin, [first, first.With(quantity: Quantity.FromDecimal(2m)), TestStore.Cpu1(a, 1m, TestStore.November1, TestStore.November1 + Duration.FromHours(1))]);

        Assert.Equal((2, 1), (result.Recorded, result.Replaced));
        var entries = (await AllEntriesAsync(t)).Where(e => e.Action.StartsWith("usage.", StringComparison.Ordinal)).ToList();
        var entry = Assert.Single(entries);
        Assert.Equal("usage.batch", entry.Action);
        Assert.Equal("20", JsonDocument.Parse(entry.After!).RootElement.GetProperty("parts")[0].GetProperty("estimated").GetString());
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
    }

    private static decimal Decimal(JsonElement part, string name) =>
        decimal.Parse(part.GetProperty(name).GetString()!, System.Globalization.CultureInfo.InvariantCulture);
}
