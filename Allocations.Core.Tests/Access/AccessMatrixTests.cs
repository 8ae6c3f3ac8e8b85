using System.Reflection;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Access;

/// <summary>What an operation needs, written here from the documented permission table
/// (docs/access-and-journal.md), independently of the library's own table in <c>Access/Permissions.cs</c>.</summary>
public enum Need
{
    /// <summary>Only the system actor.</summary>
    System,

    /// <summary>An organization admin (or the system actor).</summary>
    OrgAdmin,

    /// <summary>An organization admin, or anyone holding a grant in the organization.</summary>
    Grantee,

    /// <summary>Read on the target allocation.</summary>
    Read,

    /// <summary>Use on the target allocation.</summary>
    Use,

    /// <summary>Admin on the target allocation.</summary>
    Admin,

    /// <summary>An organization admin, and the allocation must be visible (not found otherwise).</summary>
    OrgAdminOnAllocation,

    /// <summary>A listing: never refused; it shows only what the caller may Read.</summary>
    Listing,

    /// <summary>Anyone the organization is not hidden from (an organization admin or a member of one of its groups);
    /// an outsider is told it does not exist.</summary>
    Member,
}

/// <summary>One facade call of the matrix.</summary>
/// <param name="Method">The facade method's name.</param>
/// <param name="Need">What it needs.</param>
/// <param name="OnParent">Whether the target allocation is Parent (else Child).</param>
/// <param name="ReadOnly">Whether an allowed call must leave the database unchanged too.</param>
/// <param name="Exercises">The operations of the permission table it goes through.</param>
/// <param name="Run">The call.</param>
/// <param name="Expect">For a call that needs a level on two allocations (a transfer), the outcome for a holder, computed
/// from both levels; <paramref name="Need"/> is then what the exercised row of the table needs on its own side.</param>
internal sealed record MatrixOp(string Method, Need Need, bool OnParent, bool ReadOnly, Operation[] Exercises, Func<AllocationStore, Principal, MatrixContext, Task<object?>> Run, Func<Holder, Type?>? Expect = null)
{
    public override string ToString() => Method + (Exercises.Length == 1 ? $"[{Exercises[0]}]" : string.Empty);
}

public sealed class AccessMatrixTests : IClassFixture<AccessMatrixFixture>
{
    private static readonly Instant Start = TestStore.November15 - Duration.FromHours(1);

    private readonly AccessMatrixFixture fixture;

    public AccessMatrixTests(AccessMatrixFixture fixture) => this.fixture = fixture;

    private static UsageRecord Cpu(MatrixContext c, string? key = null, UsageStatus status = UsageStatus.Confirmed) =>
        new(c.Child, TestStore.Cpu, Quantity.FromDecimal(1m), Start, TestStore.November15, status, key);

    private static MatrixOp Op(string method, Need need, Operation operation, Func<AllocationStore, Principal, MatrixContext, Task<object?>> run, bool readOnly = false, bool onParent = false) =>
        new(method, need, onParent, readOnly, [operation], run);

    private static async Task<object?> Done(Task task)
    {
        await task;
        return null;
    }

