using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Recording;
using Allocations.Storage;
using Allocations.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>Concurrent writes on one store share a transaction and its durable commit, each call in a savepoint of
/// its own. The tests hold the gate with one call that waits on a signal while the others queue behind it (they queue
/// synchronously, inside the call that returns their task), so what shares a commit is decided by the test, not by
/// timing.</summary>
public sealed class GroupCommitTests
{
    private static readonly Principal Admin = TestStore.Admin;
    private static readonly Instant Start = TestStore.November1 + Duration.FromDays(2);

    private static UsageRecord Cpu(Allocation a, decimal cores, int hour, string? key = null, UsageStatus status = UsageStatus.Confirmed) =>
        TestStore.Cpu1(a, cores, Start + Duration.FromHours(hour), Start + Duration.FromHours(hour + 1), status, key);

    private static SqliteStorageEngine Engine(AllocationStore store) => (SqliteStorageEngine)store.Engine;

    /// <summary>Names a lambda as synchronous work (one that only throws fits the asynchronous overload too).</summary>
    private static Func<IStorageSession, T> Sync<T>(Func<IStorageSession, T> work) => work;

    [Fact]
    public async Task CallsQueuedBehindARunningCall_ShareItsCommit_AndAllLand()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("P", 10_000m);
        var children = new List<Allocation>();
        for (var i = 0; i < 4; i++)
        {
            children.Add(await t.CreateAllocationAsync($"C{i}", 1_000m, parent));
        }
        var before = Engine(t.Store).GroupStatistics;

        var gate = await Gate.HoldAsync(t.Store);
        var reserves = new List<Task<ReserveResult>>();
        var records = new List<Task<RecordResult>>();
        for (var i = 0; i < 20; i++)
        {
            reserves.Add(t.Store.ReserveAsync(Admin, Cpu(children[i % 4], 1m + (i % 3), i, $"hold-{i}")));
            records.Add(t.Store.RecordUsageAsync(Admin, Cpu(children[i % 4], 2m, i, $"use-{i}")));
        }
        Assert.Equal(40, Engine(t.Store).WaitingCalls);
        Assert.All(reserves, r => Assert.False(r.IsCompleted));
        await gate.ReleaseAsync();

        var holds = await Task.WhenAll(reserves);
        var recorded = await Task.WhenAll(records);
        Assert.All(holds, h => Assert.True(h.Reserved));
        Assert.All(recorded, r => Assert.Equal(RecordDisposition.Recorded, r.Disposition));
        var groups = Engine(t.Store).GroupStatistics;
        Assert.Equal(41, groups.Calls - before.Calls);
        Assert.True(groups.Commits - before.Commits < 41, $"{groups.Commits - before.Commits} commits for 41 calls: none shared one");
        Assert.True(groups.LargestGroup >= 2, $"the largest group carried {groups.LargestGroup} call");

