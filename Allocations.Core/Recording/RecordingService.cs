using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;
using Allocations.Utility;

namespace Allocations.Recording;

/// <summary>Recording, reserving, confirming, releasing and deleting usage, inside the caller's unit of work: access,
/// the locks the figures need, then <see cref="UsageWriter"/> for the writes.</summary>
internal static class RecordingService
{
    /// <param name="uow">The unit of work.</param>
    /// <param name="record">The record.</param>
    /// <param name="validated">What <see cref="UsageWriter.Validate"/> returned for it (checked once, before the transaction).</param>
    internal static async ValueTask<RecordResult> RecordAsync(UnitOfWork uow, UsageRecord record, (long StartNs, long EndNs, string? AttributesJson) validated)
    {
        AccessRule.CheckActor(uow.Actor);
        await uow.LockWithParentsAsync(record.Allocation.Value).ConfigureAwait(false);
        var writer = uow.Writer();
        var plan = writer.Plan(record, Operation.RecordUsage, record.Status, validated);
        writer.Apply(plan);
        writer.Flush();
        return new RecordResult(plan.Disposition, writer.ToEvent(plan.Row, plan.Disposition == RecordDisposition.Unchanged ? null : plan.Segments));
    }

    /// <summary>Checks every record of a batch before storage is touched. All or nothing: the first bad item throws,
    /// naming its index. Per item: each bad item's exception is kept in the refusals (null when none is bad).</summary>
    internal static ((long StartNs, long EndNs, string? AttributesJson)[] Validated, AllocationsException?[]? Refusals) Validate(IReadOnlyList<UsageRecord> records, BatchMode mode)
    {
        Preconditions.CheckNotNull(records, "records");
        if (mode is not (BatchMode.AllOrNothing or BatchMode.PerItem))
        {
            throw new InvalidInputException("mode", mode.ToString(), "must be AllOrNothing or PerItem");
        }
        var validated = new (long StartNs, long EndNs, string? AttributesJson)[records.Count];
        AllocationsException?[]? refusals = null;
        for (var i = 0; i < records.Count; i++)
        {
            if (mode == BatchMode.AllOrNothing)
            {
                validated[i] = WithIndex(i, () => UsageWriter.Validate(records[i]));
                continue;
            }
            try
            {
                validated[i] = UsageWriter.Validate(records[i]);
            }
            catch (AllocationsException ex)
            {
                (refusals ??= new AllocationsException?[records.Count])[i] = ex;
            }
        }
        return (validated, refusals);
    }

    internal static async ValueTask<BatchResult> RecordBatchAsync(
        UnitOfWork uow, IReadOnlyList<UsageRecord> records, BatchMode mode, (long StartNs, long EndNs, string? AttributesJson)[] validated, AllocationsException?[]? refusals)
    {
        AccessRule.CheckActor(uow.Actor);
        await LockNamedAsync(uow, records).ConfigureAwait(false);
        var writer = uow.Writer();
        var result = ApplyBatch(writer, records, uow.CancellationToken, mode, validated, refusals);
        writer.Flush();
        return result;
    }

    internal static async ValueTask<ReserveResult> ReserveAsync(
        UnitOfWork uow, UsageRecord record, (long StartNs, long EndNs, string? AttributesJson) validated, HoldExpiry expiry, NodaTime.Duration? defaultExpiry, Action<AllocationId, FitCheck> refused)
    {
        AccessRule.CheckActor(uow.Actor);
        // The fit check reads Remaining and the insert spends it: the allocation and its parent are locked first, so
        // the figures the writer reads are the ones it changes.
        await uow.LockWithParentsAsync(record.Allocation.Value).ConfigureAwait(false);
        var writer = uow.Writer();
        if (writer.PeriodRefusal(record, Operation.Reserve, validated.StartNs) is { } outside)
        {
            refused(record.Allocation, outside);
            return new ReserveResult(outside, null);
        }
        var plan = writer.Plan(record, Operation.Reserve, UsageStatus.Estimated, validated);
        var expiresNs = expiry.ResolveNs(uow.NowNs, defaultExpiry);
        if (plan.Disposition == RecordDisposition.Unchanged)
        {
            // A repeat of a live hold returns it as it is, expiry included.
            return new ReserveResult(new FitCheck(true, Amount.FromMicros(plan.Row.Amount), null, Amount.Zero), writer.ToEvent(plan.Row));
        }
        plan.Row.ExpiresNs = expiresNs;
        var fit = writer.Fit(plan);
        if (!fit.Fits)
        {
            uow.Session.OnCommitted(() => refused(record.Allocation, fit));
            return new ReserveResult(fit, null);
        }
        writer.Apply(plan);
        writer.Flush();
        return new ReserveResult(fit, writer.ToEvent(plan.Row, plan.Segments));
    }