    /// <summary>Every facade call that takes an actor.</summary>
    internal static IReadOnlyList<MatrixOp> Operations { get; } =
    [
        // Organizations, admins and the catalogue
        Op("CreateOrganizationAsync", Need.System, Operation.CreateOrganization, async (s, a, c) => await s.CreateOrganizationAsync(a, "Second org", "someone")),
        Op("AddOrganizationAdminAsync", Need.OrgAdmin, Operation.ManageOrganizationAdmins, (s, a, c) => Done(s.AddOrganizationAdminAsync(a, c.Org, "new-admin"))),
        Op("RemoveOrganizationAdminAsync", Need.OrgAdmin, Operation.ManageOrganizationAdmins, async (s, a, c) => await s.RemoveOrganizationAdminAsync(a, c.Org, "admin2")),
        Op("ListOrganizationAdminsAsync", Need.OrgAdmin, Operation.ReadGroups, async (s, a, c) => await s.ListOrganizationAdminsAsync(a, c.Org), readOnly: true),
        Op("CreateUnitAsync", Need.OrgAdmin, Operation.ManageCatalogue, async (s, a, c) => await s.CreateUnitAsync(a, c.Org, new UnitCode("gpu-hours"), 2)),
        Op("ListUnitsAsync", Need.Grantee, Operation.ReadCatalogue, async (s, a, c) => await s.ListUnitsAsync(a, c.Org), readOnly: true),
        Op("CreateSkuAsync", Need.OrgAdmin, Operation.ManageCatalogue, async (s, a, c) => await s.CreateSkuAsync(a, c.Org, new SkuCode("DISK"), TestStore.CoreHours, RateBasis.PerHour)),
        Op("ListSkusAsync", Need.Grantee, Operation.ReadCatalogue, async (s, a, c) => await s.ListSkusAsync(a, c.Org), readOnly: true),
        Op("AddRateRuleAsync", Need.OrgAdmin, Operation.ManageCatalogue, async (s, a, c) => await s.AddRateRuleAsync(a, c.Org, new SkuCode("NEW_SKU"), TestStore.November1, null, Rate.FromDecimal(3m))),
        Op("ChangeRateAsync", Need.OrgAdmin, Operation.ManageCatalogue, async (s, a, c) => await s.ChangeRateAsync(a, c.Org, TestStore.Cpu, Instant.FromUtc(2026, 12, 1, 0, 0), Rate.FromDecimal(3m))),
        Op("GetRateRulesAsync", Need.Grantee, Operation.ReadCatalogue, async (s, a, c) => await s.GetRateRulesAsync(a, c.Org, TestStore.Cpu), readOnly: true),
        Op("AddUsdPriceAsync", Need.OrgAdmin, Operation.ManageCatalogue, async (s, a, c) => await s.AddUsdPriceAsync(a, c.Org, TestStore.CoreHours, TestStore.November1, null, Rate.FromDecimal(0.05m))),
        Op("GetUsdPricesAsync", Need.Grantee, Operation.ReadCatalogue, async (s, a, c) => await s.GetUsdPricesAsync(a, c.Org, TestStore.CoreHours), readOnly: true),
        Op("CorrectRateAsync", Need.OrgAdmin, Operation.ManageCatalogue, async (s, a, c) => await s.CorrectRateAsync(a, c.Org, TestStore.Cpu, TestStore.November1, TestStore.November15, Rate.FromDecimal(3m), "the rate was wrong")),
        Op("PreviewRerateAsync", Need.OrgAdmin, Operation.Rerate, async (s, a, c) => await s.PreviewRerateAsync(a, c.Org, TestStore.Cpu, RerateMonth), readOnly: true),
        Op("RerateAsync", Need.OrgAdmin, Operation.Rerate, async (s, a, c) => await s.RerateAsync(a, await s.PreviewRerateAsync(TestStore.Admin, c.Org, TestStore.Cpu, RerateMonth))),

        // Allocations
        Op("CreateAllocationAsync", Need.OrgAdmin, Operation.CreateTopLevelAllocation, async (s, a, c) => await s.CreateAllocationAsync(a, c.Org, new NewAllocation("Top", TestStore.CoreHours, Amount.FromDecimal(10m)))),
        Op("CreateAllocationAsync", Need.Admin, Operation.CreateChildAllocation, async (s, a, c) => await s.CreateAllocationAsync(a, c.Org, new NewAllocation("Sibling", TestStore.CoreHours, Amount.FromDecimal(10m), c.Parent)), onParent: true),
        Op("GetAllocationAsync", Need.Read, Operation.ReadAllocation, async (s, a, c) => await s.GetAllocationAsync(a, c.Child), readOnly: true),
        Op("GetAllocationAsOfAsync", Need.Read, Operation.ReadAllocationAsOf, async (s, a, c) => await s.GetAllocationAsOfAsync(a, c.Child, AccessMatrixFixture.Now), readOnly: true),
        Op("ListAllocationsAsync", Need.Listing, Operation.ReadAllocation, async (s, a, c) => await s.ListAllocationsAsync(a, c.Org), readOnly: true),
        Op("ChangeTotalAsync", Need.Admin, Operation.ChangeTotal, async (s, a, c) => await s.ChangeTotalAsync(a, c.Child, Amount.FromDecimal(600m), "top-up")),
        Op("SetPeriodAsync", Need.Admin, Operation.ChangePeriod, async (s, a, c) => await s.SetPeriodAsync(a, c.Child, TestStore.November1, Instant.FromUtc(2027, 1, 1, 0, 0))),
        new("TransferAsync", Need.Admin, false, false, [Operation.TransferOut], async (s, a, c) => await s.TransferAsync(a, c.Child, c.Parent, Amount.FromDecimal(1m), "to the pool"), h => TwoSided(h, sourceOnParent: false, AccessLevel.Admin, AccessLevel.Use, force: false)),
        new("TransferAsync", Need.Use, false, false, [Operation.TransferIn], async (s, a, c) => await s.TransferAsync(a, c.Parent, c.Child, Amount.FromDecimal(1m), "from the pool"), h => TwoSided(h, sourceOnParent: true, AccessLevel.Admin, AccessLevel.Use, force: false)),
        new("TransferAsync", Need.OrgAdmin, false, false, [Operation.ForceTransfer], async (s, a, c) => await s.TransferAsync(a, c.Child, c.Parent, Amount.FromDecimal(500m), "all of it", force: true), h => TwoSided(h, sourceOnParent: false, AccessLevel.Admin, AccessLevel.Use, force: true)),
        Op("GetTotalHistoryAsync", Need.Read, Operation.ReadAllocation, async (s, a, c) => await s.GetTotalHistoryAsync(a, c.Child), readOnly: true),
        Op("DeleteAllocationAsync", Need.OrgAdminOnAllocation, Operation.DeleteAllocation, async (s, a, c) => await s.DeleteAllocationAsync(a, c.Child)),

        // Usage
        Op("RecordUsageAsync", Need.Use, Operation.RecordUsage, async (s, a, c) => await s.RecordUsageAsync(a, Cpu(c))),
        Op("RecordBatchAsync", Need.Use, Operation.RecordUsage, async (s, a, c) => await s.RecordBatchAsync(a, [Cpu(c, "batch-1"), Cpu(c, "batch-2")])),
        Op("RecordStreamAsync", Need.Use, Operation.RecordUsage, async (s, a, c) => await s.RecordStreamAsync(a, [Cpu(c, "stream-1"), Cpu(c, "stream-2")], chunkSize: 1)),
        Op("ReserveAsync", Need.Use, Operation.Reserve, async (s, a, c) => (await s.ReserveAsync(a, Cpu(c, status: UsageStatus.Estimated))).Event ?? throw new InvalidOperationException("the hold did not fit")),
        Op("CheckFitAsync", Need.Read, Operation.CheckFit, async (s, a, c) => await s.CheckFitAsync(a, Cpu(c)), readOnly: true),
        Op("ConfirmAsync", Need.Use, Operation.Confirm, async (s, a, c) => await s.ConfirmAsync(a, c.OwnHold)),
        Op("ConfirmAsync", Need.Admin, Operation.ConfirmOthersHold, async (s, a, c) => await s.ConfirmAsync(a, c.Hold)),
        Op("ExtendHoldAsync", Need.Use, Operation.ExtendHold, async (s, a, c) => await s.ExtendHoldAsync(a, c.OwnHold, HoldExpiry.After(Duration.FromDays(3)))),
        Op("ExtendHoldAsync", Need.Admin, Operation.ExtendOthersHold, async (s, a, c) => await s.ExtendHoldAsync(a, c.Hold, HoldExpiry.Never)),
                Op("ReleaseAsync", Need.Use, Operation.ReleaseHold, async (s, a, c) => await s.ReleaseAsync(a, c.OwnHold)),
        Op("ReleaseAsync", Need.Admin, Operation.ReleaseOthersHold, async (s, a, c) => await s.ReleaseAsync(a, c.Hold)),
        Op("DeleteEventAsync", Need.Use, Operation.DeleteEstimatedEvent, async (s, a, c) => await s.DeleteEventAsync(a, c.OwnHold)),
        Op("DeleteEventAsync", Need.Admin, Operation.DeleteOthersEstimatedEvent, async (s, a, c) => await s.DeleteEventAsync(a, c.Hold)),
        Op("DeleteEventAsync", Need.Admin, Operation.DeleteConfirmedEvent, async (s, a, c) => await s.DeleteEventAsync(a, c.Charge)),
        Op("GetEventAsync", Need.Read, Operation.ReadEvents, async (s, a, c) => await s.GetEventAsync(a, c.Charge), readOnly: true),
        Op("VerifyAsync", Need.OrgAdmin, Operation.Verify, async (s, a, c) => await s.VerifyAsync(a, c.Org), readOnly: true),

        // Groups, grants and the journal
        Op("CreateGroupAsync", Need.OrgAdmin, Operation.ManageGroups, async (s, a, c) => await s.CreateGroupAsync(a, c.Org, "new group")),
        Op("DeleteGroupAsync", Need.OrgAdmin, Operation.ManageGroups, async (s, a, c) => await s.DeleteGroupAsync(a, c.Org, "spare")),
        Op("AddGroupMemberAsync", Need.OrgAdmin, Operation.ManageGroups, async (s, a, c) => await s.AddGroupMemberAsync(a, c.Org, "spare", "newcomer")),
        Op("RemoveGroupMemberAsync", Need.OrgAdmin, Operation.ManageGroups, async (s, a, c) => await s.RemoveGroupMemberAsync(a, c.Org, "spare", "spare-member")),
        Op("ListGroupsAsync", Need.OrgAdmin, Operation.ReadGroups, async (s, a, c) => await s.ListGroupsAsync(a, c.Org), readOnly: true),
        Op("GrantAsync", Need.Admin, Operation.ManageGrants, async (s, a, c) => await s.GrantAsync(a, c.Child, Grantee.Group("spare"), AccessLevel.Use)),
        Op("RevokeAsync", Need.Admin, Operation.ManageGrants, async (s, a, c) => await s.RevokeAsync(a, c.Child, Grantee.Group("spare")) ? true : throw new InvalidOperationException("nothing was revoked")),
        Op("ListGrantsAsync", Need.Admin, Operation.ReadGrants, async (s, a, c) => await s.ListGrantsAsync(a, c.Child), readOnly: true),
        Op("GetAllocationJournalAsync", Need.Admin, Operation.ReadAllocationJournal, async (s, a, c) => await s.GetAllocationJournalAsync(a, c.Child), readOnly: true),
        Op("GetOrganizationJournalAsync", Need.OrgAdmin, Operation.ReadOrganizationJournal, async (s, a, c) => await s.GetOrganizationJournalAsync(a, c.Org), readOnly: true),
        Op("ReadAllocationJournalAsync", Need.Admin, Operation.ReadAllocationJournal, async (s, a, c) => await s.ReadAllocationJournalAsync(a, c.Child).ToListAsync(), readOnly: true),
        Op("ReadOrganizationJournalAsync", Need.OrgAdmin, Operation.ReadOrganizationJournal, async (s, a, c) => await s.ReadOrganizationJournalAsync(a, c.Org).ToListAsync(), readOnly: true),
        Op("VerifyJournalAsync", Need.OrgAdmin, Operation.VerifyJournal, async (s, a, c) => await s.VerifyJournalAsync(a, c.Org), readOnly: true),
        Op("VerifyAgainstJournalAsync", Need.OrgAdmin, Operation.VerifyAgainstJournal, async (s, a, c) => await s.VerifyAgainstJournalAsync(a, c.Org), readOnly: true),

        // Listings that are never refused: they show only what the caller may see
        Op("ListOrganizationsAsync", Need.Listing, Operation.ReadAllocation, async (s, a, c) => await s.ListOrganizationsAsync(a), readOnly: true),
        Op("FindEventByKeyAsync", Need.Listing, Operation.ReadEvents, async (s, a, c) => await s.FindEventByKeyAsync(a, c.Org, "no-such-key"), readOnly: true),

        // Reports and export
        // The sweep is never refused: it deletes the expired holds on the allocations the caller may Use (and changes
        // no figure anyone sees); HoldExpiryTests checks which ones.
        Op("ReleaseExpiredHoldsAsync", Need.Listing, Operation.SweepExpiredHolds, async (s, a, c) => await s.ReleaseExpiredHoldsAsync(a, c.Org)),
        Op("GetAllocationTableAsync", Need.Listing, Operation.ReadAllocation, async (s, a, c) => await s.GetAllocationTableAsync(a, c.Org), readOnly: true),
        Op("GetAllocationTableAsOfAsync", Need.Listing, Operation.ReadAllocation, async (s, a, c) => await s.GetAllocationTableAsOfAsync(a, c.Org, AccessMatrixFixture.Now), readOnly: true),
        Op("ListEventsAsync", Need.Read, Operation.ReadEvents, async (s, a, c) => await s.ListEventsAsync(a, c.Child), readOnly: true),
        Op("ReadEventsAsync", Need.Read, Operation.ReadEvents, async (s, a, c) => await s.ReadEventsAsync(a, c.Child).ToListAsync(), readOnly: true),
        Op("ExportEventsAsync", Need.Read, Operation.ReadEvents, async (s, a, c) => await s.ExportEventsAsync(a, c.Child, null, new StringWriter(), global::Allocations.Reporting.ExportFormat.Csv, null, CancellationToken.None), readOnly: true),
        Op("GetUsageReportAsync", Need.Read, Operation.ReadAllocation, async (s, a, c) => await s.GetUsageReportAsync(a, new global::Allocations.Reporting.UsageReportRequest(c.Org) { Allocations = [c.Child] }), readOnly: true),
        Op("GetUsageReportAsync", Need.Member, Operation.ReadUsageReport, async (s, a, c) => await s.GetUsageReportAsync(a, new global::Allocations.Reporting.UsageReportRequest(c.Org) { Sku = TestStore.Cpu }), readOnly: true),

        // Alerts
        Op("SetAlertThresholdsAsync", Need.Admin, Operation.ManageAlertThresholds, async (s, a, c) => await s.SetAlertThresholdsAsync(a, c.Child, [AlertThreshold.PercentUsed(80)])),
        Op("GetAlertThresholdsAsync", Need.Read, Operation.ReadAlertThresholds, async (s, a, c) => await s.GetAlertThresholdsAsync(a, c.Child), readOnly: true),
        Op("GetAlertsAsync", Need.Member, Operation.ReadAlerts, async (s, a, c) => await s.GetAlertsAsync(a, c.Org), readOnly: true),
        Op("SweepPeriodAlertsAsync", Need.OrgAdmin, Operation.SweepPeriodAlerts, async (s, a, c) => await s.SweepPeriodAlertsAsync(a, c.Org)),

        // Slurm import
        Op("SyncSlurmAsync", Need.OrgAdmin, Operation.ImportUsage, async (s, a, c) => await s.SyncSlurmAsync(a, c.Org, global::Allocations.Import.Slurm.SlurmMapping.Parse(SlurmMappingJson), new StringReader(SacctHeader))),
        Op("SyncSlurmFromSacctAsync", Need.OrgAdmin, Operation.ImportUsage, async (s, a, c) => await s.SyncSlurmFromSacctAsync(a, c.Org, global::Allocations.Import.Slurm.SlurmMapping.Parse(SlurmMappingJson), (_, _) => Task.FromResult<TextReader>(new StringReader(SacctHeader)))),
        Op("CheckSlurmMappingAsync", Need.OrgAdmin, Operation.ImportUsage, async (s, a, c) => await s.CheckSlurmMappingAsync(a, c.Org, global::Allocations.Import.Slurm.SlurmMapping.Parse(SlurmMappingJson)), readOnly: true),
        Op("CheckSlurmClusterAsync", Need.OrgAdmin, Operation.ImportUsage, async (s, a, c) => await s.CheckSlurmClusterAsync(a, c.Org, global::Allocations.Import.Slurm.SlurmMapping.Parse(SlurmMappingJson), _ => Task.FromResult<IReadOnlyList<string>>(["lab"])), readOnly: true),
        Op("ReleaseSlurmLockAsync", Need.OrgAdmin, Operation.ImportUsage, async (s, a, c) => await s.ReleaseSlurmLockAsync(a, c.Org, "lab")),
    ];

