using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Utility;

namespace Allocations;

public sealed partial class AllocationStore
{
    /// <summary>Makes a user an admin of an organization.</summary>
    /// <param name="actor">An organization admin or the system actor.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="userId">The user to make admin.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the change is durable.</returns>
    /// <exception cref="InvalidInputException">The user id is invalid.</exception>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task AddOrganizationAdminAsync(Principal actor, OrganizationId organization, string userId, CancellationToken cancellationToken = default)
    {
        var user = Principal.User(userId);
        return tx.Write(actor, uow => AccessService.AddOrganizationAdmin(uow, organization, user), cancellationToken);
    }

    /// <summary>Removes a user's admin rights on an organization.</summary>
    /// <param name="actor">An organization admin or the system actor.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="userId">The admin to remove.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when the user was an admin and no longer is; false when they were not one (nothing written).</returns>
    /// <exception cref="InvalidInputException">The user id is invalid.</exception>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="ConflictException">The user is the last admin; an organization always keeps one.</exception>
    public Task<bool> RemoveOrganizationAdminAsync(Principal actor, OrganizationId organization, string userId, CancellationToken cancellationToken = default)
    {
        var user = Principal.User(userId);
        return tx.Write(actor, uow => AccessService.RemoveOrganizationAdmin(uow, organization, user), cancellationToken);
    }

    /// <summary>Lists the admins of an organization.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The admins' user ids, in ordinal order.</returns>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<IReadOnlyList<string>> ListOrganizationAdminsAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => AccessService.ListOrganizationAdmins(uow, organization), cancellationToken);

    /// <summary>Creates a group in an organization.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="name">1 to 200 printable characters, trimmed; unique in the organization ignoring case.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new, empty group.</returns>
    /// <exception cref="InvalidInputException">The name is invalid.</exception>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="ConflictException">A group with that name exists.</exception>
    public Task<GroupInfo> CreateGroupAsync(Principal actor, OrganizationId organization, string name, CancellationToken cancellationToken = default)
    {
        var trimmed = Preconditions.CheckName(name, "group");
        return tx.Write(actor, uow => AccessService.CreateGroup(uow, organization, trimmed), cancellationToken);
    }

    /// <summary>Deletes a group with its memberships and the grants made to it.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="name">The group.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How many grants were revoked with it.</returns>
    /// <exception cref="InvalidInputException">The name is invalid.</exception>
    /// <exception cref="NotFoundException">The organization or group does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<int> DeleteGroupAsync(Principal actor, OrganizationId organization, string name, CancellationToken cancellationToken = default)
    {
        var trimmed = Preconditions.CheckName(name, "group");
        return tx.Write(actor, uow => AccessService.DeleteGroup(uow, organization, trimmed), cancellationToken);
    }

    /// <summary>Adds a user to a group.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="group">The group.</param>
    /// <param name="userId">The user.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when added; false when already a member (nothing written).</returns>
    /// <exception cref="InvalidInputException">The group name or user id is invalid.</exception>
    /// <exception cref="NotFoundException">The organization or group does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<bool> AddGroupMemberAsync(Principal actor, OrganizationId organization, string group, string userId, CancellationToken cancellationToken = default) =>
        ChangeMembership(actor, organization, group, userId, add: true, cancellationToken);

    /// <summary>Removes a user from a group.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="group">The group.</param>
    /// <param name="userId">The user.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when removed; false when not a member (nothing written).</returns>
    /// <exception cref="InvalidInputException">The group name or user id is invalid.</exception>
    /// <exception cref="NotFoundException">The organization or group does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<bool> RemoveGroupMemberAsync(Principal actor, OrganizationId organization, string group, string userId, CancellationToken cancellationToken = default) =>
        ChangeMembership(actor, organization, group, userId, add: false, cancellationToken);

    private Task<bool> ChangeMembership(Principal actor, OrganizationId organization, string group, string userId, bool add, CancellationToken cancellationToken)
    {
        var name = Preconditions.CheckName(group, "group");
        var user = Principal.User(userId);
        return tx.Write(actor, uow => AccessService.ChangeMembership(uow, organization, name, user, add), cancellationToken);
    }

    /// <summary>Lists the groups of an organization with their members.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The groups, by name ignoring case.</returns>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<IReadOnlyList<GroupInfo>> ListGroupsAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => AccessService.ListGroups(uow, organization), cancellationToken);

    /// <summary>Grants a level on an allocation to a group or to the whole organization, or changes the level of the
    /// grant that grantee already holds there. The grant also holds on the allocation's children.</summary>
    /// <param name="actor">Admin of the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="grantee">A group of the allocation's organization, or <see cref="Grantee.Organization"/>.</param>
    /// <param name="level">Read, Use or Admin.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The grant in force.</returns>
    /// <exception cref="InvalidInputException">The grantee or level is invalid.</exception>
    /// <exception cref="NotFoundException">The allocation (or one the actor may not Read) or the group does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not Admin of the allocation.</exception>
    public Task<Grant> GrantAsync(Principal actor, AllocationId allocation, Grantee grantee, AccessLevel level, CancellationToken cancellationToken = default)
    {
        AccessService.CheckGrantee(grantee);
        Preconditions.CheckArgument(level is AccessLevel.Read or AccessLevel.Use or AccessLevel.Admin, "level", level.ToString(), "must be Read, Use or Admin (revoke a grant to remove it)");
        return tx.Write(actor, uow => AccessService.Grant(uow, allocation, grantee, level), cancellationToken);
    }

    /// <summary>Revokes the grant a group (or the organization) holds on an allocation.</summary>
    /// <remarks>Grants on the allocation's parent are not touched; revoke them on the parent.</remarks>
    /// <param name="actor">Admin of the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="grantee">The group, or <see cref="Grantee.Organization"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when a grant was revoked; false when the grantee held none on it (nothing written).</returns>
    /// <exception cref="InvalidInputException">The grantee is invalid.</exception>
    /// <exception cref="NotFoundException">The allocation (or one the actor may not Read) or the group does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not Admin of the allocation.</exception>
    public Task<bool> RevokeAsync(Principal actor, AllocationId allocation, Grantee grantee, CancellationToken cancellationToken = default)
    {
        AccessService.CheckGrantee(grantee);
        return tx.Write(actor, uow => AccessService.Revoke(uow, allocation, grantee), cancellationToken);
    }

    /// <summary>Lists the grants in force on an allocation: its own, then those inherited from its parent.</summary>
    /// <param name="actor">Admin of the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The grants.</returns>
    /// <exception cref="NotFoundException">The allocation does not exist, or the actor may not Read it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not Admin of the allocation.</exception>
    public Task<IReadOnlyList<Grant>> ListGrantsAsync(Principal actor, AllocationId allocation, CancellationToken cancellationToken = default) =>
        tx.Read(actor, uow => AccessService.ListGrants(uow, allocation), cancellationToken);
}
