using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using FsCheck.Xunit;

namespace Allocations.Tests.Access;

/// <summary>The access rule answers the same whichever way it is asked: one allocation at a time, a whole listing, or
/// an organization-scoped check, and always as the written rule says.</summary>
public class AccessRuleProperties
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Principal Ada = Principal.User("ada");
    private static readonly string[] Groups = ["g1", "g2", "g3"];

    [Property(MaxTest = 25)]
    public bool AnyGrantsAndMemberships_GiveTheSameLevels_ByListingOneByOneAndByTheRule(byte[] steps) =>
        RunAsync(steps).GetAwaiter().GetResult();

    private static async Task<bool> RunAsync(byte[] steps)
    {
        using var t = await TestStore.CreateAsync();
        var s = t.Store;
        var parent = await t.CreateAllocationAsync("P", 100m);
        var child = await t.CreateAllocationAsync("C", 50m, parent);
        var other = await t.CreateAllocationAsync("O", 10m);
        Allocation[] allocations = [parent, child, other];
        foreach (var g in Groups)
        {
            await s.CreateGroupAsync(Admin, t.Organization, g);
        }
        // The model: Ada's groups, and the level each grantee (a group, or null for organization-wide) holds where.
        var memberOf = new HashSet<string>();
        var grants = new Dictionary<(AllocationId, string?), AccessLevel>();
        foreach (var step in steps.Take(24))
        {
            var allocation = allocations[step % 3];
            var grantee = (step / 3 % 4) is var g && g == 3 ? null : Groups[g];
            switch (step / 12 % 4)
            {
                case 0:
                    var level = (AccessLevel)(1 + (step % 3));
                    await s.GrantAsync(Admin, allocation.Id, grantee is null ? Grantee.Organization : Grantee.Group(grantee), level);
                    grants[(allocation.Id, grantee)] = level;
                    break;
                case 1:
                    await s.RevokeAsync(Admin, allocation.Id, grantee is null ? Grantee.Organization : Grantee.Group(grantee));
                    grants.Remove((allocation.Id, grantee));
                    break;
                case 2:
                    await s.AddGroupMemberAsync(Admin, t.Organization, Groups[step % 3], Ada.Id);
                    memberOf.Add(Groups[step % 3]);
                    break;
                default:
                    await s.RemoveGroupMemberAsync(Admin, t.Organization, Groups[step % 3], Ada.Id);
                    memberOf.Remove(Groups[step % 3]);
                    break;
            }
        }

        AccessLevel Expected(Allocation a)
        {
            var level = AccessLevel.None;
            foreach (var ((on, grantee), granted) in grants)
            {
                var applies = grantee is null ? memberOf.Count > 0 : memberOf.Contains(grantee);
                if (applies && (on == a.Id || on == a.ParentId) && granted > level)
                {
                    level = granted;
                }
            }
            return level;
        }

        var listed = (await s.ListAllocationsAsync(Ada, t.Organization)).Select(a => a.Id).ToHashSet();
        foreach (var a in allocations)
        {
            var visible = await Succeeds(() => s.GetAllocationAsync(Ada, a.Id));
            var expected = Expected(a) >= AccessLevel.Read;
            if (visible != expected || listed.Contains(a.Id) != expected)
            {
                return false;
            }
            var canAdmin = await Succeeds(() => s.ListGrantsAsync(Ada, a.Id));
            if (canAdmin != (Expected(a) == AccessLevel.Admin))
            {
                return false;
            }
        }
        // The catalogue is open to anyone holding a grant that applies to them on some allocation of the organization.
        var readsCatalogue = await Succeeds(() => s.ListUnitsAsync(Ada, t.Organization));
        var holdsAGrant = grants.Any(g => g.Key.Item2 is null ? memberOf.Count > 0 : memberOf.Contains(g.Key.Item2));
        return readsCatalogue == holdsAGrant;
    }

    private static async Task<bool> Succeeds<T>(Func<Task<T>> call)
    {
        try
        {
            await call();
            return true;
        }
        catch (Exception ex) when (ex is NotFoundException or AccessDeniedException)
        {
            return false;
        }
    }
}
