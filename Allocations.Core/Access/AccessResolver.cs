using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;

namespace Allocations.Access;

/// <summary>Decides, inside a transaction, what a principal may do; every facade call goes through it before it
/// reads or writes anything else.</summary>
internal static class AccessResolver
{
    internal static void CheckActor(Principal actor)
    {
        if (!actor.IsValid)
        {
            throw new InvalidInputException("actor", null, "a principal is required (Principal.User(id) or Principal.System)");
        }
    }

    internal static bool IsOrgAdmin(IStorageSession session, Principal actor, long orgId) =>
        actor.IsSystem || session.IsOrgAdmin(orgId, actor.Id);

    /// <summary>The level <paramref name="actor"/> holds on <paramref name="allocation"/>: Admin for the system actor
    /// and organization admins; otherwise the highest level granted to one of the actor's groups or
    /// organization-wide, on the allocation or on its parent.</summary>
    internal static AccessLevel LevelOn(IStorageSession session, Principal actor, AllocationRow allocation) =>
        IsOrgAdmin(session, actor, allocation.OrgId)
            ? AccessLevel.Admin
            : (AccessLevel)session.GrantedLevel(allocation.OrgId, actor.Id, allocation.Id, allocation.ParentId);

    /// <summary>The levels <paramref name="actor"/> holds on the allocations of an organization, read once, for
    /// listings.</summary>
    internal static Func<AllocationRow, AccessLevel> Levels(IStorageSession session, Principal actor, long orgId)
    {
        if (IsOrgAdmin(session, actor, orgId))
        {
            return _ => AccessLevel.Admin;
        }
        var granted = session.GrantedLevels(orgId, actor.Id);
        return row =>
        {
            var own = granted.GetValueOrDefault(row.Id);
            var inherited = row.ParentId is { } parent ? granted.GetValueOrDefault(parent) : 0;
            return (AccessLevel)Math.Max(own, inherited);
        };
    }

    /// <summary>Whether the actor has anything to do with the organization: an admin, or a member of one of its
    /// groups. Anyone else is told the organization does not exist.</summary>
    private static bool KnowsOrganization(IStorageSession session, Principal actor, long orgId) =>
        IsOrgAdmin(session, actor, orgId) || session.IsOrgMember(orgId, actor.Id);

    /// <summary>Checks an organization-scoped operation.</summary>
    /// <exception cref="NotFoundException">The organization does not exist, or the actor is neither its admin nor a
    /// member of one of its groups (the same answer, so organization ids are no oracle either).</exception>
    /// <exception cref="AccessDeniedException">The actor lacks the requirement.</exception>
    internal static OrganizationRow RequireOrganization(IStorageSession session, Principal actor, OrganizationId org, Operation operation)
    {
        CheckActor(actor);
        var row = session.GetOrganization(org.Value);
        var requirement = Permissions.For(operation);
        if (row is null || !KnowsOrganization(session, actor, org.Value))
        {
            throw new NotFoundException(org);
        }
        var allowed = requirement.Scope switch
        {
            RequirementScope.System => actor.IsSystem,
            RequirementScope.Grantee => IsOrgAdmin(session, actor, org.Value) || session.GrantedLevels(org.Value, actor.Id).Count > 0,
            RequirementScope.Member => true,
            _ => IsOrgAdmin(session, actor, org.Value),
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
    internal static AllocationRow RequireAllocation(IStorageSession session, Principal actor, AllocationId id, Operation operation)
    {
        CheckActor(actor);
        var row = session.GetAllocation(id.Value);
        if (row is null)
        {
            throw new NotFoundException(id);
        }
        Require(session, actor, row, operation);
        return row;
    }

    internal static void Require(IStorageSession session, Principal actor, AllocationRow row, Operation operation)
    {
        var requirement = Permissions.For(operation);
        var level = LevelOn(session, actor, row);
        if (level < AccessLevel.Read)
        {
            throw new NotFoundException(new AllocationId(row.Id));
        }
        var allowed = requirement.Scope switch
        {
            RequirementScope.System => actor.IsSystem,
            RequirementScope.OrganizationAdmin => IsOrgAdmin(session, actor, row.OrgId),
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