    internal static FitCheck CheckFit(UnitOfWork uow, UsageRecord record, (long StartNs, long EndNs, string? AttributesJson) validated)
    {
        AccessRule.CheckActor(uow.Actor);
        var writer = uow.Writer();
        if (writer.PeriodRefusal(record, Operation.CheckFit, validated.StartNs) is { } outside)
        {
            return outside;
        }
        var plan = writer.Plan(record.WithoutKey(), Operation.CheckFit, UsageStatus.Estimated, validated);
        return writer.Fit(plan);
    }

    internal static async ValueTask<HoldResult> ConfirmAsync(UnitOfWork uow, UsageEventId eventId, Quantity? finalQuantity, NodaTime.Instant? finalEnd)
    {
        AccessRule.CheckActor(uow.Actor);
        await LockEventsAllocationAsync(uow, eventId).ConfigureAwait(false);
        var writer = uow.Writer();
        var row = writer.Event(eventId, Operation.Confirm);
        writer.RequireOwnHoldOr(row, Operation.ConfirmOthersHold);
        var (confirmed, status) = writer.Confirm(row, finalQuantity, finalEnd);
        writer.Flush();
        return new HoldResult(status, writer.ToEvent(confirmed));
    }

    /// <summary>Changes a hold's expiry; one that has already expired is left as it is (reserve again instead).</summary>
    internal static async ValueTask<HoldResult> ExtendAsync(UnitOfWork uow, UsageEventId eventId, HoldExpiry expiry, NodaTime.Duration? defaultExpiry)
    {
        AccessRule.CheckActor(uow.Actor);
        await LockEventsAllocationAsync(uow, eventId).ConfigureAwait(false);
        var writer = uow.Writer();
        var row = writer.Event(eventId, Operation.ExtendHold);
        RequireHold(row, eventId, "extend");
        writer.RequireOwnHoldOr(row, Operation.ExtendOthersHold);
        var expiresNs = expiry.ResolveNs(uow.NowNs, defaultExpiry);
        if (writer.IsExpired(row))
        {
            return new HoldResult(HoldStatus.Expired, writer.ToEvent(row));
        }
        if (row.ExpiresNs != expiresNs)
        {
            writer.SetExpiry(row, expiresNs);
            writer.Flush();
        }
        return new HoldResult(HoldStatus.Extended, writer.ToEvent(row));
    }

    /// <summary>How many expired holds a sweep reads (and locks the allocations of) at a time.</summary>
    private const int SweepPage = 500;

    /// <summary>Deletes the organization's expired holds on the allocations the actor may Use, one journal entry
    /// each. They no longer count already, so Remaining and Estimated as callers see them do not change.</summary>
    internal static async ValueTask<int> ReleaseExpiredAsync(UnitOfWork uow, OrganizationId organization)
    {
        AccessRule.CheckActor(uow.Actor);
        var writer = uow.Writer();
        var released = 0;
        var afterId = 0L;
        while (true)
        {
            uow.CancellationToken.ThrowIfCancellationRequested();
            var page = uow.Session.ListExpiredHolds(organization.Value, uow.NowNs, afterId, SweepPage);
            if (page.Count == 0)
            {
                break;
            }
            afterId = page[^1].Id;
            await uow.Session.LockAllocationsAsync([.. page.Select(h => h.AllocationId).Distinct().Order()], withParents: true).ConfigureAwait(false);
            foreach (var listed in page)
            {
                // Read again under the lock: a server engine's concurrent writer may have confirmed, released or
                // extended it since it was listed.
                if (uow.Session.GetEvent(listed.Id) is not { } row || !writer.IsExpired(row)
                    || uow.Access.LevelOn(writer.Load(row.AllocationId)) < Permissions.For(Operation.SweepExpiredHolds).Level)
                {
                    continue;
                }
                writer.Remove(row, "usage.expire");
                released++;
            }
        }
        writer.Flush();
        return released;
    }

    private static void RequireHold(EventRow row, UsageEventId eventId, string verb)
    {
        if (row.Status != (int)UsageStatus.Estimated)
        {
            throw new ConflictException($"{eventId} is Confirmed, not a hold; there is nothing to {verb}", ["status"]);
        }
    }

    internal static async ValueTask<UsageEvent> ReleaseAsync(UnitOfWork uow, UsageEventId eventId)
    {
        AccessRule.CheckActor(uow.Actor);
        await LockEventsAllocationAsync(uow, eventId).ConfigureAwait(false);
        var writer = uow.Writer();
        var row = writer.Event(eventId, Operation.ReleaseHold);
        if (row.Status != (int)UsageStatus.Estimated)
        {
            throw new ConflictException($"{eventId} is Confirmed, not a hold; delete it instead (needs Admin)", ["status"]);
        }
        writer.RequireOwnHoldOr(row, Operation.ReleaseOthersHold);
        var released = writer.ToEvent(row);
        writer.Remove(row, "usage.release");
        writer.Flush();
        return released;
    }