    private static readonly Interval RerateMonth = new(TestStore.November1, Instant.FromUtc(2026, 12, 1, 0, 0));

    private const string SlurmMappingJson = """
        { "cluster": "lab", "timeZone": "UTC", "accounts": { "physics": "Child" }, "partitions": { "cpu": "CPU_HOUR" }, "defaults": { "quantity": "cpu" } }
        """;

    private const string SacctHeader = "JobID|JobIDRaw|Cluster|Account|Partition|User|State|Submit|Start|End|ElapsedRaw|AllocCPUS|AllocTRES|NNodes\n";

    public static TheoryData<string, Engine> Holders()
    {
        var data = new TheoryData<string, Engine>();
        foreach (var engine in new EnginesAttribute().GetData(null!).Select(row => (Engine)row[0]))
        {
            foreach (var holder in Holder.All())
            {
                data.Add(holder.UserId, engine);
            }
        }
        return data;
    }

    /// <summary>A transfer's outcome from the documented rule: Admin on the source, Use on the target (each side not
    /// found without Read), checked source first; forcing needs an organization admin on top.</summary>
    private static Type? TwoSided(Holder holder, bool sourceOnParent, AccessLevel sourceNeed, AccessLevel targetNeed, bool force)
    {
        static Type? Side(AccessLevel held, AccessLevel need) =>
            held < AccessLevel.Read ? typeof(NotFoundException) : held < need ? typeof(AccessDeniedException) : null;
        var refusal = Side(holder.LevelOn(sourceOnParent), sourceNeed) ?? Side(holder.LevelOn(!sourceOnParent), targetNeed);
        if (refusal is null && force && holder.Way is not (Way.OrgAdmin or Way.System))
        {
            refusal = typeof(AccessDeniedException);
        }
        return refusal;
    }

