using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;
using static Allocations.Tests.Support.RawSqlite;

namespace Allocations.Tests.Storage;

/// <summary>Migration 0015 on a file written before the figure history existed (schema 14): the first open rebuilds each
/// allocation's history from the journal, so the figures as of every past instant are the ones the store showed then.</summary>
public class FigureHistoryMigrationTests
{
    private static readonly Principal Admin = TestStore.Admin;

    /// <summary>Turns a current file into one of schema 14: segments as rows (before schema 16) and no figure history.</summary>
    private static void Downgrade(string path)
    {
        InlineSegmentTests.DowngradeToVersion15(path);
        Execute(path, "DROP TABLE figure_history; DROP TABLE figure_history_rebuild; PRAGMA user_version = 14;");
    }

    [Fact]
    public async Task AnOldFile_GetsItsFigureHistoryFromTheJournal_AtItsFirstOpen()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("P", 1000m);
        var child = await t.CreateAllocationAsync("C", 100m, parent);
        var seen = new List<(Instant At, Allocation Parent, Allocation Child)>();
        async Task Step(Func<Task> write)
        {
            t.Clock.AdvanceMinutes(5);
            await write();
            seen.Add((t.Clock.GetCurrentInstant(), await t.Store.GetAllocationAsync(Admin, parent.Id), await t.Store.GetAllocationAsync(Admin, child.Id)));
        }
        var n15 = TestStore.November15;
        await Step(() => t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(child, 2m, n15, n15 + Duration.FromHours(3))));
        await Step(() => t.Store.RecordBatchAsync(Admin, [TestStore.Cpu1(parent, 1m, n15, n15 + Duration.FromHours(1)), TestStore.Cpu1(child, 1m, n15, n15 + Duration.FromHours(2), UsageStatus.Estimated)]));
        await Step(() => t.Store.ChangeTotalAsync(Admin, child.Id, Amount.FromDecimal(300m), "top-up"));
        ReserveResult? hold = null;
        await Step(async () => hold = await t.Store.ReserveAsync(Admin, TestStore.Cpu1(child, 1m, n15, n15 + Duration.FromHours(4), UsageStatus.Estimated)));
        await Step(() => t.Store.ConfirmAsync(Admin, hold!.Event!.Id));
        await Step(() => t.Store.TransferAsync(Admin, parent.Id, child.Id, Amount.FromDecimal(10m), "share"));
        t.Store.Dispose();
        Downgrade(t.Path);

        await t.ReopenAsync();

        Assert.Equal((long)Allocations.Storage.Migrations.Latest, Scalar(t.Path, "PRAGMA user_version"));
        Assert.Equal(0, Scalar(t.Path, "SELECT COUNT(*) FROM figure_history_rebuild"));
        foreach (var (at, p, c) in seen)
        {
            var parentThen = await t.Store.GetAllocationAsOfAsync(Admin, parent.Id, at);
            var childThen = await t.Store.GetAllocationAsOfAsync(Admin, child.Id, at);
            Assert.Equal((p.Total, p.Used, p.Estimated, p.OwnUsed), (parentThen.Total, parentThen.Used, parentThen.Estimated, parentThen.OwnUsed));
            Assert.Equal((c.Total, c.Used, c.Estimated, c.OwnUsed), (childThen.Total, childThen.Used, childThen.Estimated, childThen.OwnUsed));
        }
        Assert.True((await t.Store.VerifyAgainstJournalAsync(Admin, t.Organization)).IsClean);
    }

    [Fact]
    public async Task AnOldFileWhoseJournalDoesNotReproduceItsFigures_KeepsThemFromTheUpgradeOn()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 1000m);
        var created = t.Clock.GetCurrentInstant();
        t.Store.Dispose();
        Downgrade(t.Path);
        Execute(t.Path, $"UPDATE allocations SET own_used = 5000000, used = 5000000 WHERE id = {a.Id.Value}"); // no journal entry says so
        t.Clock.AdvanceHours(1);

        await t.ReopenAsync();

        var now = await t.Store.GetAllocationAsOfAsync(Admin, a.Id, t.Clock.GetCurrentInstant());
        Assert.Equal(Amount.FromDecimal(5m), now.Used);
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.GetAllocationAsOfAsync(Admin, a.Id, created));
        Assert.Equal("asOf", ex.Field);
        Assert.Contains("upgraded", ex.Message, StringComparison.Ordinal);
    }
}