    internal static async ValueTask<UsageEvent> DeleteEventAsync(UnitOfWork uow, UsageEventId eventId)
    {
        AccessRule.CheckActor(uow.Actor);
        await LockEventsAllocationAsync(uow, eventId).ConfigureAwait(false);
        var writer = uow.Writer();
        var row = writer.Event(eventId, Operation.ReadEvents);
        writer.Allocation(row.AllocationId, row.Status == (int)UsageStatus.Confirmed ? Operation.DeleteConfirmedEvent : Operation.DeleteEstimatedEvent);
        writer.RequireOwnHoldOr(row, Operation.DeleteOthersEstimatedEvent);
        var deleted = writer.ToEvent(row);
        writer.Remove(row);
        writer.Flush();
        return deleted;
    }

    internal static UsageEvent GetEvent(UnitOfWork uow, UsageEventId eventId)
    {
        AccessRule.CheckActor(uow.Actor);
        var row = uow.Session.GetEvent(eventId.Value) ?? throw new NotFoundException(eventId);
        return ReadableEvent(uow, row);
    }

    internal static UsageEvent? FindEventByKey(UnitOfWork uow, OrganizationId organization, string externalKey)
    {
        var row = uow.Session.FindEventByKey(organization.Value, uow.Actor.Encoded, externalKey);
        if (row is null)
        {
            return null;
        }
        try
        {
            return ReadableEvent(uow, row);
        }
        catch (NotFoundException)
        {
            return null;
        }
    }

    /// <summary>An event the actor may Read, with its segments; one on an allocation it may not Read is not found.</summary>
    private static UsageEvent ReadableEvent(UnitOfWork uow, EventRow row)
    {
        try
        {
            uow.Access.RequireAllocation(new AllocationId(row.AllocationId), Operation.ReadEvents);
        }
        catch (NotFoundException)
        {
            throw new NotFoundException(new UsageEventId(row.Id));
        }
        return RowMapping.ToEvent(row, uow.Session.ListSegments(row.Id));
    }

    /// <summary>Locks the allocation of an event and its parent before the writer reads their figures. A missing event
    /// locks nothing (the writer then reports it missing).</summary>
    private static ValueTask LockEventsAllocationAsync(UnitOfWork uow, UsageEventId eventId) =>
        uow.Session.GetEvent(eventId.Value) is { } row ? uow.LockWithParentsAsync(row.AllocationId) : ValueTask.CompletedTask;

    /// <summary>Locks the allocations a batch names, with their parents, in one call before anything is planned.</summary>
    internal static ValueTask LockNamedAsync(UnitOfWork uow, IReadOnlyList<UsageRecord> records)
    {
        var named = new SortedSet<long>();
        foreach (var record in records)
        {
            if (record is not null && record.Allocation.Value > 0)
            {
                named.Add(record.Allocation.Value);
            }
        }
        return named.Count == 0 ? ValueTask.CompletedTask : uow.Session.LockAllocationsAsync([.. named], withParents: true);
    }

    /// <summary>The batch recording path inside a write transaction (the caller flushes): the chunk's allocations and
    /// keys are prefetched, then the items planned and applied in order. In <see cref="BatchMode.PerItem"/>, an item the
    /// store refuses while planning (before it writes anything), or one already refused in
    /// <paramref name="refusals"/> (by validation), is answered <see cref="BatchItemStatus.Refused"/> and left out
    /// instead of failing the batch; a failure while writing always fails it.</summary>
    internal static BatchResult ApplyBatch(
        UsageWriter writer,
        IReadOnlyList<UsageRecord> records,
        CancellationToken cancellationToken,
        BatchMode mode = BatchMode.AllOrNothing,
        (long StartNs, long EndNs, string? AttributesJson)[]? validated = null,
        AllocationsException?[]? refusals = null)
    {
        writer.Prefetch(records);
        var ids = new UsageEventId[records.Count];
        var statuses = new BatchItemStatus[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            if ((i & 255) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (refusals?[i] is not null)
            {
                statuses[i] = BatchItemStatus.Refused;
                continue;
            }
            var record = records[i];
            PlannedRecord plan;
            if (mode == BatchMode.AllOrNothing)
            {
                plan = WithIndex(i, () => validated is null
                    ? writer.Plan(record, Operation.RecordUsage, record.Status)
                    : writer.Plan(record, Operation.RecordUsage, record.Status, validated[i]));
            }
            else
            {
                try
                {
                    plan = validated is null
                        ? writer.Plan(record, Operation.RecordUsage, record.Status)
                        : writer.Plan(record, Operation.RecordUsage, record.Status, validated[i]);
                }
                catch (AllocationsException ex)
                {
                    (refusals ??= new AllocationsException?[records.Count])[i] = ex;
                    statuses[i] = BatchItemStatus.Refused;
                    continue;
                }
            }
            var id = WithIndex(i, () => writer.Apply(plan, out var disposition) is var eventId
                ? (eventId, disposition)
                : default);
            ids[i] = new UsageEventId(id.eventId);
            statuses[i] = (BatchItemStatus)id.disposition;
        }
        return new BatchResult(ids, statuses, refusals);
    }

    private static T WithIndex<T>(int index, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (AllocationsException ex) when (ex.BatchIndex is null)
        {
            ex.BatchIndex = index;
            throw;
        }
    }
}
