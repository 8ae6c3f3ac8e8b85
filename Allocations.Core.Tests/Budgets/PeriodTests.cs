using System.Text.Json;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Budgets;

public class PeriodTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Nov1 = TestStore.November1;
    private static readonly Instant Nov10 = Instant.FromUtc(2026, 11, 10, 0, 0);
    private static readonly Instant Nov20 = Instant.FromUtc(2026, 11, 20, 0, 0);
    private static readonly Instant Dec1 = Instant.FromUtc(2026, 12, 1, 0, 0);

    private static Task<Allocation> CreateAsync(TestStore t, string name, Instant? start, Instant? end, Allocation? parent = null, decimal total = 1000m) =>
        t.Store.CreateAllocationAsync(Admin, t.Organization, new NewAllocation(name, TestStore.CoreHours, Amount.FromDecimal(total), parent?.Id, start, end));

    private static UsageRecord Cpu(Allocation on, Instant start, decimal hours = 1m, UsageStatus status = UsageStatus.Confirmed, string? key = null) =>
        TestStore.Cpu1(on, 1m, start, start + Duration.FromMinutes((long)(hours * 60)), status, key);

    [Fact]
    public async Task Create_KeepsThePeriod_AndJournalsIt()
    {
        using var t = await TestStore.CreateAsync();
        var a = await CreateAsync(t, "physics-2026", Nov1, Dec1);

        var read = await t.Store.GetAllocationAsync(Admin, a.Id);
        Assert.Equal((Nov1, Dec1), (read.PeriodStart!.Value, read.PeriodEnd!.Value));
        Assert.Contains("period [2026-11-01T00:00:00Z, 2026-12-01T00:00:00Z)", read.ToString(), StringComparison.Ordinal);
        var created = Assert.Single(await t.Store.GetAllocationJournalAsync(Admin, a.Id), e => e.Action == "allocation.create");
        using var after = JsonDocument.Parse(created.After!);
        Assert.Equal("2026-11-01T00:00:00Z", after.RootElement.GetProperty("periodStart").GetString());
        Assert.Equal("2026-12-01T00:00:00Z", after.RootElement.GetProperty("periodEnd").GetString());
    }

    [Fact]
    public async Task Create_WithoutAPeriod_HasNone()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("open", 10m);
        Assert.Null(a.PeriodStart);
        Assert.Null(a.PeriodEnd);
        Assert.DoesNotContain("period", a.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task Create_WithAnEndNotAfterTheStart_IsRefusedNamingTheEnd(int days)
    {
        using var t = await TestStore.CreateAsync();
        var before = t.ContentHash();
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => CreateAsync(t, "x", Nov10, Nov10 + Duration.FromDays(days)));
        Assert.Equal("periodEnd", ex.Field);
        Assert.Equal((Nov10 + Duration.FromDays(days)).ToString(), ex.Value);
        Assert.Equal(before, t.ContentHash());
    }

    [Fact]
    public async Task Create_AChildOutsideItsParentsPeriod_IsRefusedNamingTheBoundAndTheParent()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await CreateAsync(t, "P", Nov1, Dec1);
        var before = t.ContentHash();

        var early = await Assert.ThrowsAsync<InvalidInputException>(() => CreateAsync(t, "early", Nov1 - Duration.FromDays(1), Nov20, parent));
        Assert.Equal("periodStart", early.Field);
        Assert.Contains(parent.Id.ToString(), early.Rule, StringComparison.Ordinal);
        Assert.Contains("[2026-11-01T00:00:00Z, 2026-12-01T00:00:00Z)", early.Rule, StringComparison.Ordinal);
        var late = await Assert.ThrowsAsync<InvalidInputException>(() => CreateAsync(t, "late", Nov10, Dec1 + Duration.FromDays(1), parent));
        Assert.Equal("periodEnd", late.Field);
        var after = await Assert.ThrowsAsync<InvalidInputException>(() => CreateAsync(t, "after", Dec1, null, parent));
        Assert.Equal("periodStart", after.Field);
        Assert.Equal(before, t.ContentHash());

        var inside = await CreateAsync(t, "inside", Nov10, Nov20, parent);
        Assert.Equal((Nov10, Nov20), (inside.PeriodStart!.Value, inside.PeriodEnd!.Value));
    }

    [Fact]
    public async Task Record_AtTheStartIsAccepted_AtTheEndIsRefused_HalfOpen()
    {
        using var t = await TestStore.CreateAsync();
        var a = await CreateAsync(t, "A", Nov10, Nov20);

        var atStart = await t.Store.RecordUsageAsync(Admin, Cpu(a, Nov10));
        Assert.Equal(RecordDisposition.Recorded, atStart.Disposition);
        var lastInstant = await t.Store.RecordUsageAsync(Admin, Cpu(a, Nov20 - Duration.FromNanoseconds(1)));
        Assert.Equal(RecordDisposition.Recorded, lastInstant.Disposition);
        await Assert.ThrowsAsync<OutsidePeriodException>(() => t.Store.RecordUsageAsync(Admin, Cpu(a, Nov20)));
    }

    [Fact]
    public async Task Record_OutsideThePeriod_IsRefusedNamingTheAllocationThePeriodAndTheStart_AndChangesNothing()
    {
        using var t = await TestStore.CreateAsync();
        var a = await CreateAsync(t, "physics-2026", Nov10, Nov20);
        var before = t.ContentHash();
        var start = Nov1 + Duration.FromHours(5);

        var ex = await Assert.ThrowsAsync<OutsidePeriodException>(() => t.Store.RecordUsageAsync(Admin, Cpu(a, start, status: UsageStatus.Estimated)));

        Assert.Equal(a.Id, ex.Allocation);
        Assert.Equal((Nov10, Nov20, start), (ex.PeriodStart!.Value, ex.PeriodEnd!.Value, ex.EventStart));
        Assert.Equal(
            $"{a.Id} 'physics-2026' takes usage starting in [2026-11-10T00:00:00Z, 2026-11-20T00:00:00Z); the event starts at 2026-11-01T05:00:00Z",
            ex.Message);
        Assert.Equal(before, t.ContentHash());
    }

    [Fact]
    public async Task Record_OnAChildWithoutAPeriod_IsBoundedByItsParentsPeriod()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await CreateAsync(t, "P", Nov10, null);
        var child = await CreateAsync(t, "C", null, Nov20, parent);
        var open = await CreateAsync(t, "D", null, null, parent);

        var ex = await Assert.ThrowsAsync<OutsidePeriodException>(() => t.Store.RecordUsageAsync(Admin, Cpu(child, Nov1)));
        Assert.Equal((Nov10, Nov20), (ex.PeriodStart!.Value, ex.PeriodEnd!.Value)); // the child's end within the parent's start
        await Assert.ThrowsAsync<OutsidePeriodException>(() => t.Store.RecordUsageAsync(Admin, Cpu(open, Nov1)));
        await Assert.ThrowsAsync<OutsidePeriodException>(() => t.Store.RecordUsageAsync(Admin, Cpu(child, Nov20)));
        Assert.Equal(RecordDisposition.Recorded, (await t.Store.RecordUsageAsync(Admin, Cpu(open, Nov20))).Disposition);
        Assert.Equal(RecordDisposition.Recorded, (await t.Store.RecordUsageAsync(Admin, Cpu(child, Nov10))).Disposition);
    }

    [Fact]
    public async Task ReserveAndFit_OutsideThePeriod_AnswerOutsideThePeriod_AsAResult_WritingNothing()
    {
        using var t = await TestStore.CreateAsync();
        var a = await CreateAsync(t, "A", Nov10, Nov20, total: 1_000_000m);
        var before = t.ContentHash();
        var start = Nov20 + Duration.FromHours(1);

        var reserve = await t.Store.ReserveAsync(Admin, Cpu(a, start, key: "job-1"));
        var fit = await t.Store.CheckFitAsync(Admin, Cpu(a, start));

        Assert.False(reserve.Reserved);
        Assert.Null(reserve.Event);
        foreach (var check in new[] { reserve.Fit, fit })
        {
            Assert.False(check.Fits);
            Assert.True(check.OutsidePeriod);
            Assert.Equal(a.Id, check.BlockedBy);
            Assert.Equal((Nov10, Nov20, start), (check.PeriodStart!.Value, check.PeriodEnd!.Value, check.Start!.Value));
            Assert.Equal(Amount.Zero, check.Shortfall);
            Assert.Equal(
                $"outside the period: {a.Id} takes usage starting in [2026-11-10T00:00:00Z, 2026-11-20T00:00:00Z), this starts at 2026-11-20T01:00:00Z",
                check.ToString());
        }
        Assert.Equal(reserve.Fit, fit);
        Assert.Equal(before, t.ContentHash());

        var inside = await t.Store.ReserveAsync(Admin, Cpu(a, Nov10, key: "job-2"));
        Assert.True(inside.Reserved);
        Assert.False(inside.Fit.OutsidePeriod);
        Assert.Null(inside.Fit.PeriodStart);
    }

    [Fact]
    public async Task ReserveOutsideThePeriod_ComesBeforeRating_SoNoRateIsNotTheAnswer()
    {
        using var t = await TestStore.CreateAsync();
        var a = await CreateAsync(t, "A", Nov10, Nov20);
        var beforeRates = Nov1 - Duration.FromDays(30); // no CPU rate is in force then
        var reserve = await t.Store.ReserveAsync(Admin, Cpu(a, beforeRates));
        Assert.True(reserve.Fit.OutsidePeriod);
        await Assert.ThrowsAsync<OutsidePeriodException>(() => t.Store.RecordUsageAsync(Admin, Cpu(a, beforeRates)));
    }

    [Fact]
    public async Task PerItemBatch_RefusesTheItemOutsideThePeriod_WithItsException_AndRecordsTheOthers()
    {
        using var t = await TestStore.CreateAsync();
        var a = await CreateAsync(t, "A", Nov10, Nov20);
        var records = new[] { Cpu(a, Nov10, key: "in-1"), Cpu(a, Nov1, key: "out"), Cpu(a, Nov10 + Duration.FromDays(2), key: "in-2") };

        var result = await t.Store.RecordBatchAsync(Admin, records, BatchMode.PerItem);

        Assert.Equal((2, 1), (result.Recorded, result.Refused));
        Assert.Equal(BatchItemStatus.Refused, result.Items[1].Status);
        var refusal = Assert.IsType<OutsidePeriodException>(result.Items[1].Error);
        Assert.Equal(Nov1, refusal.EventStart);
        Assert.Null(refusal.BatchIndex);
        Assert.Equal(Amount.FromDecimal(2m), (await t.Store.GetAllocationAsync(Admin, a.Id)).Used);
    }

    [Fact]
    public async Task AllOrNothingBatch_WithAnItemOutsideThePeriod_StoresNothing_AndNamesTheItem()
    {
        using var t = await TestStore.CreateAsync();
        var a = await CreateAsync(t, "A", Nov10, Nov20);
        var before = t.ContentHash();
        var ex = await Assert.ThrowsAsync<OutsidePeriodException>(() => t.Store.RecordBatchAsync(Admin, [Cpu(a, Nov10), Cpu(a, Nov20)]));
        Assert.Equal(1, ex.BatchIndex);
        Assert.Equal(before, t.ContentHash());
    }

    [Fact]
    public async Task SetPeriod_ChangesIt_JournalsBeforeAndAfter_AndThenBoundsUsage()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        await t.Store.RecordUsageAsync(Admin, Cpu(a, Nov10));

        var changed = await t.Store.SetPeriodAsync(Admin, a.Id, Nov10, Dec1);

        Assert.Equal((Nov10, Dec1), (changed.PeriodStart!.Value, changed.PeriodEnd!.Value));
        var entry = Assert.Single(await t.Store.GetAllocationJournalAsync(Admin, a.Id), e => e.Action == "allocation.period");
        using (var before = JsonDocument.Parse(entry.Before!))
        {
            Assert.Equal(JsonValueKind.Null, before.RootElement.GetProperty("start").ValueKind);
            Assert.Equal(JsonValueKind.Null, before.RootElement.GetProperty("end").ValueKind);
        }
        using (var after = JsonDocument.Parse(entry.After!))
        {
            Assert.Equal("2026-11-10T00:00:00Z", after.RootElement.GetProperty("start").GetString());
            Assert.Equal("2026-12-01T00:00:00Z", after.RootElement.GetProperty("end").GetString());
        }
        await Assert.ThrowsAsync<OutsidePeriodException>(() => t.Store.RecordUsageAsync(Admin, Cpu(a, Nov1)));
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);

        var cleared = await t.Store.SetPeriodAsync(Admin, a.Id, null, null);
        Assert.Null(cleared.PeriodStart);
        Assert.Null(cleared.PeriodEnd);
        Assert.Equal(RecordDisposition.Recorded, (await t.Store.RecordUsageAsync(Admin, Cpu(a, Nov1))).Disposition);
    }

    [Fact]
    public async Task SetPeriod_ToTheSamePeriod_WritesNothing()
    {
        using var t = await TestStore.CreateAsync();
        var a = await CreateAsync(t, "A", Nov10, Nov20);
        var before = t.ContentHash();
        var same = await t.Store.SetPeriodAsync(Admin, a.Id, Nov10, Nov20);
        Assert.Equal((Nov10, Nov20), (same.PeriodStart!.Value, same.PeriodEnd!.Value));
        Assert.Equal(before, t.ContentHash());
    }

    [Fact]
    public async Task SetPeriod_LeavingAnEventOutside_IsRefusedNamingTheEvent_AndChangesNothing()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("P", 100m);
        var child = await t.CreateAllocationAsync("C", 100m, parent);
        var early = (await t.Store.RecordUsageAsync(Admin, Cpu(child, Nov1))).Event;
        var before = t.ContentHash();

        var own = await Assert.ThrowsAsync<ConflictException>(() => t.Store.SetPeriodAsync(Admin, child.Id, Nov10, null));
        Assert.Contains(early.Id.ToString(), own.Message, StringComparison.Ordinal);
        Assert.Contains("2026-11-01T00:00:00Z", own.Message, StringComparison.Ordinal);
        Assert.Equal(["start"], own.Fields);
        var viaParent = await Assert.ThrowsAsync<ConflictException>(() => t.Store.SetPeriodAsync(Admin, parent.Id, null, Nov1));
        Assert.Contains(early.Id.ToString(), viaParent.Message, StringComparison.Ordinal);
        Assert.Equal(["end"], viaParent.Fields);
        Assert.Equal(before, t.ContentHash());
    }

    [Fact]
    public async Task SetPeriod_OnAParent_ThatAChildsPeriodWouldLeave_IsRefusedNamingTheChild()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await CreateAsync(t, "P", Nov1, Dec1);
        var child = await CreateAsync(t, "C", Nov10, Nov20, parent);
        var before = t.ContentHash();

        var ex = await Assert.ThrowsAsync<ConflictException>(() => t.Store.SetPeriodAsync(Admin, parent.Id, Nov1, Nov10 + Duration.FromDays(5)));
        Assert.Contains(child.Id.ToString(), ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, t.ContentHash());

        var narrowed = await t.Store.SetPeriodAsync(Admin, parent.Id, Nov10, Nov20);
        Assert.Equal((Nov10, Nov20), (narrowed.PeriodStart!.Value, narrowed.PeriodEnd!.Value));
    }

    [Fact]
    public async Task SetPeriod_OnAChild_OutsideItsParents_IsRefusedNamingTheBound()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await CreateAsync(t, "P", Nov1, Dec1);
        var child = await CreateAsync(t, "C", null, null, parent);
        var before = t.ContentHash();

        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.SetPeriodAsync(Admin, child.Id, Nov10, Dec1 + Duration.FromDays(1)));
        Assert.Equal("end", ex.Field);
        Assert.Contains(parent.Id.ToString(), ex.Rule, StringComparison.Ordinal);
        var reversed = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.SetPeriodAsync(Admin, child.Id, Nov20, Nov10));
        Assert.Equal("end", reversed.Field);
        var range = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.SetPeriodAsync(Admin, child.Id, Instant.FromUtc(1800, 1, 1, 0, 0), null));
        Assert.Equal("start", range.Field);
        Assert.Equal(before, t.ContentHash());
    }

    [Fact]
    public async Task SetPeriod_NeedsAdmin_AndHidesWhatTheActorMayNotRead()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        var hidden = await t.CreateAllocationAsync("H", 100m);
        await t.Store.CreateGroupAsync(Admin, t.Organization, "users");
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, "users", "bob");
        await t.Store.GrantAsync(Admin, a.Id, Grantee.Group("users"), AccessLevel.Use);
        var bob = Principal.User("bob");
        var before = t.ContentHash();

        await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.SetPeriodAsync(bob, a.Id, Nov10, null));
        var missing = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.SetPeriodAsync(bob, hidden.Id, Nov10, null));
        var absent = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.SetPeriodAsync(bob, new AllocationId(9_999), Nov10, null));
        Assert.Equal(absent.Message.Replace("9999", hidden.Id.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal), missing.Message);
        Assert.Equal(before, t.ContentHash());
    }

    [Fact]
    public async Task ConfirmingAHold_InsideThePeriod_Works_AndDeletingKeepsTheInvariant()
    {
        using var t = await TestStore.CreateAsync();
        var a = await CreateAsync(t, "A", Nov10, Nov20);
        var hold = await t.Store.ReserveAsync(Admin, Cpu(a, Nov10 + Duration.FromHours(1)));
        var confirmed = await t.Store.ConfirmAsync(Admin, hold.Event!.Id, finalEnd: Nov20 + Duration.FromDays(3));
        Assert.Equal(HoldStatus.Confirmed, confirmed.Status);
        Assert.Equal(UsageStatus.Confirmed, confirmed.Event.Status); // only the start is bound by the period
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }
}
