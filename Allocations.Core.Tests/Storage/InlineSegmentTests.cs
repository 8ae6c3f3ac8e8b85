using Allocations.Domain;
using Allocations.Reporting;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;
using static Allocations.Tests.Support.RawSqlite;

namespace Allocations.Tests.Storage;

/// <summary>SQLite schema version 16, PostgreSQL version 3: an event's single segment that spans it with its whole amount is stored in the event's
/// row; other events keep rows of event_segments. Every reader (the event, a page of events, reports, verification,
/// the batch digests) reads the same segments either way, and a file of the previous schema, whose single segments
/// are rows of event_segments, upgrades and keeps verifying.</summary>
public class InlineSegmentTests
{
    private static readonly Principal Admin = TestStore.Admin;

    /// <summary>The batch of <see cref="Access.BatchJournalTests"/> (11 events of one segment, two of two), then an
    /// Estimated event of one segment recorded on its own, to be replaced.</summary>
    private static async Task<(TestStore T, Allocation A, BatchResult Batch, UsageEvent Single)> SetUpAsync(Engine engine = Engine.Sqlite)
    {
        var (t, a, _, batch) = await Access.BatchJournalTests.SetUpAsync(engine);
        var single = await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 3m, TestStore.November15 + Duration.FromHours(5), TestStore.November15 + Duration.FromHours(6), UsageStatus.Estimated, "running"));
        return (t, a, batch, single.Event);
    }

    private static async Task<List<string>> DescribeEventsAsync(TestStore t, Allocation a)
    {
        var described = new List<string>();
        foreach (var e in (await t.Store.ListEventsAsync(Admin, a.Id)).Events)
        {
            var read = await t.Store.GetEventAsync(Admin, e.Id);
            Assert.Equal(e.Segments, read.Segments); // a page of events and the single event read the same segments
            described.Add($"{e} [{string.Join("; ", e.Segments)}]");
        }
        return described;
    }

    private static async Task<string> DescribeReportAsync(TestStore t)
    {
        var report = await t.Store.GetUsageReportAsync(Admin, new UsageReportRequest(t.Organization, TestStore.November1, TestStore.November1 + Duration.FromDays(30)));
        return report + " | " + string.Join(" | ", report.Rows.Select(r => $"{r.Allocation} {r.Sku} {r.Status} {r.Period} {r.Amount}"));
    }

    /// <summary>A count read behind the library's back, on the store's engine.</summary>
    private static long Count(TestStore t, string sql) => Convert.ToInt64(t.Raw(sql, scalar: true), System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [Engines]
    public async Task ASingleSegment_IsStoredInItsEventRow_SeveralAsSegmentRows_AndBothReadAsRecorded(Engine engine)
    {
        var (t, a, batch, single) = await SetUpAsync(engine);
        using var _ = t;

        Assert.Equal(12L, Count(t, "SELECT COUNT(*) FROM usage_events WHERE seg_rule_id IS NOT NULL"));
        Assert.Equal(4L, Count(t, "SELECT COUNT(*) FROM event_segments"));
        Assert.Equal(2L, Count(t, $"SELECT COUNT(*) FROM event_segments WHERE event_id = {batch.EventIds[^1].Value}"));
        var one = await t.Store.GetEventAsync(Admin, single.Id);
        var segment = Assert.Single(one.Segments);
        Assert.Equal((one.Interval, one.Amount), (segment.Interval, segment.Amount));
        Assert.Equal(single.Segments, one.Segments);
        Assert.Equal(2, (await t.Store.GetEventAsync(Admin, batch.EventIds[^1])).Segments.Count);
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(verification.IsIntact, verification.Problem);
    }

    [Theory]
    [Engines]
    public async Task ReplacingAnEvent_MovesItsSegmentsBetweenTheForms(Engine engine)
    {
        var (t, a, _, single) = await SetUpAsync(engine);
        using var _ = t;

        // The running job now crosses the rate change: two segments, rows of event_segments; then one again.
        var across = await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 3m, TestStore.November15 - Duration.FromHours(1), TestStore.November15 + Duration.FromHours(6), UsageStatus.Estimated, "running"));
        Assert.Equal(RecordDisposition.Replaced, across.Disposition);
        Assert.Equal(2, (await t.Store.GetEventAsync(Admin, single.Id)).Segments.Count);
        Assert.Equal(2L, Count(t, $"SELECT COUNT(*) FROM event_segments WHERE event_id = {single.Id.Value}"));
        Assert.Equal(0L, Count(t, $"SELECT COUNT(*) FROM usage_events WHERE id = {single.Id.Value} AND seg_rule_id IS NOT NULL"));

        var back = await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 4m, TestStore.November15 + Duration.FromHours(1), TestStore.November15 + Duration.FromHours(6), UsageStatus.Estimated, "running"));
        var segment = Assert.Single((await t.Store.GetEventAsync(Admin, single.Id)).Segments);
        Assert.Equal(back.Event.Segments, [segment]);
        Assert.Equal(0L, Count(t, $"SELECT COUNT(*) FROM event_segments WHERE event_id = {single.Id.Value}"));
        Assert.Equal(1L, Count(t, $"SELECT COUNT(*) FROM usage_events WHERE id = {single.Id.Value} AND seg_rule_id IS NOT NULL"));

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(verification.IsIntact, verification.Problem);
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }

    [Theory]
    [Engines]
    public async Task DeletingAnEventOrAnAllocation_TakesTheirSegments_AndLeavesTheOthers(Engine engine)
    {
        var (t, a, batch, _) = await SetUpAsync(engine);
        using var _ = t;
        var crossing = batch.EventIds[^1]; // on A, with two segment rows
        Assert.Equal(2L, Count(t, $"SELECT COUNT(*) FROM event_segments WHERE event_id = {crossing.Value}"));
        await t.Store.DeleteEventAsync(Admin, crossing);
        Assert.Equal(0L, Count(t, $"SELECT COUNT(*) FROM event_segments WHERE event_id = {crossing.Value}"));
        var otherEvents = Count(t, $"SELECT COUNT(*) FROM usage_events WHERE allocation_id <> {a.Id.Value}");
        var otherSegmentRows = Count(t, $"SELECT COUNT(*) FROM event_segments g JOIN usage_events e ON e.id = g.event_id WHERE e.allocation_id <> {a.Id.Value}");
        Assert.True(Count(t, $"SELECT COUNT(*) FROM event_segments g JOIN usage_events e ON e.id = g.event_id WHERE e.allocation_id = {a.Id.Value}") > 0);

        await t.Store.DeleteAllocationAsync(Admin, a.Id);

        Assert.Equal(0L, Count(t, $"SELECT COUNT(*) FROM usage_events WHERE allocation_id = {a.Id.Value}"));
        Assert.Equal(0L, Count(t, "SELECT COUNT(*) FROM event_segments g WHERE NOT EXISTS (SELECT 1 FROM usage_events e WHERE e.id = g.event_id)"));
        Assert.Equal(otherEvents, Count(t, "SELECT COUNT(*) FROM usage_events"));
        Assert.Equal(otherSegmentRows, Count(t, "SELECT COUNT(*) FROM event_segments"));
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }

    [Theory]
    [EngineData("UPDATE usage_events SET seg_rate = seg_rate + 1 WHERE id = {0}")]
    [EngineData("UPDATE usage_events SET seg_rule_id = seg_rule_id + 1 WHERE id = {0}")]
    [EngineData("UPDATE usage_events SET seg_rule_id = NULL, seg_rate = NULL WHERE id = {0}")]
    [EngineData("UPDATE usage_events SET amount = amount + 1 WHERE id = {0}")]
    public async Task EditingASegmentStoredInItsEventRow_IsReportedByTheBatchEntry(string statement, Engine engine)
    {
        var (t, _, batch, _) = await SetUpAsync(engine);
        using var _ = t;
        var entry = (await t.Store.GetOrganizationJournalAsync(Admin, t.Organization, 0, 10_000)).First(e => e.Action == "usage.batch");
        t.Raw(string.Format(System.Globalization.CultureInfo.InvariantCulture, statement, batch.EventIds[4].Value), scalar: false);

        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);

        Assert.False(verification.IsIntact);
        Assert.Equal(entry.Sequence, verification.FirstBrokenSequence);
    }

    /// <summary>Moves the single segments stored in event rows (of one event, or of all) to rows of event_segments, as
    /// the previous schema stores them; returns the number of rows changed.</summary>
    internal static int StoreSegmentsAsRows(string path, long? eventId = null)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText =
            "INSERT INTO event_segments (event_id, seq, start_ns, end_ns, rule_id, rate, amount) " +
            "SELECT id, 0, start_ns, end_ns, seg_rule_id, seg_rate, amount FROM usage_events WHERE seg_rule_id IS NOT NULL AND ($id IS NULL OR id = $id); " +
            "UPDATE usage_events SET seg_rule_id = NULL, seg_rate = NULL WHERE seg_rule_id IS NOT NULL AND ($id IS NULL OR id = $id)";
        command.Parameters.AddWithValue("$id", (object?)eventId ?? DBNull.Value);
        return command.ExecuteNonQuery();
    }

    /// <summary>Rewrites a file of this schema as the previous schema stores it: every single segment moved to a row of
    /// event_segments, the row's segment columns dropped, the version set back.</summary>
    internal static void DowngradeToVersion15(string path)
    {
        StoreSegmentsAsRows(path);
        Execute(path, "ALTER TABLE usage_events DROP COLUMN seg_rule_id; ALTER TABLE usage_events DROP COLUMN seg_rate; PRAGMA user_version = 15;");
    }

    [Fact]
    public async Task AFileOfThePreviousSchema_Upgrades_ReadsItsSegmentRowsAsBefore_AndKeepsVerifying()
    {
        var (t, a, batch, single) = await SetUpAsync();
        using var _ = t;
        var events = await DescribeEventsAsync(t, a);
        var report = await DescribeReportAsync(t);
        t.Store.Dispose();
        SqliteConnection.ClearAllPools();
        DowngradeToVersion15(t.Path);
        Assert.Equal(15L, Scalar(t.Path, "PRAGMA user_version"));
        Assert.Equal(16L, Scalar(t.Path, "SELECT COUNT(*) FROM event_segments"));

        await t.ReopenAsync();

        Assert.Equal((long)Migrations.Latest, Scalar(t.Path, "PRAGMA user_version"));
        Assert.Equal(0L, Scalar(t.Path, "SELECT COUNT(*) FROM usage_events WHERE seg_rule_id IS NOT NULL"));
        Assert.Equal(events, await DescribeEventsAsync(t, a));
        Assert.Equal(report, await DescribeReportAsync(t));
        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(verification.IsIntact, verification.Problem); // the batch digests describe the same events and segments
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);

        // Writes after the upgrade store new single segments in the row, and a rewritten old event moves there too.
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 5m, TestStore.November15 + Duration.FromHours(5), TestStore.November15 + Duration.FromHours(7), UsageStatus.Estimated, "running"));
        await t.Store.ConfirmAsync(Admin, batch.EventIds[1]);
        await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, TestStore.November15 + Duration.FromHours(8), TestStore.November15 + Duration.FromHours(9), key: "new"));
        Assert.Equal(0L, Scalar(t.Path, $"SELECT COUNT(*) FROM event_segments WHERE event_id IN ({single.Id.Value}, {batch.EventIds[1].Value})"));
        Assert.Equal(3L, Scalar(t.Path, "SELECT COUNT(*) FROM usage_events WHERE seg_rule_id IS NOT NULL"));
        verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(verification.IsIntact, verification.Problem);
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);

        // An old segment row edited behind the library's back still breaks its batch entry.
        var entry = (await t.Store.GetOrganizationJournalAsync(Admin, t.Organization, 0, 10_000)).First(e => e.Action == "usage.batch");
        Execute(t.Path, $"UPDATE event_segments SET rate = rate + 1 WHERE event_id = {batch.EventIds[2].Value}");
        verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.Equal(entry.Sequence, verification.FirstBrokenSequence);
    }
}
