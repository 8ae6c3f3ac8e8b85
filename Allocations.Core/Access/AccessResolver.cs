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

    /// <summary>The level <paramref name="actor"/> holds on <paramref name="allocation"/>.</summary>
    internal static AccessLevel LevelOn(IStorageSession session, Principal actor, AllocationRow allocation) =>
        IsOrgAdmin(session, actor, allocation.OrgId) ? AccessLevel.Admin : AccessLevel.None;

    /// <summary>Checks an organization-scoped operation.</summary>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor lacks the requirement.</exception>
    internal static OrganizationRow RequireOrganization(IStorageSession session, Principal actor, OrganizationId org, Operation operation)
    {
        CheckActor(actor);
        var row = session.GetOrganization(org.Value);
        var requirement = Permissions.For(operation);
        var allowed = requirement.Scope switch
        {
            RequirementScope.System => actor.IsSystem,
            _ => IsOrgAdmin(session, actor, org.Value),
        };
        if (row is null)
        {
            throw new NotFoundException("organization", org.ToString());
        }
        if (!allowed)
        {
            throw new AccessDeniedException(actor.Id, Permissions.Describe(operation), org.ToString(), requirement.Scope == RequirementScope.System ? "the system actor" : "organization admin");
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
            throw new NotFoundException("allocation", id.ToString());
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
            throw new NotFoundException("allocation", new AllocationId(row.Id).ToString());
        }
        var allowed = requirement.Scope switch
        {
            RequirementScope.System => actor.IsSystem,
            RequirementScope.OrganizationAdmin => IsOrgAdmin(session, actor, row.OrgId),
            _ => level >= requirement.Level,
        };
        if (!allowed)
        {
            var needed = requirement.Scope == RequirementScope.Allocation ? requirement.Level.ToString() : "organization admin";
            throw new AccessDeniedException(actor.Id, Permissions.Describe(operation), $"allocation '{row.Name}'", needed);
        }
    }
}
