using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>Rows edited behind the library's back with values of the wrong type (text in an integer or blob column):
/// verification reports them as damage; every read of them fails with <see cref="StoreUnavailableException"/> naming
/// the table and the row, never a raw DataException, InvalidCastException or FormatException, and never a silent 0.</summary>
public sealed class TamperedRowTests
{
    private static readonly Principal Admin = TestStore.Admin;

    /// <summary>A store with a parent allocation, one keyed Confirmed event and its journal; the event's id.</summary>
    private static async Task<(TestStore T, Allocation Parent, UsageEvent Event)> CreateAsync()
    {
        var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("Physics", 1000m);
        var recorded = await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(parent, 2m, TestStore.November15, TestStore.November15 + NodaTime.Duration.FromHours(3), key: "job-1"));
        return (t, parent, recorded.Event);
    }

    private static void Tamper(TestStore t, string sql, long id)
    {
        using var connection = new SqliteConnection($"Data Source={t.Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$id", id);
        Assert.Equal(1, command.ExecuteNonQuery());
    }

    /// <summary>One read entry point over one tampered row: the tampering statement (its row is $id), the table and how
    /// to find the row's id, and the call.</summary>
    public sealed record ReadCase(string Name, string Sql, string Table, Func<(TestStore T, Allocation Parent, UsageEvent Event), long> RowId, Func<(TestStore T, Allocation Parent, UsageEvent Event), Task> Act)
    {
        public override string ToString() => Name;
    }

    private const string EventAmount = "UPDATE usage_events SET amount = 'lots' WHERE id = $id";
    private const string AllocationTotal = "UPDATE allocations SET total = 'lots' WHERE id = $id";
    private const string JournalHash = "UPDATE journal SET hash = 'abc' WHERE id = $id";
    private const string SegmentAmount = "UPDATE event_segments SET amount = 'x' WHERE event_id = $id AND seq = 0";
    private const string InlineSegmentRule = "UPDATE usage_events SET seg_rule_id = 'x' WHERE id = $id";

    private static long FirstJournalEntry((TestStore T, Allocation Parent, UsageEvent Event) c) =>
        c.T.Store.GetAllocationJournalAsync(Admin, c.Parent.Id).GetAwaiter().GetResult()[0].Sequence;

    public static readonly IReadOnlyList<ReadCase> Reads =
    [
        new("ListEventsAsync over text in an integer column", EventAmount, "usage_events", c => c.Event.Id.Value, c => c.T.Store.ListEventsAsync(Admin, c.Parent.Id)),
        new("FindEventByKeyAsync over text in an integer column", EventAmount, "usage_events", c => c.Event.Id.Value, c => c.T.Store.FindEventByKeyAsync(Admin, c.T.Organization, "job-1")),
        new("ConfirmAsync over text in an integer column", EventAmount, "usage_events", c => c.Event.Id.Value, c => c.T.Store.ConfirmAsync(Admin, c.Event.Id)),
        new("ExportEventsAsync over text in an integer column", EventAmount, "usage_events", c => c.Event.Id.Value, c => c.T.Store.ExportEventsAsync(Admin, c.Parent.Id, null, new StringWriter(), ExportFormat.Csv, null, CancellationToken.None)),
        new("GetAllocationTableAsync over text in an integer column", AllocationTotal, "allocations", c => c.Parent.Id.Value, c => c.T.Store.GetAllocationTableAsync(Admin, c.T.Organization)),
        new("GetAllocationAsync over text in an integer column", AllocationTotal, "allocations", c => c.Parent.Id.Value, c => c.T.Store.GetAllocationAsync(Admin, c.Parent.Id)),
        new("RecordUsageAsync onto an allocation with text in an integer column", AllocationTotal, "allocations", c => c.Parent.Id.Value, c => c.T.Store.RecordUsageAsync(Admin, TestStore.Cpu1(c.Parent, 1m, TestStore.November15, TestStore.November15 + NodaTime.Duration.FromHours(1), key: "job-2"))),
        new("GetAllocationJournalAsync over text in a blob column", JournalHash, "journal", FirstJournalEntry, c => c.T.Store.GetAllocationJournalAsync(Admin, c.Parent.Id)),
        new("GetOrganizationJournalAsync over text in a blob column", JournalHash, "journal", FirstJournalEntry, c => c.T.Store.GetOrganizationJournalAsync(Admin, c.T.Organization)),
        new("GetUsageReportAsync over text in a segment's amount", SegmentAmount, "event_segments", c => c.Event.Id.Value, c => c.T.Store.GetUsageReportAsync(Admin, new UsageReportRequest(c.T.Organization))),
        new("GetUsageReportAsync over text in the rule of a segment stored in its event row", InlineSegmentRule, "usage_events", c => c.Event.Id.Value, c => c.T.Store.GetUsageReportAsync(Admin, new UsageReportRequest(c.T.Organization))),
        new("GetEventAsync over text in the rule of a segment stored in its event row", InlineSegmentRule, "usage_events", c => c.Event.Id.Value, c => c.T.Store.GetEventAsync(Admin, c.Event.Id)),
    ];

    public static TheoryData<ReadCase> AllReads()
    {
        var data = new TheoryData<ReadCase>();
        foreach (var read in Reads)
        {
            data.Add(read);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AllReads))]
    public async Task Read_OfATypeTamperedRow_FailsAsStoreUnavailable_NamingTheTableAndRow(ReadCase read)
    {
        var c = await CreateAsync();
        using var t = c.T;
        var rowId = read.RowId(c);
        if (read.Sql == SegmentAmount)
        {
            Assert.Equal(2, InlineSegmentTests.StoreSegmentsAsRows(t.Path, c.Event.Id.Value)); // as the previous schema stores it
        }
        Tamper(t, read.Sql, read.Sql == SegmentAmount ? c.Event.Id.Value : rowId);
        var ex = await Record.ExceptionAsync(() => read.Act(c));
        var unavailable = Assert.IsType<StoreUnavailableException>(ex);
        Assert.Contains($"table {read.Table}", unavailable.Reason, StringComparison.Ordinal);
        var row = read.Table == "event_segments" ? $"row of usage_events id {rowId}:" : $"row {rowId}:";
        Assert.Contains(row, unavailable.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_OverTextInAnEventsAmount_ReportsTheRowAsDamage_InsteadOfThrowing()
    {
        var c = await CreateAsync();
        using var t = c.T;
        Tamper(t, EventAmount, c.Event.Id.Value);
        var report = await t.Store.VerifyAsync(Admin, t.Organization);
        Assert.False(report.IsClean);
        var damage = Assert.Single(report.Damage);
        Assert.Equal(("usage_events", c.Event.Id.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), "amount"), (damage.Table, damage.Row, damage.Column));
        Assert.Contains("text", damage.Problem, StringComparison.Ordinal);
        Assert.Contains("integer", damage.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_OverTextInAJournalHash_ReportsTheDamage_AndStillChecksTheFigures()
    {
        var c = await CreateAsync();
        using var t = c.T;
        var entry = FirstJournalEntry(c);
        Tamper(t, JournalHash, entry);
        var report = await t.Store.VerifyAsync(Admin, t.Organization);
        var damage = Assert.Single(report.Damage);
        Assert.Equal(("journal", "hash"), (damage.Table, damage.Column));
        Assert.Equal(1, report.AllocationsChecked);
        Assert.Empty(report.Discrepancies);
    }

    [Fact]
    public async Task VerifyJournal_OverTextInAHash_ReportsThatEntryAsBroken_InsteadOfThrowing()
    {
        var c = await CreateAsync();
        using var t = c.T;
        var entry = FirstJournalEntry(c);
        Tamper(t, JournalHash, entry);
        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.False(verification.IsIntact);
        Assert.Equal(entry, verification.FirstBrokenSequence);
        Assert.Contains("hash", verification.Problem, StringComparison.Ordinal);
        Assert.Contains("text", verification.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyJournal_OverTextInALaterEntrysActor_ReportsThatEntry()
    {
        var c = await CreateAsync();
        using var t = c.T;
        var entries = await t.Store.GetOrganizationJournalAsync(Admin, t.Organization);
        Assert.True(entries.Count >= 3);
        var last = entries[^1].Sequence;
        Tamper(t, "UPDATE journal SET at_ns = 'noon' WHERE id = $id", last);
        var verification = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.Equal(last, verification.FirstBrokenSequence);
        Assert.Contains("at_ns", verification.Problem, StringComparison.Ordinal);
        Assert.Equal(entries.Count, verification.EntriesChecked);
    }
}
