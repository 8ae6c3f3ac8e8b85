namespace Allocations.Access;

/// <summary>Every operation of the facade, by what it needs.</summary>
internal enum Operation
{
    CreateOrganization,
    ManageOrganizationAdmins,
    ManageCatalogue,
    ReadCatalogue,
    CreateTopLevelAllocation,
    CreateChildAllocation,
    DeleteAllocation,
    ReadAllocation,

    /// <summary>Read an allocation's figures as of a past instant (the table as of an instant filters by Read too).</summary>
    ReadAllocationAsOf,
    ChangeTotal,

    /// <summary>Set or change an allocation's period.</summary>
    ChangePeriod,

    /// <summary>Move budget out of an allocation (the source of a transfer).</summary>
    TransferOut,

    /// <summary>Move budget into an allocation (the target of a transfer).</summary>
    TransferIn,

    /// <summary>Transfer more than the source has free, taking its total below its Used plus Estimated.</summary>
    ForceTransfer,
    RecordUsage,
    Reserve,
    CheckFit,
    Confirm,
    ReleaseHold,

    /// <summary>Confirm an Estimated hold another principal or the importer recorded.</summary>
    ConfirmOthersHold,

    /// <summary>Release an Estimated hold another principal or the importer recorded.</summary>
    ReleaseOthersHold,

    /// <summary>Change the expiry of one's own hold.</summary>
    ExtendHold,

    /// <summary>Change the expiry of a hold another principal or the importer recorded.</summary>
    ExtendOthersHold,

    /// <summary>Delete, for good, holds that have expired (and so no longer count against anything).</summary>
    SweepExpiredHolds,

    /// <summary>Delete an Estimated event another principal or the importer recorded.</summary>
    DeleteOthersEstimatedEvent,
    DeleteEstimatedEvent,
    DeleteConfirmedEvent,
    ReadEvents,
    Verify,
    ImportUsage,
    ManageGroups,
    ReadGroups,
    ManageGrants,
    ReadGrants,
    ReadAllocationJournal,
    ReadOrganizationJournal,
    VerifyJournal,

    /// <summary>Replay the journal and check today's state against it.</summary>
    VerifyAgainstJournal,

    /// <summary>Read an organization's usage report (the allocations in it are still filtered by Read).</summary>
    ReadUsageReport,

    /// <summary>Set or clear an allocation's alert thresholds.</summary>
    ManageAlertThresholds,

    /// <summary>Read an allocation's alert thresholds.</summary>
    ReadAlertThresholds,

    /// <summary>Read an organization's alerts (each still filtered by Read on its allocation).</summary>
    ReadAlerts,

    /// <summary>Record the period alerts due now (periods ending soon, periods ended with budget unspent).</summary>
    SweepPeriodAlerts,
    /// <summary>Preview or apply a re-rate of a SKU's stored events under today's rules (it lists events of every
    /// allocation of the organization).</summary>
    Rerate,
}

/// <summary>What an operation needs: the system actor, an organization admin, or a level on the allocation.</summary>
/// <param name="Scope">Who can satisfy it.</param>
/// <param name="Level">For <see cref="RequirementScope.Allocation"/>, the level needed on the target allocation.</param>
internal readonly record struct Requirement(RequirementScope Scope, AccessLevel Level = AccessLevel.None);

internal enum RequirementScope
{
    System,
    OrganizationAdmin,
    Allocation,

    /// <summary>An organization admin, or anyone holding a grant (any level) on some allocation of the organization.</summary>
    Grantee,

    /// <summary>Anyone the organization is not hidden from: an organization admin or a member of one of its groups.</summary>
    Member,
}

