using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;

namespace Allocations.Access;

/// <summary>The one place the access rule is computed, inside a transaction, for one principal: what it may see and
/// do. Storage hands over plain facts (admins, group memberships, grants); the rule that combines them is here.</summary>
/// <remarks>
/// <para>The rule: the system actor and an organization's admins hold Admin on every allocation of it. Anyone else
/// holds, on an allocation, the highest level granted on it or on its parent, either to one of the groups of the
/// organization they are a member of, or organization-wide (which applies to members of any of its groups).</para>
/// <para>Answers are remembered for the transaction (its unit of work), so a batch checks each allocation once.</para>
/// </remarks>
internal sealed class AccessRule
{
    private readonly IStorageSession session;
    private readonly Principal actor;
    private readonly Dictionary<long, bool> admin = [];
    private readonly Dictionary<long, IReadOnlyList<long>> groups = [];
    private readonly Dictionary<long, Dictionary<long, int>> granted = [];
    private readonly Dictionary<long, AccessLevel> levelOn = [];

    internal AccessRule(IStorageSession session, Principal actor)
    {
        this.session = session;
        this.actor = actor;
    }

    internal Principal Actor => actor;

    internal static void CheckActor(Principal actor)
    {
        if (!actor.IsValid)
        {
            throw new InvalidInputException("actor", null, "a principal is required (Principal.User(id) or Principal.System)");
        }
    }

    internal bool IsOrgAdmin(long orgId)
    {
        if (actor.IsSystem)
        {
            return true;
        }
        if (!admin.TryGetValue(orgId, out var isAdmin))
        {
            isAdmin = session.IsOrgAdmin(orgId, actor.Id);
            admin[orgId] = isAdmin;
        }
        return isAdmin;
    }

    private IReadOnlyList<long> Groups(long orgId)
    {
        if (!groups.TryGetValue(orgId, out var ids))
        {
            ids = session.ListUserGroupIds(orgId, actor.Id);
            groups[orgId] = ids;
        }
        return ids;
    }

    /// <summary>Whether a grant applies to the actor: held by one of its groups, or organization-wide while it is a
    /// member of any group of the organization.</summary>
    private static bool Applies(GrantFact grant, IReadOnlyList<long> memberOf) =>
        grant.GroupId is { } group ? memberOf.Contains(group) : memberOf.Count > 0;

    /// <summary>The highest level granted to the actor directly on each allocation of the organization that has one.</summary>
    private Dictionary<long, int> Granted(long orgId)
    {
        if (!granted.TryGetValue(orgId, out var levels))
        {
            var memberOf = Groups(orgId);
            levels = [];
            foreach (var grant in session.ListGrantsHeldBy(orgId, memberOf, organizationWide: memberOf.Count > 0))
            {
                if (Applies(grant, memberOf) && grant.Level > levels.GetValueOrDefault(grant.AllocationId))
                {
                    levels[grant.AllocationId] = grant.Level;
                }
            }
            granted[orgId] = levels;
        }
        return levels;
    }

    /// <summary>The level the actor holds on <paramref name="allocation"/>.</summary>
    internal AccessLevel LevelOn(AllocationRow allocation)
    {
        if (IsOrgAdmin(allocation.OrgId))
        {
            return AccessLevel.Admin;
        }
        if (granted.TryGetValue(allocation.OrgId, out var levels))
        {
            return Combine(levels, allocation);
        }
        if (levelOn.TryGetValue(allocation.Id, out var known))
        {
            return known;
        }
        var memberOf = Groups(allocation.OrgId);
        var level = 0;
        if (memberOf.Count > 0) // without a group, no grant applies
        {
            foreach (var grant in session.ListGrantsOn(allocation.ParentId is { } p ? [allocation.Id, p] : [allocation.Id]))
            {
                if (Applies(grant, memberOf))
                {
                    level = Math.Max(level, grant.Level);
                }
            }
        }
        levelOn[allocation.Id] = (AccessLevel)level;
        return (AccessLevel)level;
    }