    /// <summary>The expected outcome: allowed, or refused as not found / access denied.</summary>
    private static Type? Expected(MatrixOp op, Holder holder)
    {
        if (op.Expect is { } expect)
        {
            return expect(holder);
        }
        var level = holder.LevelOn(op.OnParent);
        var orgAdmin = holder.Way is Way.OrgAdmin or Way.System;
        if (holder.Way == Way.Outsider && op.Need is Need.OrgAdmin or Need.Grantee or Need.Member)
        {
            return typeof(NotFoundException); // the organization itself is hidden from outsiders
        }
        return op.Need switch
        {
            Need.System => holder.Way == Way.System ? null : typeof(AccessDeniedException),
            Need.OrgAdmin => orgAdmin ? null : typeof(AccessDeniedException),
            Need.Grantee => orgAdmin || holder.HoldsAnyGrant ? null : typeof(AccessDeniedException),
            Need.Listing or Need.Member => null,
            Need.OrgAdminOnAllocation => orgAdmin ? null : level < AccessLevel.Read ? typeof(NotFoundException) : typeof(AccessDeniedException),
            _ => level >= NeededLevel(op.Need) ? null : level < AccessLevel.Read ? typeof(NotFoundException) : typeof(AccessDeniedException),
        };
    }

    private static AccessLevel NeededLevel(Need need) => need switch
    {
        Need.Read => AccessLevel.Read,
        Need.Use => AccessLevel.Use,
        _ => AccessLevel.Admin,
    };

