using Allocations.Access;
using Allocations.Domain;
using Allocations.Tests.Support;
using FsCheck;
using FsCheck.Xunit;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace Allocations.Tests.Access;

public class JournalChainProperties
{
    private static readonly Principal Admin = TestStore.Admin;

    /// <summary>After any sequence of changes the chain holds; editing any one entry afterwards is reported at exactly
    /// that entry.</summary>
    [Property(MaxTest = 20)]
    public bool AnySequenceOfChanges_KeepsTheChain_AndAnyEditIsFoundWhereItWasMade(byte[] steps, PositiveInt pick) =>
        RunAsync(steps, pick.Get).GetAwaiter().GetResult();

    private static async Task<bool> RunAsync(byte[] steps, int pick)
    {
        using var t = await TestStore.CreateAsync();
        var s = t.Store;
        var parent = await t.CreateAllocationAsync("P", 100m);
        var child = await t.CreateAllocationAsync("C", 50m, parent);
        await s.CreateGroupAsync(Admin, t.Organization, "g");
        var events = new List<UsageEventId>();
        var start = TestStore.November15 - Duration.FromHours(1);
        foreach (var step in steps.Take(30))
        {
            var target = step % 2 == 0 ? parent : child;
            switch (step % 7)
            {
                case 0:
                    events.Add((await s.RecordUsageAsync(Admin, TestStore.Cpu1(target, step % 5, start, TestStore.November15))).Event.Id);
                    break;
                case 1:
                    events.Add((await s.RecordUsageAsync(Admin, TestStore.Cpu1(target, step % 4, start, TestStore.November15, UsageStatus.Estimated, "k" + (step % 3)))).Event.Id);
                    break;
                case 2:
                    if ((await s.ReserveAsync(Admin, TestStore.Cpu1(target, 1m, start, TestStore.November15, UsageStatus.Estimated))).Event is { } hold)
                    {
                        events.Add(hold.Id);
                    }
                    break;
                case 3:
                    await s.ChangeTotalAsync(Admin, target.Id, Amount.FromDecimal(step), "step " + step);
                    break;
                case 4:
                    await s.GrantAsync(Admin, target.Id, step % 3 == 0 ? Grantee.Organization : Grantee.Group("g"), (AccessLevel)(1 + (step % 3)));
                    break;
                case 5:
                    await s.RevokeAsync(Admin, target.Id, Grantee.Group("g"));
                    break;
                default:
                    if (events.Count > 0)
                    {
                        var id = events[step % events.Count];
                        events.RemoveAll(e => e == id);
                        try
                        {
                            await s.DeleteEventAsync(Admin, id);
                        }
                        catch (Exceptions.NotFoundException)
                        {
                            // A keyed event replaced in place shares its id with the earlier one already deleted.
                        }
                    }
                    break;
            }
            t.Clock.Advance(Duration.FromSeconds(step));
        }
        if (!(await s.VerifyJournalAsync(Admin, t.Organization)).IsIntact)
        {
            return false;
        }
        var entries = await s.GetOrganizationJournalAsync(Admin, t.Organization, 0, 10_000);
        var victim = entries[pick % entries.Count];
        var builder = new SqliteConnectionStringBuilder { DataSource = t.Path, Pooling = false };
        using (var connection = new SqliteConnection(builder.ToString()))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE journal SET target = target || ' ' WHERE id = $id";
            command.Parameters.AddWithValue("$id", victim.Sequence);
            command.ExecuteNonQuery();
        }
        return (await s.VerifyJournalAsync(Admin, t.Organization)).FirstBrokenSequence == victim.Sequence;
    }
}