    private static AccessLevel Combine(Dictionary<long, int> levels, AllocationRow row)
    {
        var own = levels.GetValueOrDefault(row.Id);
        var inherited = row.ParentId is { } parent ? levels.GetValueOrDefault(parent) : 0;
        return (AccessLevel)Math.Max(own, inherited);
    }

    /// <summary>The levels the actor holds on the allocations of an organization, read once, for listings.</summary>
    internal Func<AllocationRow, AccessLevel> Levels(long orgId)
    {
        if (IsOrgAdmin(orgId))
        {
            return _ => AccessLevel.Admin;
        }
        var levels = Granted(orgId);
        return row => Combine(levels, row);
    }

    /// <summary>Whether the actor has anything to do with the organization: an admin, or a member of one of its
    /// groups. Anyone else is told the organization does not exist.</summary>
    private bool KnowsOrganization(long orgId) => IsOrgAdmin(orgId) || Groups(orgId).Count > 0;

    /// <summary>Checks an organization-scoped operation.</summary>
    /// <exception cref="NotFoundException">The organization does not exist, or the actor is neither its admin nor a
    /// member of one of its groups (the same answer, so organization ids are no oracle either).</exception>
    /// <exception cref="AccessDeniedException">The actor lacks the requirement.</exception>
    internal OrganizationRow RequireOrganization(OrganizationId org, Operation operation)
    {
        CheckActor(actor);
        var row = session.GetOrganization(org.Value);
        var requirement = Permissions.For(operation);
        if (row is null || !KnowsOrganization(org.Value))
        {
            throw new NotFoundException(org);
        }
        var allowed = requirement.Scope switch
        {
            RequirementScope.System => actor.IsSystem,
            RequirementScope.Grantee => IsOrgAdmin(org.Value) || Granted(org.Value).Count > 0,
            RequirementScope.Member => true,
            _ => IsOrgAdmin(org.Value),
        };
        if (!allowed)
        {
            var needed = requirement.Scope switch
            {
                RequirementScope.System => AccessRole.SystemActor,
                RequirementScope.Grantee => AccessRole.OrganizationAdminOrGrantee,
                _ => AccessRole.OrganizationAdmin,
            };
            throw new AccessDeniedException(actor.Id, Permissions.Describe(operation), org.ToString(), null, needed, organization: org);
        }
        return row;
    }

    /// <summary>Loads an allocation and checks an operation on it. A caller who cannot Read it gets the same
    /// <see cref="NotFoundException"/> as for an allocation that does not exist.</summary>
    internal AllocationRow RequireAllocation(AllocationId id, Operation operation)
    {
        CheckActor(actor);
        var row = session.GetAllocation(id.Value) ?? throw new NotFoundException(id);
        Require(row, operation);
        return row;
    }

    internal void Require(AllocationRow row, Operation operation)
    {
        var requirement = Permissions.For(operation);
        var level = LevelOn(row);
        if (level < AccessLevel.Read)
        {
            throw new NotFoundException(new AllocationId(row.Id));
        }
        var allowed = requirement.Scope switch
        {
            RequirementScope.System => actor.IsSystem,
            RequirementScope.OrganizationAdmin => IsOrgAdmin(row.OrgId),
            RequirementScope.Grantee or RequirementScope.Member => level >= AccessLevel.Read,
            _ => level >= requirement.Level,
        };
        if (!allowed)
        {
            var allocation = new AllocationId(row.Id);
            var organization = new OrganizationId(row.OrgId);
            throw requirement.Scope == RequirementScope.Allocation
                ? new AccessDeniedException(actor.Id, Permissions.Describe(operation), $"allocation '{row.Name}'", requirement.Level, null, allocation, organization)
                : new AccessDeniedException(actor.Id, Permissions.Describe(operation), $"allocation '{row.Name}'", null, AccessRole.OrganizationAdmin, allocation, organization);
        }
    }
}