    [Theory]
    [MemberData(nameof(Holders))]
    public async Task EveryOperation_IsAllowedOrRefusedByTheLevelHeld_AndRefusalsChangeNothing(string userId, Engine engine)
    {
        var holder = Holder.All().Single(h => h.UserId == userId);
        var template = await fixture.TemplateAsync(holder, engine);
        var templateHash = AccessMatrixFixture.Hash(template, engine);
        var failures = new List<string>();
        var i = 0;
        var changed = false;
        foreach (var op in Operations)
        {
            var path = AccessMatrixFixture.Case(template, engine, Path.Combine(fixture.Directory, $"case-{holder.UserId}-{i++}.db"), changed);
            var before = AccessMatrixFixture.Hash(path, engine);
            Assert.Equal(templateHash, before);
            var expected = Expected(op, holder);
            Exception? thrown = null;
            object? result = null;
            using (var store = await AccessMatrixFixture.OpenAsync(path, engine))
            {
                try
                {
                    result = await op.Run(store, holder.Principal, fixture.Context);
                }
                catch (Exception ex)
                {
                    thrown = ex;
                }
            }
            var after = AccessMatrixFixture.Hash(path, engine);
            changed = before != after;
            if (expected is null && thrown is not null)
            {
                failures.Add($"{op}: expected allowed, got {thrown.GetType().Name}: {thrown.Message}");
            }
            else if (expected is not null && thrown is null)
            {
                failures.Add($"{op}: expected {expected.Name}, but the call was allowed");
            }
            else if (expected is not null && thrown!.GetType() != expected)
            {
                failures.Add($"{op}: expected {expected.Name}, got {thrown.GetType().Name}: {thrown.Message}");
            }
            if (thrown is not null && before != after)
            {
                failures.Add($"{op}: the refused call changed the database");
            }
            if (thrown is null && op.ReadOnly && before != after)
            {
                failures.Add($"{op}: the read changed the database");
            }
            if (op.Need == Need.Listing && result is IReadOnlyList<Allocation> listed)
            {
                var names = listed.Select(a => a.Name).ToHashSet();
                if (names.Contains("Child") != holder.LevelOn(onParent: false) >= AccessLevel.Read ||
                    names.Contains("Parent") != holder.LevelOn(onParent: true) >= AccessLevel.Read)
                {
                    failures.Add($"{op}: listed [{string.Join(", ", names)}] for a holder with {holder.LevelOn(false)} on Child and {holder.LevelOn(true)} on Parent");
                }
            }
            if (result is AlertPage page)
            {
                var names = page.Alerts.Select(a => a.AllocationName).ToHashSet();
                if (names.Contains("Child") != holder.LevelOn(onParent: false) >= AccessLevel.Read ||
                    names.Contains("Parent") != holder.LevelOn(onParent: true) >= AccessLevel.Read)
                {
                    failures.Add($"{op}: saw alerts of [{string.Join(", ", names)}] for a holder with {holder.LevelOn(false)} on Child and {holder.LevelOn(true)} on Parent");
                }
            }
            if (engine == Engine.Sqlite)
            {
                File.Delete(path);
            }
        }
        Assert.True(failures.Count == 0, $"{holder}:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void Matrix_CoversEveryFacadeMethodThatTakesAnActor()
    {
        var facade = typeof(AllocationStore)
            .GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
            .Where(m => m.GetParameters().FirstOrDefault()?.ParameterType == typeof(Principal))
            .Select(m => m.Name)
            .ToHashSet();
        var covered = Operations.Select(o => o.Method).ToHashSet();
        Assert.Empty(facade.Except(covered));
        Assert.Empty(covered.Except(facade));
    }

    [Fact]
    public void Matrix_CoversEveryRowOfThePermissionTable()
    {
        var covered = Operations.SelectMany(o => o.Exercises).ToHashSet();
        Assert.Empty(Permissions.All.Keys.Except(covered));
    }

    [Fact]
    public void PermissionTable_AgreesWithTheMatrixNeeds()
    {
        foreach (var op in Operations.Where(o => o.Need != Need.Listing))
        {
            foreach (var operation in op.Exercises)
            {
                var row = Permissions.For(operation);
                var expected = op.Need switch
                {
                    Need.System => new Requirement(RequirementScope.System),
                    Need.OrgAdmin or Need.OrgAdminOnAllocation => new Requirement(RequirementScope.OrganizationAdmin),
                    Need.Grantee => new Requirement(RequirementScope.Grantee),
                    Need.Member => new Requirement(RequirementScope.Member),
                    _ => new Requirement(RequirementScope.Allocation, NeededLevel(op.Need)),
                };
                Assert.True(expected == row, $"{op}: the table says {row}, the matrix {expected}");
            }
        }
    }
}
