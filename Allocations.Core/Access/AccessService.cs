using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;
using Allocations.Utility;

namespace Allocations.Access;

/// <summary>Organization admins, groups, memberships and grants: checks, changes and journal entries, inside the
/// caller's unit of work.</summary>
internal static class AccessService
{
    internal static int AddOrganizationAdmin(UnitOfWork uow, OrganizationId organization, Principal user)
    {
        uow.Access.RequireOrganization(organization, Operation.ManageOrganizationAdmins);
        if (!uow.Session.IsOrgAdmin(organization.Value, user.Id))
        {
            uow.Session.AddOrgAdmin(organization.Value, user.Id);
            uow.Journal.Append(organization.Value, null, "organization.admin.add", "user:" + user.Id, "{\"admin\":false}", "{\"admin\":true}");
        }
        return 0;
    }

    internal static bool RemoveOrganizationAdmin(UnitOfWork uow, OrganizationId organization, Principal user)
    {
        var session = uow.Session;
        uow.Access.RequireOrganization(organization, Operation.ManageOrganizationAdmins);
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
        uow.Journal.Append(organization.Value, null, "organization.admin.remove", "user:" + user.Id, "{\"admin\":true}", "{\"admin\":false}");
        return true;
    }

    internal static IReadOnlyList<string> ListOrganizationAdmins(UnitOfWork uow, OrganizationId organization)
    {
        uow.Access.RequireOrganization(organization, Operation.ReadGroups);
        return uow.Session.ListOrgAdmins(organization.Value);
    }

    internal static GroupInfo CreateGroup(UnitOfWork uow, OrganizationId organization, string name)
    {
        var session = uow.Session;
        uow.Access.RequireOrganization(organization, Operation.ManageGroups);
        var key = Preconditions.NameKey(name);
        if (session.FindGroup(organization.Value, key) is not null)
        {
            throw new ConflictException($"a group named {InvalidInputException.Display(name)} already exists in {organization}", ["group"]);
        }
        session.InsertGroup(organization.Value, name, key, uow.NowNs);
        var journal = uow.Journal;
        journal.Append(organization.Value, null, "group.create", "group:" + name, null, journal.Object(("name", name)));
        return new GroupInfo(name, []);
    }

    internal static int DeleteGroup(UnitOfWork uow, OrganizationId organization, string name)
    {
        var session = uow.Session;
        uow.Access.RequireOrganization(organization, Operation.ManageGroups);
        var group = session.FindGroup(organization.Value, Preconditions.NameKey(name)) ?? throw new NotFoundException("group", name);
        var members = session.ListGroupMembers(organization.Value).Where(m => m.GroupId == group.Id).Select(m => m.UserId).ToList();
        var grants = session.ListGrantsOfGroup(group.Id);
        var journal = uow.Journal;
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
    }

    internal static bool ChangeMembership(UnitOfWork uow, OrganizationId organization, string group, Principal user, bool add)
    {
        var session = uow.Session;
        uow.Access.RequireOrganization(organization, Operation.ManageGroups);
        var row = session.FindGroup(organization.Value, Preconditions.NameKey(group)) ?? throw new NotFoundException("group", group);
        var changed = add ? session.AddGroupMember(row.Id, user.Id) : session.RemoveGroupMember(row.Id, user.Id);
        if (changed)
        {
            var journal = uow.Journal;
            var member = journal.Object(("group", row.Name), ("user", user.Id));
            journal.Append(organization.Value, null, add ? "group.member.add" : "group.member.remove", "group:" + row.Name, add ? null : member, add ? member : null);
        }
        return changed;
    }

    internal static IReadOnlyList<GroupInfo> ListGroups(UnitOfWork uow, OrganizationId organization)
    {
        uow.Access.RequireOrganization(organization, Operation.ReadGroups);
        var members = uow.Session.ListGroupMembers(organization.Value).ToLookup(m => m.GroupId, m => m.UserId);
        return uow.Session.ListGroups(organization.Value).Select(g => new GroupInfo(g.Name, members[g.Id].ToList())).ToList();
    }

    internal static void CheckGrantee(Grantee grantee)
    {
        if (!grantee.IsValid)
        {
            throw new InvalidInputException("grantee", null, "a grantee is required (Grantee.Group(name) or Grantee.Organization)");
        }
    }

    internal static Grant Grant(UnitOfWork uow, AllocationId allocation, Grantee grantee, AccessLevel level)
    {
        var session = uow.Session;
        var row = uow.Access.RequireAllocation(allocation, Operation.ManageGrants);
        var (groupId, label) = ResolveGrantee(session, row.OrgId, grantee);
        var existing = session.FindGrant(row.Id, groupId);
        if (existing is not null && existing.Level == (int)level)
        {
            return RowMapping.ToGrant(existing, inherited: false);
        }
        var now = uow.NowNs;
        if (existing is null)
        {
            session.InsertGrant(row.Id, groupId, (int)level, now, uow.Actor.Id);
        }
        else
        {
            session.UpdateGrant(existing.Id, (int)level, now, uow.Actor.Id);
        }
        var journal = uow.Journal;
        journal.Append(
            row.OrgId,
            row.Id,
            "grant.set",
            allocation + " " + label,
            existing is null ? null : journal.Object(("grantee", label), ("level", ((AccessLevel)existing.Level).ToString())),
            journal.Object(("grantee", label), ("level", level.ToString())));
        return RowMapping.ToGrant(session.FindGrant(row.Id, groupId)!, inherited: false);
    }

    internal static bool Revoke(UnitOfWork uow, AllocationId allocation, Grantee grantee)
    {
        var session = uow.Session;
        var row = uow.Access.RequireAllocation(allocation, Operation.ManageGrants);
        var (groupId, label) = ResolveGrantee(session, row.OrgId, grantee);
        var existing = session.FindGrant(row.Id, groupId);
        if (existing is null)
        {
            return false;
        }
        session.DeleteGrant(existing.Id);
        var journal = uow.Journal;
        journal.Append(
            row.OrgId,
            row.Id,
            "grant.revoke",
            allocation + " " + label,
            journal.Object(("grantee", label), ("level", ((AccessLevel)existing.Level).ToString())),
            null);
        return true;
    }

    internal static IReadOnlyList<Grant> ListGrants(UnitOfWork uow, AllocationId allocation)
    {
        var row = uow.Access.RequireAllocation(allocation, Operation.ReadGrants);
        var grants = uow.Session.ListGrants(row.Id).Select(g => RowMapping.ToGrant(g, inherited: false)).ToList();
        if (row.ParentId is { } parent)
        {
            grants.AddRange(uow.Session.ListGrants(parent).Select(g => RowMapping.ToGrant(g, inherited: true)));
        }
        return grants;
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
}