        for (var c = 0; c < 4; c++)
        {
            var estimated = Enumerable.Range(0, 20).Where(i => i % 4 == c).Sum(i => 1m + (i % 3));
            var used = Enumerable.Range(0, 20).Count(i => i % 4 == c) * 2m;
            var child = await t.Store.GetAllocationAsync(Admin, children[c].Id);
            Assert.Equal(Amount.FromDecimal(estimated), child.OwnEstimated);
            Assert.Equal(Amount.FromDecimal(used), child.OwnUsed);
        }
        var after = await t.Store.GetAllocationAsync(Admin, parent.Id);
        Assert.Equal(Amount.FromDecimal(Enumerable.Range(0, 20).Sum(i => 1m + (i % 3))), after.Estimated);
        Assert.Equal(Amount.FromDecimal(40m), after.Used);
        await AssertCleanAsync(t);
    }

    [Fact]
    public async Task ManyCallersAtOnce_EveryCallLands_AndTheFiguresAreExact()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("P", 100_000m);
        var children = new List<Allocation>();
        for (var i = 0; i < 8; i++)
        {
            children.Add(await t.CreateAllocationAsync($"C{i}", 10_000m, parent));
        }
        const int callsPerCaller = 30;
        using var go = new Barrier(8);
        var callers = Enumerable.Range(0, 8).Select(caller => Task.Run(async () =>
        {
            go.SignalAndWait();
            var holds = 0m;
            for (var i = 0; i < callsPerCaller; i++)
            {
                if (i % 2 == 0)
                {
                    var hold = await t.Store.ReserveAsync(Admin, Cpu(children[caller], 1m, i, $"h-{caller}-{i}", UsageStatus.Estimated));
                    Assert.True(hold.Reserved);
                    holds += 1m;
                }
                else
                {
                    var result = await t.Store.RecordUsageAsync(Admin, Cpu(children[caller], 3m, i, $"r-{caller}-{i}"));
                    Assert.Equal(RecordDisposition.Recorded, result.Disposition);
                }
            }
            return holds;
        })).ToList();
        var held = await Task.WhenAll(callers);

        for (var c = 0; c < 8; c++)
        {
            var child = await t.Store.GetAllocationAsync(Admin, children[c].Id);
            Assert.Equal(Amount.FromDecimal(held[c]), child.OwnEstimated);
            Assert.Equal(Amount.FromDecimal(3m * (callsPerCaller / 2)), child.OwnUsed);
            var events = await t.Store.ListEventsAsync(Admin, children[c].Id);
            Assert.Equal(callsPerCaller, events.Events.Count);
        }
        var top = await t.Store.GetAllocationAsync(Admin, parent.Id);
        Assert.Equal(Amount.FromDecimal(8 * 3m * (callsPerCaller / 2)), top.Used);
        Assert.Equal(Amount.FromDecimal(held.Sum()), top.Estimated);
        await AssertCleanAsync(t);
    }

    [Fact]
    public async Task AFailingCallInAGroup_FailsAloneWithItsOwnError_AndTheOthersCommit()
    {
        using var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("P", 100m);
        var a = await t.CreateAllocationAsync("A", 50m, parent);
        await t.Store.RecordUsageAsync(Admin, Cpu(a, 1m, 0, "anchor"));
        var before = Engine(t.Store).GroupStatistics;
        var own = new InvalidOperationException("the call's own failure");

        var gate = await Gate.HoldAsync(t.Store);
        var first = t.Store.RecordUsageAsync(Admin, Cpu(a, 2m, 1, "first"));
        // Writes an event, then conflicts on its second item: the event must go with it.
        var conflicting = t.Store.RecordBatchAsync(Admin, [Cpu(a, 4m, 2, "rolled-back"), Cpu(a, 9m, 0, "anchor")]);
        var middle = t.Store.ReserveAsync(Admin, Cpu(a, 3m, 3, "middle", UsageStatus.Estimated));
        // Changes a figure directly, then throws something that is not the library's.
        var thrower = t.Store.Engine.WriteAsync(Sync<int>(s =>
        {
            s.SetTotal(a.Id.Value, 123);
            throw own;
        }), CancellationToken.None);
        var unknownSku = t.Store.RecordUsageAsync(Admin, new UsageRecord(a.Id, new SkuCode("NO_SUCH_SKU"), Quantity.FromDecimal(1m), Start, Start + Duration.FromHours(1), UsageStatus.Confirmed, "unknown"));
        var tooBig = t.Store.ReserveAsync(Admin, Cpu(a, 500m, 4, "too-big", UsageStatus.Estimated));
        var last = t.Store.RecordUsageAsync(Admin, Cpu(a, 5m, 5, "last"));
        await gate.ReleaseAsync();

        Assert.Equal(RecordDisposition.Recorded, (await first).Disposition);
        var conflict = await Assert.ThrowsAsync<ConflictException>(() => conflicting);
        Assert.Equal(1, conflict.BatchIndex);
        Assert.True((await middle).Reserved);
        Assert.Same(own, await Assert.ThrowsAsync<InvalidOperationException>(() => thrower));
        await Assert.ThrowsAsync<NotFoundException>(() => unknownSku);
        Assert.False((await tooBig).Reserved);
        Assert.Equal(RecordDisposition.Recorded, (await last).Disposition);
        var groups = Engine(t.Store).GroupStatistics;
        Assert.Equal(5, groups.Calls - before.Calls); // the holder, first, middle, too-big (a result) and last
        Assert.True(groups.Commits - before.Commits < 5, "no call shared a commit");

        var keys = (await t.Store.ListEventsAsync(Admin, a.Id)).Events.Select(e => e.ExternalKey).Order(StringComparer.Ordinal);
        Assert.Equal(["anchor", "first", "last", "middle"], keys);
        var after = await t.Store.GetAllocationAsync(Admin, a.Id);
        Assert.Equal(Amount.FromDecimal(50m), after.Total);
        Assert.Equal(Amount.FromDecimal(1m + 2m + 5m), after.OwnUsed);
        Assert.Equal(Amount.FromDecimal(3m), after.OwnEstimated);
        await AssertCleanAsync(t);
    }

    [Fact]
    public async Task TheFirstCallOfAGroupFailing_IsRolledBackAlone_AndTheCallsBehindItCommit()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 50m);
        var gate = await Gate.HoldAsync(t.Store, s => s.SetTotal(a.Id.Value, Amount.FromDecimal(7m).Micros), fail: true);
        var queued = Enumerable.Range(0, 5).Select(i => t.Store.RecordUsageAsync(Admin, Cpu(a, 1m, i, $"k-{i}"))).ToList();
        await Assert.ThrowsAsync<InvalidOperationException>(() => gate.ReleaseAsync());
        Assert.All(await Task.WhenAll(queued), r => Assert.Equal(RecordDisposition.Recorded, r.Disposition));
        var after = await t.Store.GetAllocationAsync(Admin, a.Id);
        Assert.Equal(Amount.FromDecimal(50m), after.Total);
        Assert.Equal(Amount.FromDecimal(5m), after.OwnUsed);
        await AssertCleanAsync(t);
    }

    [Fact]
    public async Task ACallCancelledWhileItWaits_ReturnsAtOnce_AndNeverRuns()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 50m);
        var gate = await Gate.HoldAsync(t.Store);
        using var cancel = new CancellationTokenSource();
        var before = t.Store.RecordUsageAsync(Admin, Cpu(a, 1m, 0, "before"));
        var cancelled = t.Store.RecordUsageAsync(Admin, Cpu(a, 2m, 1, "cancelled"), cancel.Token);
        var after = t.Store.RecordUsageAsync(Admin, Cpu(a, 4m, 2, "after"));
        await cancel.CancelAsync();
        // It completes while the gate is still held: it was taken out of the queue, not run.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.False(before.IsCompleted);
        await gate.ReleaseAsync();
        await before;
        await after;
        var keys = (await t.Store.ListEventsAsync(Admin, a.Id)).Events.Select(e => e.ExternalKey).Order(StringComparer.Ordinal);
        Assert.Equal(["after", "before"], keys);
        Assert.Equal(Amount.FromDecimal(5m), (await t.Store.GetAllocationAsync(Admin, a.Id)).OwnUsed);
        await AssertCleanAsync(t);
    }

    [Fact]
    public async Task AsyncWork_RunsToItsEndBeforeTheNextCallOfItsGroup_WhichSeesItsWrites()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 50m);
        var gate = await Gate.HoldAsync(t.Store);
        var resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var asyncWork = t.Store.Engine.WriteAsync(async s =>
        {
            s.SetTotal(a.Id.Value, 5);
            await resumed.Task;
            s.SetTotal(a.Id.Value, 7);
            return 1;
        }, CancellationToken.None);
        var next = t.Store.Engine.WriteAsync(s => s.GetAllocation(a.Id.Value)!.Total, CancellationToken.None);
        var release = gate.ReleaseAsync();
        resumed.SetResult();
        await release;
        Assert.Equal(1, await asyncWork);
        Assert.Equal(7, await next);
        Assert.Equal(7, (await t.Store.GetAllocationAsync(Admin, a.Id)).Total.Micros);
    }

    [Fact]
    public async Task OnCommitted_RunsOnceTheGroupIsDurable_AndNeverForACallRolledBackToItsSavepoint()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 50m);
        var gate = await Gate.HoldAsync(t.Store);
        long? seenByCommitted = null;
        var rolledBackRan = false;
        var committed = t.Store.Engine.WriteAsync(s =>
        {
            s.SetTotal(a.Id.Value, 11);
            // Another connection sees the write only once it is committed.
            s.OnCommitted(() => seenByCommitted = RawSqlite.Scalar(t.Path, $"SELECT total FROM allocations WHERE id = {a.Id.Value}"));
            return 0;
        }, CancellationToken.None);
        var rolledBack = t.Store.Engine.WriteAsync(Sync<int>(s =>
        {
            s.OnCommitted(() => rolledBackRan = true);
            throw new InvalidOperationException("rolled back");
        }), CancellationToken.None);
        await gate.ReleaseAsync();
        await committed;
        await Assert.ThrowsAsync<InvalidOperationException>(() => rolledBack);
        Assert.Equal(11, seenByCommitted);
        Assert.False(rolledBackRan);
    }

    /// <summary>A call changes a SKU's rates, rates an event with them (which the store's schedule cache would keep),
    /// then fails and is rolled back to its savepoint. Another store on the file then commits a different change,
    /// which reaches the same catalogue version number: the next event must be rated with the committed rates, never
    /// with the schedule of the change that was rolled back.</summary>
    [Fact]
    public async Task ARolledBackCatalogueChange_LeavesNothingInTheScheduleCache()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 1_000m);
        await t.Store.RecordUsageAsync(Admin, Cpu(a, 1m, 0)); // the cache holds the current version
        var december = Instant.FromUtc(2026, 12, 2, 0, 0);
        var gpuInDecember = new UsageRecord(a.Id, TestStore.Gpu, Quantity.FromDecimal(1m), december, december + Duration.FromHours(1), UsageStatus.Confirmed);

        var gate = await Gate.HoldAsync(t.Store);
        var change = t.Store.Engine.WriteAsync(Sync<int>(s =>
        {
            var sku = s.FindSku(t.Organization.Value, "GPU_HOUR")!;
            var open = s.ListSkuRules(sku.Id).Single(r => r.ToNs is null);
            var from = december.Minus(Duration.FromDays(1)).ToUnixTimeTicks() * 100;
            s.SetRuleEnd(open.Id, from);
            s.InsertRule(sku.Id, null, from, null, Rate.FromDecimal(100m).Nanos, from, "test");
            var writer = new UsageWriter(s, Admin, from) { Catalogue = t.Store.Catalogue };
            Assert.Equal(Amount.FromDecimal(100m).Micros, writer.Plan(gpuInDecember, Operation.RecordUsage, UsageStatus.Confirmed).Row.Amount);
            throw new InvalidOperationException("rolled back after rating");
        }), CancellationToken.None);
        var other = t.Store.RecordUsageAsync(Admin, Cpu(a, 1m, 1));
        await gate.ReleaseAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => change);
        await other;

        using (var second = await AllocationStore.OpenAsync(t.Path))
        {
            await second.ChangeRateAsync(Admin, t.Organization, TestStore.Gpu, december - Duration.FromDays(1), Rate.FromDecimal(3m));
        }
        var recorded = await t.Store.RecordUsageAsync(Admin, gpuInDecember);
        Assert.Equal(Amount.FromDecimal(3m), recorded.Event.Amount);
        await AssertCleanAsync(t);
    }

    /// <summary>One call of a generated sequence.</summary>
    public sealed record Call(int Kind, int Allocation, int Quantity, int Key);

    /// <summary>Two calls of one group write events and journal entries and then fail: one after its flush (its
    /// events, its <c>usage.batch</c> entry and the journal's head rows written), one in the middle of its work (an
    /// event replaced, its per-event entry appended, the head rows still deferred). Each is rolled back to its
    /// savepoint, and the session must forget the ids, the journal's next sequence and head it had counted on: the
    /// calls after them take the next ids with no gap, chain onto the committed head, and leave the head rows
    /// matching the journal.</summary>
    [Fact]
    public async Task CallsRolledBackAfterWritingEventsAndJournalEntries_LeaveNoTrace_AndTheNextCallsIdsFollowOn()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 1_000m);
        Assert.True((await t.Store.ReserveAsync(Admin, Cpu(a, 1m, 0, "anchor", UsageStatus.Estimated))).Reserved);
        var lastEvent = RawSqlite.Scalar(t.Path, "SELECT MAX(id) FROM usage_events");
        var lastEntry = RawSqlite.Scalar(t.Path, "SELECT MAX(id) FROM journal");
        var nowNs = (Start + Duration.FromDays(1)).ToUnixTimeTicks() * 100;
        UsageWriter NewWriter(IStorageSession s) => new(s, Admin, nowNs) { Catalogue = t.Store.Catalogue };
        var before = Engine(t.Store).GroupStatistics;

        var gate = await Gate.HoldAsync(t.Store);
        var flushedThenFailed = t.Store.Engine.WriteAsync(Sync<int>(s =>
        {
            var writer = NewWriter(s);
            writer.Apply(writer.Plan(Cpu(a, 2m, 1, "gone-1"), Operation.RecordUsage, UsageStatus.Confirmed));
            writer.Apply(writer.Plan(Cpu(a, 2m, 2, "gone-2"), Operation.RecordUsage, UsageStatus.Confirmed));
            writer.Flush();
            Assert.NotNull(s.GetEvent(lastEvent + 2)); // the ids the calls after it take again
            throw new InvalidOperationException("after its events and its journal entry");
        }), CancellationToken.None);
        var batch = t.Store.RecordBatchAsync(Admin, [Cpu(a, 3m, 3, "kept-1"), Cpu(a, 3m, 4, "kept-2")]);
        var replacedThenFailed = t.Store.Engine.WriteAsync(Sync<int>(s =>
        {
            var writer = NewWriter(s);
            var plan = writer.Plan(Cpu(a, 7m, 0, "anchor"), Operation.RecordUsage, UsageStatus.Confirmed);
            Assert.Equal(RecordDisposition.Replaced, plan.Disposition);
            writer.Apply(plan);
            throw new InvalidOperationException("in the middle of its work");
        }), CancellationToken.None);
        var single = t.Store.RecordUsageAsync(Admin, Cpu(a, 5m, 5, "kept-3"));
        await gate.ReleaseAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => flushedThenFailed);
        await Assert.ThrowsAsync<InvalidOperationException>(() => replacedThenFailed);
        Assert.Equal([lastEvent + 1, lastEvent + 2], (await batch).EventIds.Select(id => id.Value));
        Assert.Equal(lastEvent + 3, (await single).Event.Id.Value);
        var groups = Engine(t.Store).GroupStatistics;
        Assert.Equal((1, 3), (groups.Commits - before.Commits, groups.Calls - before.Calls)); // one group: holder, batch, single

        var events = (await t.Store.ListEventsAsync(Admin, a.Id)).Events;
        Assert.Equal(["anchor", "kept-1", "kept-2", "kept-3"], events.Select(e => e.ExternalKey).Order(StringComparer.Ordinal));
        var anchor = events.Single(e => e.ExternalKey == "anchor");
        Assert.Equal((Quantity.FromDecimal(1m), UsageStatus.Estimated), (anchor.Quantity, anchor.Status));
        var after = await t.Store.GetAllocationAsync(Admin, a.Id);
        Assert.Equal((Amount.FromDecimal(3m + 3m + 5m), Amount.FromDecimal(1m)), (after.OwnUsed, after.OwnEstimated));
        var entries = await t.Store.GetOrganizationJournalAsync(Admin, t.Organization, afterSequence: lastEntry);
        Assert.Equal([lastEntry + 1, lastEntry + 2], entries.Select(e => e.Sequence));
        Assert.Equal(lastEntry + 3, RawSqlite.Scalar(t.Path, "SELECT next_sequence FROM journal_sequence WHERE id = 1"));
        Assert.Equal(lastEntry + 2, RawSqlite.Scalar(t.Path, $"SELECT last_sequence FROM journal_heads WHERE org_id = {t.Organization.Value}"));
        await AssertCleanAsync(t);
    }

    /// <summary>The allocation list a connection keeps between transactions: a call that reads it, changes a figure,
    /// reads it again and rolls back must leave the next call of its group, and the reads after the group, the
    /// committed figures; a call after it that commits a change must be seen by the next read.</summary>
    [Fact]
    public async Task TheAllocationListSnapshot_NeverServesARolledBackCall_OrMissesACommittedOne()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 50m);
        var org = t.Organization.Value;
        long TotalOf(IStorageSession s) => s.ListAllocations(org).Single(r => r.Id == a.Id.Value).Total;
        Assert.Equal(Amount.FromDecimal(50m), (await t.Store.ListAllocationsAsync(Admin, t.Organization)).Single().Total);
        var before = Engine(t.Store).GroupStatistics;

        var gate = await Gate.HoldAsync(t.Store);
        var rolledBack = t.Store.Engine.WriteAsync(Sync<long>(s =>
        {
            Assert.Equal(Amount.FromDecimal(50m).Micros, TotalOf(s));
            s.SetTotal(a.Id.Value, 1);
            Assert.Equal(1, TotalOf(s));
            throw new InvalidOperationException("rolled back");
        }), CancellationToken.None);
        var next = t.Store.Engine.WriteAsync(s => TotalOf(s), CancellationToken.None);
        var changer = t.Store.Engine.WriteAsync(s =>
        {
            s.SetTotal(a.Id.Value, Amount.FromDecimal(9m).Micros);
            return TotalOf(s);
        }, CancellationToken.None);
        await gate.ReleaseAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => rolledBack);
        Assert.Equal(Amount.FromDecimal(50m).Micros, await next);
        Assert.Equal(Amount.FromDecimal(9m).Micros, await changer);
        Assert.Equal(1, Engine(t.Store).GroupStatistics.Commits - before.Commits);
        Assert.Equal(Amount.FromDecimal(9m), (await t.Store.ListAllocationsAsync(Admin, t.Organization)).Single().Total);
        Assert.Equal(Amount.FromDecimal(9m), (await t.Store.ListAllocationsAsync(Admin, t.Organization)).Single().Total);
    }

    private static readonly Gen<Call> Calls =
        from kind in Gen.Frequency((4, Gen.Constant(0)), (4, Gen.Constant(1)), (1, Gen.Constant(2)), (1, Gen.Constant(3)), (1, Gen.Constant(4)))
        from allocation in Gen.Choose(0, 2)
        from quantity in Gen.Choose(0, 40)
        from key in Gen.Choose(0, 5)
        select new Call(kind, allocation, quantity, key);

    /// <summary>Any set of calls queued at once behind a running call (so they run as one group, in the order they
    /// were made) has exactly the outcome of the same calls made one after another on an identical store: each call's
    /// result or error, every figure, every event, and the journal down to its head hash.</summary>
    [Property(MaxTest = 25)]
    public Property CallsRunAsOneGroup_EndExactlyAsTheSameCallsRunOneByOne() =>
        Prop.ForAll(Arb.From(Gen.ListOf(Calls).Select(l => l.Take(24).ToArray())), calls =>
        {
            using var grouped = NewPropertyStoreAsync().GetAwaiter().GetResult();
            using var serial = NewPropertyStoreAsync().GetAwaiter().GetResult();

            var groupedAllocations = AllocationsByName(grouped);
            var gate = Gate.HoldAsync(grouped.Store).GetAwaiter().GetResult();
            var pending = calls.Select(c => Issue(grouped, groupedAllocations, c)).ToList();
            Assert.Equal(calls.Length, Engine(grouped.Store).WaitingCalls);
            gate.ReleaseAsync().GetAwaiter().GetResult();
            var groupedOutcomes = pending.Select(p => p.GetAwaiter().GetResult()).ToList();

            var serialAllocations = AllocationsByName(serial);
            var serialOutcomes = calls.Select(c => Issue(serial, serialAllocations, c).GetAwaiter().GetResult()).ToList();

            Assert.Equal(serialOutcomes, groupedOutcomes);
            Assert.Equal(Snapshot(serial).GetAwaiter().GetResult(), Snapshot(grouped).GetAwaiter().GetResult());
            AssertCleanAsync(grouped).GetAwaiter().GetResult();
        });

    private static readonly Gen<Call> OrderFreeCalls =
        from kind in Gen.Frequency((4, Gen.Constant(0)), (4, Gen.Constant(1)), (1, Gen.Constant(2)), (1, Gen.Constant(3)))
        from allocation in Gen.Choose(0, 2)
        from quantity in Gen.Choose(0, 5)
        select new Call(kind, allocation, quantity, 0);

    /// <summary>Calls made at once from many tasks, in whatever order they reach the gate, leave the same figures,
    /// events and number of journal entries as the calls that succeeded made one by one; each call's outcome is the
    /// same too. (Every call here has an outcome that does not depend on order: unique keys, and holds that always fit.)</summary>
    [Property(MaxTest = 15)]
    public Property CallsFromManyTasksAtOnce_EndAsTheSuccessfulOnesRunOneByOne() =>
        Prop.ForAll(Arb.From(Gen.ListOf(OrderFreeCalls).Select(l => l.Take(24).ToArray())), calls =>
        {
            using var concurrent = NewPropertyStoreAsync().GetAwaiter().GetResult();
            using var serial = NewPropertyStoreAsync().GetAwaiter().GetResult();
            var concurrentAllocations = AllocationsByName(concurrent);
            var outcomes = Task.WhenAll(calls.Select((c, i) => Task.Run(() => IssueOrderFree(concurrent, concurrentAllocations, c, i)))).GetAwaiter().GetResult();

            var serialAllocations = AllocationsByName(serial);
            for (var i = 0; i < calls.Length; i++)
            {
                if (!outcomes[i].StartsWith("failed", StringComparison.Ordinal))
                {
                    Assert.Equal(outcomes[i], IssueOrderFree(serial, serialAllocations, calls[i], i).GetAwaiter().GetResult());
                }
                else
                {
                    Assert.True(calls[i].Kind >= 2, $"call {i} ({calls[i]}) failed: {outcomes[i]}");
                }
            }
            Assert.Equal(Snapshot(serial, withIds: false).GetAwaiter().GetResult(), Snapshot(concurrent, withIds: false).GetAwaiter().GetResult());
            AssertCleanAsync(concurrent).GetAwaiter().GetResult();
        });

    private static async Task<string> IssueOrderFree(TestStore t, Allocation[] allocations, Call call, int index)
    {
        var target = allocations[call.Allocation];
        try
        {
            switch (call.Kind)
            {
                case 0:
                    var hold = await t.Store.ReserveAsync(Admin, Cpu(target, call.Quantity, index % 24, $"hold-{index}", UsageStatus.Estimated));
                    return hold.Event is { } e ? $"held {e.Amount.Micros}" : "refused";
                case 1:
                    var record = await t.Store.RecordUsageAsync(Admin, Cpu(target, call.Quantity, index % 24, $"use-{index}"));
                    return $"{record.Disposition} {record.Event.Amount.Micros}";
                case 2:
                    await t.Store.RecordBatchAsync(Admin, [Cpu(target, call.Quantity, 1, $"batch-{index}"), Cpu(target, 2m, 0, "anchor")]);
                    return "batch stored";
                default:
                    await t.Store.RecordUsageAsync(Admin, new UsageRecord(target.Id, new SkuCode("NO_SUCH_SKU"), Quantity.FromDecimal(1m), Start, Start + Duration.FromHours(1), UsageStatus.Confirmed));
                    return "unknown SKU stored";
            }
        }
        catch (AllocationsException ex)
        {
            return "failed " + ex.GetType().Name;
        }
    }

    private static async Task<TestStore> NewPropertyStoreAsync()
    {
        var t = await TestStore.CreateAsync();
        var parent = await t.CreateAllocationAsync("P", 300m);
        await t.CreateAllocationAsync("C0", 200m, parent);
        await t.CreateAllocationAsync("C1", 200m, parent);
        await t.Store.RecordUsageAsync(Admin, Cpu(parent, 1m, 0, "anchor"));
        return t;
    }

    private static Allocation[] AllocationsByName(TestStore t)
    {
        var all = t.Store.ListAllocationsAsync(Admin, t.Organization).GetAwaiter().GetResult();
        return [all.Single(a => a.Name == "P"), all.Single(a => a.Name == "C0"), all.Single(a => a.Name == "C1")];
    }

    /// <summary>Makes one generated call and describes what came of it. Its write is queued before this returns.</summary>
    private static async Task<string> Issue(TestStore t, Allocation[] allocations, Call call)
    {
        var target = allocations[call.Allocation];
        try
        {
            switch (call.Kind)
            {
                case 0:
                    var hold = await t.Store.ReserveAsync(Admin, Cpu(target, call.Quantity, call.Key, call.Key % 2 == 0 ? $"key-{call.Key}" : null, UsageStatus.Estimated));
                    return hold.Event is { } e ? $"held {e.Id.Value} {e.Amount.Micros}" : $"refused {hold.Fit.BlockedBy?.Value} {hold.Fit.Shortfall.Micros}";
                case 1:
                    var record = await t.Store.RecordUsageAsync(Admin, Cpu(target, call.Quantity, call.Key, $"key-{call.Key}"));
                    return $"{record.Disposition} {record.Event.Id.Value} {record.Event.Amount.Micros}";
                case 2:
                    // A batch that writes its first item and then conflicts with the anchor: nothing of it stays.
                    await t.Store.RecordBatchAsync(Admin, [Cpu(target, call.Quantity, call.Key, $"batch-{call.Key}"), Cpu(target, 2m, 0, "anchor")]);
                    return "batch stored";
                case 3:
                    await t.Store.RecordUsageAsync(Admin, new UsageRecord(target.Id, new SkuCode("NO_SUCH_SKU"), Quantity.FromDecimal(1m), Start, Start + Duration.FromHours(1), UsageStatus.Confirmed));
                    return "unknown SKU stored";
                default:
                    return "total " + await t.Store.Engine.WriteAsync(Sync<long>(s =>
                    {
                        s.SetTotal(target.Id.Value, call.Quantity);
                        if (call.Quantity % 2 == 1)
                        {
                            throw new InvalidOperationException("odd");
                        }
                        return call.Quantity;
                    }), CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is AllocationsException or InvalidOperationException)
        {
            return ex.GetType().Name + " " + ex.Message;
        }
    }

    private static async Task<string> Snapshot(TestStore t, bool withIds = true)
    {
        var lines = new List<string>();
        foreach (var a in await t.Store.ListAllocationsAsync(Admin, t.Organization))
        {
            lines.Add($"{a.Name} total {a.Total.Micros} used {a.Used.Micros} estimated {a.Estimated.Micros} own {a.OwnUsed.Micros}/{a.OwnEstimated.Micros}");
            var events = (await t.Store.ListEventsAsync(Admin, a.Id)).Events;
            foreach (var e in withIds ? events.OrderBy(e => e.Id.Value) : events.OrderBy(e => e.ExternalKey, StringComparer.Ordinal))
            {
                lines.Add($"  {(withIds ? e.Id.Value : 0)} {e.ExternalKey} {e.Status} {e.Amount.Micros} {e.Quantity.Micros}");
            }
        }
        var journal = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        lines.Add($"journal {journal.EntriesChecked} {(withIds ? journal.HeadHash : null)}");
        return string.Join('\n', lines);
    }

    private static async Task AssertCleanAsync(TestStore t)
    {
        var report = await t.Store.VerifyAsync(Admin, t.Organization);
        Assert.True(report.IsClean, string.Join("; ", report.Discrepancies));
        var journal = await t.Store.VerifyJournalAsync(Admin, t.Organization);
        Assert.True(journal.IsIntact, $"journal broken at {journal.FirstBrokenSequence}: {journal.Problem}");
    }

    [Fact]
    public async Task AlertsOfACallRolledBackToItsSavepoint_AreNotRecorded_AndTheNextCallsCrossingIs()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 100m);
        await t.Store.SetAlertThresholdsAsync(Admin, a.Id, [AlertThreshold.PercentUsed(50)]);
        await t.Store.RecordUsageAsync(Admin, Cpu(a, 1m, 0, "anchor"));

        var gate = await Gate.HoldAsync(t.Store);
        // Crosses 50 % with its first item, then conflicts on its second: rolled back with its alert.
        var conflicting = t.Store.RecordBatchAsync(Admin, [Cpu(a, 60m, 2, "rolled-back"), Cpu(a, 9m, 0, "anchor")]);
        // Moves the figures directly and throws: its figure changes must not reach the next call.
        var thrower = t.Store.Engine.WriteAsync(Sync<int>(s =>
        {
            s.SetTotal(a.Id.Value, 1);
            throw new InvalidOperationException("the call's own failure");
        }), CancellationToken.None);
        var crossing = t.Store.RecordUsageAsync(Admin, Cpu(a, 55m, 3, "crossing"));
        await gate.ReleaseAsync();

        await Assert.ThrowsAsync<ConflictException>(() => conflicting);
        await Assert.ThrowsAsync<InvalidOperationException>(() => thrower);
        var recorded = await crossing;
        var alert = Assert.Single((await t.Store.GetAlertsAsync(Admin, t.Organization)).Alerts);
        Assert.Equal((recorded.Event.Id, Amount.FromDecimal(100m), Amount.FromDecimal(1m + 55m)), (alert.Event!.Value, alert.Total, alert.Used));
    }

    /// <summary>A write call that holds the store's write gate until released: every write made meanwhile queues
    /// behind it and joins its group (up to the engine's limit of calls per group).</summary>
    private sealed class Gate
    {
        private readonly TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task? held;

        internal static async Task<Gate> HoldAsync(AllocationStore store, Action<IStorageSession>? work = null, bool fail = false)
        {
            var gate = new Gate();
            // Every call queued while the gate is held joins the holder's group, however slow the machine.
            Engine(store).MaxGroupWork = TimeSpan.FromMinutes(5);
            var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            gate.held = Task.Run(() => store.Engine.WriteAsync(s =>
            {
                work?.Invoke(s);
                entered.SetResult();
                if (!gate.release.Task.Wait(TimeSpan.FromMinutes(2)))
                {
                    throw new TimeoutException("the test never released the gate");
                }
                return fail ? throw new InvalidOperationException("the holder fails") : 0;
            }, CancellationToken.None));
            await entered.Task.WaitAsync(TimeSpan.FromMinutes(1));
            return gate;
        }

        internal Task ReleaseAsync()
        {
            release.SetResult();
            return held!;
        }
    }
}