/// <summary>The one table of who may do what (documented in docs/access-and-journal.md). The system actor satisfies
/// every row; an organization admin every row but <see cref="RequirementScope.System"/>; everyone else only allocation
/// rows, through the level they hold on the allocation (the highest of their groups' grants and the organization-wide
/// grant, on the allocation or its parent), and <see cref="RequirementScope.Grantee"/> rows when they hold any grant at
/// all.</summary>
internal static class Permissions
{
    private static readonly Dictionary<Operation, Requirement> Table = new()
    {
        [Operation.CreateOrganization] = new(RequirementScope.System),
        [Operation.ManageOrganizationAdmins] = new(RequirementScope.OrganizationAdmin),
        [Operation.ManageCatalogue] = new(RequirementScope.OrganizationAdmin),
        [Operation.ReadCatalogue] = new(RequirementScope.Grantee),
        [Operation.CreateTopLevelAllocation] = new(RequirementScope.OrganizationAdmin),
        [Operation.DeleteAllocation] = new(RequirementScope.OrganizationAdmin),
        [Operation.Verify] = new(RequirementScope.OrganizationAdmin),
        [Operation.ImportUsage] = new(RequirementScope.OrganizationAdmin),
        [Operation.CreateChildAllocation] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.ReadAllocation] = new(RequirementScope.Allocation, AccessLevel.Read),
        [Operation.ReadAllocationAsOf] = new(RequirementScope.Allocation, AccessLevel.Read),
        [Operation.ReadEvents] = new(RequirementScope.Allocation, AccessLevel.Read),
        [Operation.CheckFit] = new(RequirementScope.Allocation, AccessLevel.Read),
        [Operation.ChangeTotal] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.ChangePeriod] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.TransferOut] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.TransferIn] = new(RequirementScope.Allocation, AccessLevel.Use),
        [Operation.ForceTransfer] = new(RequirementScope.OrganizationAdmin),
        [Operation.RecordUsage] = new(RequirementScope.Allocation, AccessLevel.Use),
        [Operation.Reserve] = new(RequirementScope.Allocation, AccessLevel.Use),
        [Operation.Confirm] = new(RequirementScope.Allocation, AccessLevel.Use),
        [Operation.ReleaseHold] = new(RequirementScope.Allocation, AccessLevel.Use),
        [Operation.ConfirmOthersHold] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.ReleaseOthersHold] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.ExtendHold] = new(RequirementScope.Allocation, AccessLevel.Use),
        [Operation.ExtendOthersHold] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.SweepExpiredHolds] = new(RequirementScope.Allocation, AccessLevel.Use),
        [Operation.DeleteOthersEstimatedEvent] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.DeleteEstimatedEvent] = new(RequirementScope.Allocation, AccessLevel.Use),
        [Operation.DeleteConfirmedEvent] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.ManageGroups] = new(RequirementScope.OrganizationAdmin),
        [Operation.ReadGroups] = new(RequirementScope.OrganizationAdmin),
        [Operation.ManageGrants] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.ReadGrants] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.ReadAllocationJournal] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.ReadOrganizationJournal] = new(RequirementScope.OrganizationAdmin),
        [Operation.VerifyJournal] = new(RequirementScope.OrganizationAdmin),
        [Operation.VerifyAgainstJournal] = new(RequirementScope.OrganizationAdmin),
        [Operation.ReadUsageReport] = new(RequirementScope.Member),
        [Operation.ManageAlertThresholds] = new(RequirementScope.Allocation, AccessLevel.Admin),
        [Operation.ReadAlertThresholds] = new(RequirementScope.Allocation, AccessLevel.Read),
        [Operation.ReadAlerts] = new(RequirementScope.Member),
        [Operation.SweepPeriodAlerts] = new(RequirementScope.OrganizationAdmin),
        [Operation.Rerate] = new(RequirementScope.OrganizationAdmin),
    };

    internal static Requirement For(Operation operation) => Table[operation];

    internal static IReadOnlyDictionary<Operation, Requirement> All => Table;

    internal static string Describe(Operation operation) => operation switch
    {
        Operation.CreateOrganization => "create an organization",
        Operation.ManageOrganizationAdmins => "manage organization admins",
        Operation.ManageCatalogue => "change units, SKUs or rates",
        Operation.ReadCatalogue => "read units, SKUs or rates",
        Operation.CreateTopLevelAllocation => "create a top-level allocation",
        Operation.CreateChildAllocation => "create a child allocation",
        Operation.DeleteAllocation => "delete an allocation",
        Operation.ReadAllocation => "read the allocation",
        Operation.ReadAllocationAsOf => "read the allocation's figures as of an instant",
        Operation.ChangeTotal => "change the total",
        Operation.TransferOut => "transfer budget out of the allocation",
        Operation.TransferIn => "transfer budget into the allocation",
        Operation.ForceTransfer => "force a transfer past what the source has used and holds",
        Operation.RecordUsage => "record usage",
        Operation.Reserve => "reserve",
        Operation.CheckFit => "check a fit",
        Operation.Confirm => "confirm usage",
        Operation.ReleaseHold => "release a hold",
        Operation.ConfirmOthersHold => "confirm a hold another principal or the importer recorded",
        Operation.ReleaseOthersHold => "release a hold another principal or the importer recorded",
        Operation.ExtendHold => "extend a hold",
        Operation.ExtendOthersHold => "extend a hold another principal or the importer recorded",
        Operation.SweepExpiredHolds => "release expired holds",
        Operation.DeleteOthersEstimatedEvent => "delete an Estimated event another principal or the importer recorded",
        Operation.DeleteEstimatedEvent => "delete an Estimated event",
        Operation.DeleteConfirmedEvent => "delete a Confirmed event",
        Operation.ReadEvents => "read usage events",
        Operation.Verify => "verify figures",
        Operation.ImportUsage => "import usage (Slurm sync)",
        Operation.ManageGroups => "manage groups or their members",
        Operation.ReadGroups => "read groups or organization admins",
        Operation.ManageGrants => "grant, change or revoke access",
        Operation.ReadGrants => "read the grants",
        Operation.ReadAllocationJournal => "read the journal of the allocation",
        Operation.ReadOrganizationJournal => "read the organization's journal",
        Operation.VerifyJournal => "verify the journal",
        Operation.VerifyAgainstJournal => "verify the state against the journal",
        Operation.ReadUsageReport => "read the usage report",
        Operation.ManageAlertThresholds => "set or clear alert thresholds",
        Operation.ReadAlertThresholds => "read alert thresholds",
        Operation.ReadAlerts => "read alerts",
        Operation.SweepPeriodAlerts => "record period alerts",
        Operation.Rerate => "re-rate usage",
        _ => operation.ToString(),
    };
}
