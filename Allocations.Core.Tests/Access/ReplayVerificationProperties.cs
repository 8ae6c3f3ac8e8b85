using Allocations.Access;
using Allocations.Domain;
using Allocations.Journal;
using Allocations.Tests.Support;
using FsCheck.Xunit;
using NodaTime;
using Xunit;
using static Allocations.Tests.Support.RawSqlite;

namespace Allocations.Tests.Access;

/// <summary>The verification that replays the journal, over stores built by random sequences of the library's writes:
/// an untouched store verifies clean, its figure history is the one the journal describes, and each edit made behind
/// the library's back (an event's amount with its segment and its allocations' figures moved to match, a total, a
/// grant row inserted) is reported naming the row, while the figure recount and the journal chain both still hold.</summary>
public class ReplayVerificationProperties
{
    private static readonly Principal Admin = TestStore.Admin;

    [Property(MaxTest = 8)]
    public bool RandomStores_VerifyClean_AndEachEditBehindTheLibrarysBackIsFound(int seed)
    {
        return Run().GetAwaiter().GetResult();

        async Task<bool> Run()
        {
            var random = new Random(seed);
            using var t = await TestStore.CreateAsync();
            var singles = await BuildAsync(t, random);

            var clean = await t.Store.VerifyAgainstJournalAsync(Admin, t.Organization);
            Assert.True(clean.IsClean, string.Join("; ", clean.Findings) + " " + clean.Chain);
            Assert.True(clean.EntriesReplayed > 10);
            AssertHistoryIsTheJournals(t);

            // 1. An event recorded on its own: amount, first segment and the figures of its allocation (and parent).
            var victim = singles[random.Next(singles.Count)];
            var e = await t.Store.GetEventAsync(Admin, victim);
            var owner = await t.Store.GetAllocationAsync(Admin, e.Allocation);
            var own = e.Status == UsageStatus.Confirmed ? "own_used" : "own_estimated";
            var all = e.Status == UsageStatus.Confirmed ? "used" : "estimated";
            const long delta = 1_000_000;
            var edit = $"UPDATE usage_events SET amount = amount + {{0}} WHERE id = {victim.Value};" +
                $"UPDATE event_segments SET amount = amount + {{0}} WHERE event_id = {victim.Value} AND seq = 0;" +
                $"UPDATE allocations SET {own} = {own} + {{0}}, {all} = {all} + {{0}} WHERE id = {owner.Id.Value};" +
                (owner.ParentId is { } parent ? $"UPDATE allocations SET {all} = {all} + {{0}} WHERE id = {parent.Value};" : "");
            Execute(t.Path, string.Format(System.Globalization.CultureInfo.InvariantCulture, edit, delta));
            Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean); // consistent: the recount sees nothing
            Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact); // and the chain holds
            var found = await t.Store.VerifyAgainstJournalAsync(Admin, t.Organization);
            Assert.Contains(found.Findings, f => f.Table == "usage_events" && f.Row == victim.ToString() && f.Problem.Contains("amount", StringComparison.Ordinal));
            Assert.Contains(found.Findings, f => f.Table == "allocations" && f.Row == owner.Id.ToString() && f.Problem.Contains(own, StringComparison.Ordinal));
            Execute(t.Path, string.Format(System.Globalization.CultureInfo.InvariantCulture, edit, -delta));
            Assert.True((await t.Store.VerifyAgainstJournalAsync(Admin, t.Organization)).IsClean);

            // 2. A total.
            var allocations = await t.Store.ListAllocationsAsync(Admin, t.Organization);
            var edited = allocations[random.Next(allocations.Count)];
            Execute(t.Path, $"UPDATE allocations SET total = total + 7 WHERE id = {edited.Id.Value}");
            Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
            var total = await t.Store.VerifyAgainstJournalAsync(Admin, t.Organization);
            var finding = Assert.Single(total.Findings);
            Assert.Equal(("allocations", edited.Id.ToString()), (finding.Table, finding.Row));
            Assert.Contains("total", finding.Problem, StringComparison.Ordinal);
            Execute(t.Path, $"UPDATE allocations SET total = total - 7 WHERE id = {edited.Id.Value}");

