using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Journal;
using Allocations.Storage;
using Allocations.Utility;

namespace Allocations;

public sealed partial class AllocationStore
{
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
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ManageOrganizationAdmins);
                var admins = session.ListOrgAdmins(organization.Value);
                if (!admins.Contains(user.Id, StringComparer.Ordinal))
                {
                    return false;
                }
                if (admins.Count == 1)
                {
                    throw new ConflictException($"{InvalidInputException.Display(user.Id)} is the last admin of {organization}; add another admin first", ["userId"]);
                }
                session.RemoveOrgAdmin(organization.Value, user.Id);
                new JournalWriter(session, actor, NowNs()).Append(organization.Value, null, "organization.admin.remove", "user:" + user.Id, "{\"admin\":true}", "{\"admin\":false}");
                return true;
            },
            cancellationToken);
    }

    /// <summary>Lists the admins of an organization.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The admins' user ids, in ordinal order.</returns>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<IReadOnlyList<string>> ListOrganizationAdminsAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        engine.ReadAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ReadGroups);
                return session.ListOrgAdmins(organization.Value);
            },
            cancellationToken);

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
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ManageGroups);
                var key = Preconditions.NameKey(trimmed);
                if (session.FindGroup(organization.Value, key) is not null)
                {
                    throw new ConflictException($"a group named {InvalidInputException.Display(trimmed)} already exists in {organization}", ["group"]);
                }
                var now = NowNs();
                session.InsertGroup(organization.Value, trimmed, key, now);
                var journal = new JournalWriter(session, actor, now);
                journal.Append(organization.Value, null, "group.create", "group:" + trimmed, null, journal.Object(("name", trimmed)));
                return new GroupInfo(trimmed, []);
            },
            cancellationToken);
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
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ManageGroups);
                var group = session.FindGroup(organization.Value, Preconditions.NameKey(trimmed)) ?? throw new NotFoundException("group", trimmed);
                var members = session.ListGroupMembers(organization.Value).Where(m => m.GroupId == group.Id).Select(m => m.UserId).ToList();
                var grants = session.ListGrantsOfGroup(group.Id);
                var journal = new JournalWriter(session, actor, NowNs());
                foreach (var grant in grants)
                {
                    journal.Append(
                        organization.Value,
                        grant.AllocationId,
                        "grant.revoke",
                        new AllocationId(grant.AllocationId) + " group:" + group.Name,
                        journal.Object(("grantee", "group:" + group.Name), ("level", ((AccessLevel)grant.Level).ToString())),
                        journal.Object(("cause", "group.delete")));
                }
                session.DeleteGroup(group.Id);
                journal.Append(organization.Value, null, "group.delete", "group:" + group.Name, journal.Object(("name", group.Name), ("members", members)), null);
                return grants.Count;
            },
            cancellationToken);
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
        return engine.WriteAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ManageGroups);
                var row = session.FindGroup(organization.Value, Preconditions.NameKey(name)) ?? throw new NotFoundException("group", name);
                var changed = add ? session.AddGroupMember(row.Id, user.Id) : session.RemoveGroupMember(row.Id, user.Id);
                if (changed)
                {
                    var journal = new JournalWriter(session, actor, NowNs());
                    var member = journal.Object(("group", row.Name), ("user", user.Id));
                    journal.Append(organization.Value, null, add ? "group.member.add" : "group.member.remove", "group:" + row.Name, add ? null : member, add ? member : null);
                }
                return changed;
            },
            cancellationToken);
    }

    /// <summary>Lists the groups of an organization with their members.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The groups, by name ignoring case.</returns>
    /// <exception cref="NotFoundException">The organization does not exist or the actor has nothing to do with it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<IReadOnlyList<GroupInfo>> ListGroupsAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        engine.ReadAsync<IReadOnlyList<GroupInfo>>(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.ReadGroups);
                var members = session.ListGroupMembers(organization.Value).ToLookup(m => m.GroupId, m => m.UserId);
                return session.ListGroups(organization.Value).Select(g => new GroupInfo(g.Name, members[g.Id].ToList())).ToList();
            },
            cancellationToken);

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
        CheckGrantee(grantee);
        Preconditions.CheckArgument(level is AccessLevel.Read or AccessLevel.Use or AccessLevel.Admin, "level", level.ToString(), "must be Read, Use or Admin (revoke a grant to remove it)");
        return engine.WriteAsync(
            session =>
            {
                var row = AccessResolver.RequireAllocation(session, actor, allocation, Operation.ManageGrants);
                var (groupId, label) = ResolveGrantee(session, row.OrgId, grantee);
                var existing = session.FindGrant(row.Id, groupId);
                if (existing is not null && existing.Level == (int)level)
                {
                    return ToGrant(existing, inherited: false);
                }
                var now = NowNs();
                if (existing is null)
                {
                    session.InsertGrant(row.Id, groupId, (int)level, now, actor.Id);
                }
                else
                {
                    session.UpdateGrant(existing.Id, (int)level, now, actor.Id);
                }
                var journal = new JournalWriter(session, actor, now);
                journal.Append(
                    row.OrgId,
                    row.Id,
                    "grant.set",
                    allocation + " " + label,
                    existing is null ? null : journal.Object(("grantee", label), ("level", ((AccessLevel)existing.Level).ToString())),
                    journal.Object(("grantee", label), ("level", level.ToString())));
                return ToGrant(session.FindGrant(row.Id, groupId)!, inherited: false);
            },
            cancellationToken);
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
        CheckGrantee(grantee);
        return engine.WriteAsync(
            session =>
            {
                var row = AccessResolver.RequireAllocation(session, actor, allocation, Operation.ManageGrants);
                var (groupId, label) = ResolveGrantee(session, row.OrgId, grantee);
                var existing = session.FindGrant(row.Id, groupId);
                if (existing is null)
                {
                    return false;
                }
                session.DeleteGrant(existing.Id);
                var journal = new JournalWriter(session, actor, NowNs());
                journal.Append(
                    row.OrgId,
                    row.Id,
                    "grant.revoke",
                    allocation + " " + label,
                    journal.Object(("grantee", label), ("level", ((AccessLevel)existing.Level).ToString())),
                    null);
                return true;
            },
            cancellationToken);
    }

    /// <summary>Lists the grants in force on an allocation: its own, then those inherited from its parent.</summary>
    /// <param name="actor">Admin of the allocation.</param>
    /// <param name="allocation">The allocation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The grants.</returns>
    /// <exception cref="NotFoundException">The allocation does not exist, or the actor may not Read it.</exception>
    /// <exception cref="AccessDeniedException">The actor is not Admin of the allocation.</exception>
    public Task<IReadOnlyList<Grant>> ListGrantsAsync(Principal actor, AllocationId allocation, CancellationToken cancellationToken = default) =>
        engine.ReadAsync<IReadOnlyList<Grant>>(
            session =>
            {
                var row = AccessResolver.RequireAllocation(session, actor, allocation, Operation.ReadGrants);
                var grants = session.ListGrants(row.Id).Select(g => ToGrant(g, inherited: false)).ToList();
                if (row.ParentId is { } parent)
                {
                    grants.AddRange(session.ListGrants(parent).Select(g => ToGrant(g, inherited: true)));
                }
                return grants;
            },
            cancellationToken);

    private static void CheckGrantee(Grantee grantee)
    {
        if (!grantee.IsValid)
        {
            throw new InvalidInputException("grantee", null, "a grantee is required (Grantee.Group(name) or Grantee.Organization)");
        }
    }

    private static (long? GroupId, string Label) ResolveGrantee(IStorageSession session, long orgId, Grantee grantee)
    {
        if (grantee.IsOrganization)
        {
            return (null, "organization");
        }
        var group = session.FindGroup(orgId, Preconditions.NameKey(grantee.GroupName!)) ?? throw new NotFoundException("group", grantee.GroupName!);
        return (group.Id, "group:" + group.Name);
    }

    private static Grant ToGrant(GrantRow row, bool inherited) => new(
        new AllocationId(row.AllocationId),
        row.GroupName is { } name ? Grantee.Group(name) : Grantee.Organization,
        (AccessLevel)row.Level,
        inherited,
        InstantCodec.FromNs(row.GrantedNs),
        row.GrantedBy);
}