            // 3. A grant row inserted: Admin for the whole organization on an allocation that has no such grant.
            var target = allocations.FirstOrDefault(a => Scalar(t.Path, $"SELECT COUNT(*) FROM grants WHERE allocation_id = {a.Id.Value} AND group_id IS NULL") == 0);
            if (target is not null)
            {
                Execute(t.Path, $"INSERT INTO grants (allocation_id, group_id, level, granted_ns, granted_by) VALUES ({target.Id.Value}, NULL, 3, 0, 'intruder')");
                Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
                Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
                var grant = Assert.Single((await t.Store.VerifyAgainstJournalAsync(Admin, t.Organization)).Findings);
                Assert.Equal(("grants", target.Id + " organization"), (grant.Table, grant.Row));
                Execute(t.Path, $"DELETE FROM grants WHERE granted_by = 'intruder'");
            }
            Assert.True((await t.Store.VerifyAgainstJournalAsync(Admin, t.Organization)).IsClean);
            return true;
        }
    }

    [Fact]
    public async Task AMemberOrAnAdminAddedBehindTheLibrarysBack_IsFound()
    {
        using var t = await TestStore.CreateAsync();
        await t.Store.CreateGroupAsync(Admin, t.Organization, "physics");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "physics", "alice");
        Execute(t.Path, "INSERT INTO group_members (group_id, user_id) SELECT id, 'mallory' FROM groups WHERE name = 'physics'");
        Execute(t.Path, $"INSERT INTO org_admins (org_id, user_id) VALUES ({t.Organization.Value}, 'eve')");

        var result = await t.Store.VerifyAgainstJournalAsync(Admin, t.Organization);

        Assert.Equal(
            [("group_members", "group:physics user:mallory"), ("org_admins", "user:eve")],
            result.Findings.Select(f => (f.Table, f.Row)).Order().ToList());
    }

    [Fact]
    public async Task AnEventDeletedOrInsertedBehindTheLibrarysBack_IsFound()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        var kept = await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, TestStore.November15, TestStore.November15 + Duration.FromHours(1)));
        var gone = await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(a, 1m, TestStore.November15, TestStore.November15 + Duration.FromHours(2)));
        Execute(t.Path, $"DELETE FROM usage_events WHERE id = {gone.Event.Id.Value}");
        Execute(t.Path, $"INSERT INTO usage_events (org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, amount, recorded_ns, recorded_by, source) " +
            $"SELECT org_id, allocation_id, sku_id, quantity, start_ns, end_ns, status, 0, recorded_ns, recorded_by, source FROM usage_events WHERE id = {kept.Event.Id.Value}");
        var inserted = Scalar(t.Path, "SELECT MAX(id) FROM usage_events");

        var result = await t.Store.VerifyAgainstJournalAsync(Admin, t.Organization);

        Assert.Contains(result.Findings, f => f.Table == "usage_events" && f.Row == gone.Event.Id.ToString() && f.Problem.Contains("not stored", StringComparison.Ordinal));
        Assert.Contains(result.Findings, f => f.Table == "usage_events" && f.Row == new UsageEventId(inserted).ToString() && f.Problem.Contains("no journal entry", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnActionTheReplayDoesNotKnow_IsReported_NotSkippedSilently()
    {
        var replay = new JournalReplay();
        replay.Apply(new Allocations.Storage.JournalRow { Id = 5, OrgId = 1, Action = "something.new", Target = "x" });

        var problem = Assert.Single(replay.Problems);

        Assert.Equal(("journal", "#5"), (problem.Table, problem.Row));
        Assert.Contains("something.new", problem.Problem, StringComparison.Ordinal);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task VerifyAgainstJournal_NeedsAnOrganizationAdmin()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Physics", 1000m);
        await t.Store.CreateGroupAsync(Admin, t.Organization, "g");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "g", "bob");
        await t.Store.GrantAsync(Admin, a.Id, Grantee.Group("g"), AccessLevel.Admin);

        await Assert.ThrowsAsync<Exceptions.AccessDeniedException>(() => t.Store.VerifyAgainstJournalAsync(Principal.User("bob"), t.Organization));
        Assert.True((await t.Store.VerifyAgainstJournalAsync(Principal.System, t.Organization)).IsClean);
    }

    /// <summary>The history every write kept is exactly the history the journal describes.</summary>
    private static void AssertHistoryIsTheJournals(TestStore t)
    {
        var replayed = t.Store.Engine.ReadAsync(s => JournalReplay.Run(s, t.Organization.Value).History(), CancellationToken.None).GetAwaiter().GetResult()
            .Select(h => (h.AllocationId, h.AtNs, h.Total, h.OwnUsed, h.OwnEstimated, h.Used, h.Estimated)).ToList();
        var stored = new List<(long, long, long, long, long, long, long)>();
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={t.Path};Mode=ReadOnly;Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT allocation_id, at_ns, total, own_used, own_estimated, used, estimated FROM figure_history ORDER BY allocation_id, at_ns";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                stored.Add((reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6)));
            }
        }
        Assert.Equal(replayed, stored);
    }

    /// <summary>A random history of the library's writes, the clock moving between them; returns the events recorded
    /// on their own (not in a batch) that are still stored as recorded.</summary>
    private static async Task<List<UsageEventId>> BuildAsync(TestStore t, Random random)
    {
        var parent = await t.CreateAllocationAsync("P", 1_000m);
        var allocations = new List<Allocation> { parent, await t.CreateAllocationAsync("C", 500m, parent), await t.CreateAllocationAsync("O", 800m) };
        await t.Store.CreateGroupAsync(Admin, t.Organization, "physics");
        var singles = new List<UsageEventId>();
        var holds = new List<UsageEventId>();
        var keys = 0;
        UsageRecord Record(UsageStatus status, bool key)
        {
            var start = TestStore.November1 + Duration.FromHours(random.Next(0, 600));
            return new UsageRecord(allocations[random.Next(allocations.Count)].Id, random.Next(3) == 0 ? TestStore.Gpu : TestStore.Cpu, Quantity.FromDecimal(random.Next(1, 5)),
                start, start + Duration.FromHours(random.Next(1, 20)), status, key ? "k" + keys++ : null);
        }
        for (var step = 0; step < 30; step++)
        {
            t.Clock.AdvanceMinutes(random.Next(1, 30));
            switch (random.Next(10))
            {
                case 0:
                    var batch = await t.Store.RecordBatchAsync(Admin, Enumerable.Range(0, random.Next(2, 6)).Select(_ => Record(random.Next(2) == 0 ? UsageStatus.Confirmed : UsageStatus.Estimated, random.Next(2) == 0)).ToList());
                    break;
                case 1:
                    var hold = await t.Store.ReserveAsync(Admin, Record(UsageStatus.Estimated, false));
                    if (hold.Event is { } held)
                    {
                        holds.Add(held.Id);
                    }
                    break;
                case 2 when holds.Count > 0:
                    var confirmed = holds[random.Next(holds.Count)];
                    holds.Remove(confirmed);
                    await t.Store.ConfirmAsync(Admin, confirmed, Quantity.FromDecimal(random.Next(1, 4)));
                    singles.Add(confirmed);
                    break;
                case 3 when holds.Count > 0:
                    var released = holds[random.Next(holds.Count)];
                    holds.Remove(released);
                    await t.Store.ReleaseAsync(Admin, released);
                    break;
                case 4:
                    var a = allocations[random.Next(allocations.Count)];
                    await t.Store.ChangeTotalAsync(Admin, a.Id, Amount.FromDecimal(random.Next(100, 2000)), "change");
                    break;
                case 5:
                    var from = allocations[random.Next(allocations.Count)];
                    var to = allocations.First(x => x.Id != from.Id);
                    await t.Store.TransferAsync(Admin, from.Id, to.Id, Amount.FromDecimal(1m), "move", force: true);
                    break;
                case 6:
                    var user = "u" + random.Next(4);
                    if (random.Next(2) == 0)
                    {
                        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "physics", user);
                    }
                    else
                    {
                        await t.Store.RemoveGroupMemberAsync(Admin, t.Organization, "physics", user);
                    }
                    break;
                case 7:
                    var on = allocations[random.Next(allocations.Count)];
                    if (random.Next(3) == 0)
                    {
                        await t.Store.RevokeAsync(Admin, on.Id, Grantee.Group("physics"));
                    }
                    else
                    {
                        await t.Store.GrantAsync(Admin, on.Id, Grantee.Group("physics"), (AccessLevel)random.Next(1, 4));
                    }
                    break;
                case 8 when allocations.Count < 6:
                    allocations.Add(await t.CreateAllocationAsync("X" + step, random.Next(1, 1000), random.Next(2) == 0 ? parent : null));
                    break;
                default:
                    var single = await t.Store.RecordUsageAsync(Admin, Record(UsageStatus.Confirmed, random.Next(2) == 0));
                    singles.Add(single.Event.Id);
                    break;
            }
        }
        var last = await t.Store.RecordUsageAsync(Admin, Record(UsageStatus.Confirmed, false));
        singles.Add(last.Event.Id);
        return singles;
    }
}
