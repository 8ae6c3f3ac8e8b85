using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Recording;
using Allocations.Storage;
using Allocations.Utility;
using NodaTime;

namespace Allocations;

public sealed partial class AllocationStore
{
    /// <summary>Rates and records one usage event.</summary>
    /// <remarks>Recording Confirmed usage never fails for lack of budget: an overrun shows as negative Remaining.
    /// With an external key the call is idempotent (see <see cref="UsageRecord"/>).</remarks>
    /// <param name="actor">Use on the allocation.</param>
    /// <param name="record">What to record.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>What happened and the event as stored.</returns>
    /// <exception cref="InvalidInputException">A field is invalid, or the SKU's unit differs from the allocation's.</exception>
    /// <exception cref="NotFoundException">The allocation (or one the actor may not Read) or the SKU does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor lacks Use.</exception>
    /// <exception cref="NoRateException">No rate (or USD price) is in force at some instant of the interval.</exception>
    /// <exception cref="ConflictException">The key names a Confirmed event with different content.</exception>
    public Task<RecordResult> RecordUsageAsync(Principal actor, UsageRecord record, CancellationToken cancellationToken = default)
    {
        UsageWriter.Validate(record);
        return Observed("record", () => engine.WriteAsync(
            session =>
            {
                AccessResolver.CheckActor(actor);
                var writer = Writer(session, actor);
                var plan = writer.Plan(record, Operation.RecordUsage, record.Status);
                writer.Apply(plan);
                writer.Flush();
                return new RecordResult(plan.Disposition, writer.ToEvent(plan.Row, plan.Disposition == RecordDisposition.Unchanged ? null : plan.Segments));
            },
            cancellationToken), CountRecord);
    }

    /// <summary>Records many events in one transaction: by default all of them or none; with
    /// <see cref="BatchMode.PerItem"/>, every item the store accepts, with an answer per item.</summary>
    /// <remarks>
    /// <para>In <see cref="BatchMode.AllOrNothing"/> the first item the store refuses fails the batch: its exception is
    /// thrown with <see cref="AllocationsException.BatchIndex"/> naming the item, and nothing is stored.</para>
    /// <para>In <see cref="BatchMode.PerItem"/> a refused item (one that <see cref="RecordUsageAsync"/> alone would
    /// refuse: an invalid field, an unknown allocation or SKU, no access, no rate, a conflict under its key) is left
    /// out and answered in <see cref="BatchResult.Items"/> with <see cref="BatchItemStatus.Refused"/> and its exception;
    /// it changes nothing. The accepted items are recorded in order, as if the refused ones were not in the batch, and
    /// commit together in the batch's one transaction. A fault that is not about one item (cancellation, the store
    /// unavailable, a figure pushed past the amount range while writing) still fails the whole batch and stores
    /// nothing.</para>
    /// </remarks>
    /// <param name="actor">Use on every allocation named.</param>
    /// <param name="records">The events, in order; a key repeated within the batch behaves as if recorded in turn.</param>
    /// <param name="mode">All or nothing (the default), or an answer per item.</param>
    /// <param name="cancellationToken">Cancels the call; nothing is stored when cancelled.</param>
    /// <returns>Counts of what happened, each item's event id, and each item's answer.</returns>
    /// <exception cref="InvalidInputException"><paramref name="records"/> is null, or <paramref name="mode"/> is not
    /// defined.</exception>
    /// <exception cref="AllocationsException">In <see cref="BatchMode.AllOrNothing"/>: any error of
    /// <see cref="RecordUsageAsync"/>, with <see cref="AllocationsException.BatchIndex"/> naming the item; nothing was
    /// stored.</exception>
    public Task<BatchResult> RecordBatchAsync(
        Principal actor,
        IReadOnlyList<UsageRecord> records,
        BatchMode mode = BatchMode.AllOrNothing,
        CancellationToken cancellationToken = default)
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
        return Observed("batch", () => engine.WriteAsync(
            session =>
            {
                AccessResolver.CheckActor(actor);
                var writer = Writer(session, actor);
                var result = ApplyBatch(writer, records, cancellationToken, mode, validated, refusals);
                writer.Flush();
                return result;
            },
            cancellationToken), CountBatch);
    }

    /// <summary>A writer for one transaction of this store, sharing the store's compiled-schedule cache.</summary>
    /// <param name="session">The transaction.</param>
    /// <param name="actor">Who acts.</param>
    /// <param name="source">The key scope to record in: null for the actor's own, or the importer's.</param>
    private UsageWriter Writer(IStorageSession session, Principal actor, string? source = null) =>
        new(session, actor, NowNs(), source) { Catalogue = catalogue };

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

    /// <summary>Places an Estimated hold only if it fits the Remaining of the allocation and of its parent, atomically.</summary>
    /// <remarks>The record's status is ignored: a hold is Estimated. "Does not fit" is a result, not an error; nothing
    /// is written then. Racing reservations from several threads or processes never exceed a total.</remarks>
    /// <param name="actor">Use on the allocation.</param>
    /// <param name="record">The hold to place.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The hold, or the fit decision that refused it.</returns>
    /// <exception cref="InvalidInputException">A field is invalid.</exception>
    /// <exception cref="NotFoundException">The allocation or SKU does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor lacks Use.</exception>
    /// <exception cref="NoRateException">No rate is in force at some instant of the interval.</exception>
    /// <exception cref="ConflictException">The key names a Confirmed event.</exception>
    public Task<ReserveResult> ReserveAsync(Principal actor, UsageRecord record, CancellationToken cancellationToken = default)
    {
        UsageWriter.Validate(record);
        return Observed("reserve", () => engine.WriteAsync(
            session =>
            {
                AccessResolver.CheckActor(actor);
                var writer = Writer(session, actor);
                var plan = writer.Plan(record, Operation.Reserve, UsageStatus.Estimated);
                if (plan.Disposition == RecordDisposition.Unchanged)
                {
                    return new ReserveResult(new FitCheck(true, Amount.FromMicros(plan.Row.Amount), null, Amount.Zero), writer.ToEvent(plan.Row));
                }
                var fit = writer.Fit(plan);
                if (!fit.Fits)
                {
                    session.OnCommitted(() => LogReservationRefused(record.Allocation, fit));
                    return new ReserveResult(fit, null);
                }
                writer.Apply(plan);
                writer.Flush();
                return new ReserveResult(fit, writer.ToEvent(plan.Row, plan.Segments));
            },
            cancellationToken), CountReservation);
    }

    /// <summary>Answers "would this fit?" without writing: the same decision <see cref="ReserveAsync"/> would make now.</summary>
    /// <param name="actor">Read on the allocation.</param>
    /// <param name="record">The usage to test.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The fit decision with the rated amount.</returns>
    /// <exception cref="InvalidInputException">A field is invalid.</exception>
    /// <exception cref="NotFoundException">The allocation or SKU does not exist.</exception>
    /// <exception cref="NoRateException">No rate is in force at some instant of the interval.</exception>
    public Task<FitCheck> CheckFitAsync(Principal actor, UsageRecord record, CancellationToken cancellationToken = default)
    {
        UsageWriter.Validate(record);
        return engine.ReadAsync(
            session =>
            {
                AccessResolver.CheckActor(actor);
                var writer = Writer(session, actor);
                var plan = writer.Plan(record.WithoutKey(), Operation.CheckFit, UsageStatus.Estimated);
                return writer.Fit(plan);
            },
            cancellationToken);
    }

    /// <summary>Turns an Estimated event Confirmed, optionally with its final quantity and end (re-rated).</summary>
    /// <remarks>Confirming a Confirmed event again without changes returns it unchanged, so retries are safe.</remarks>
    /// <param name="actor">Use on the event's allocation.</param>
    /// <param name="eventId">The event.</param>
    /// <param name="finalQuantity">The final quantity, or null to keep it.</param>
    /// <param name="finalEnd">The final end, or null to keep it; not earlier than the start.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The Confirmed event.</returns>
    /// <exception cref="InvalidInputException">The final end is before the start or out of range.</exception>
    /// <exception cref="NotFoundException">The event does not exist or the actor may not Read its allocation.</exception>
    /// <exception cref="AccessDeniedException">The actor lacks Use.</exception>
    /// <exception cref="ConflictException">It is already Confirmed with a different quantity or end.</exception>
    /// <exception cref="NoRateException">No rate is in force over the new interval.</exception>
    public Task<UsageEvent> ConfirmAsync(Principal actor, UsageEventId eventId, Quantity? finalQuantity = null, Instant? finalEnd = null, CancellationToken cancellationToken = default)
    {
        if (finalEnd is { } end)
        {
            InstantCodec.ToNs(end, "finalEnd");
        }
        return Observed("confirm", () => engine.WriteAsync(
            session =>
            {
                AccessResolver.CheckActor(actor);
                var writer = Writer(session, actor);
                var row = writer.Event(eventId, Operation.Confirm);
                writer.RequireOwnHoldOr(row, Operation.ConfirmOthersHold);
                var confirmed = writer.Confirm(row, finalQuantity, finalEnd);
                writer.Flush();
                return writer.ToEvent(confirmed);
            },
            cancellationToken));
    }

    /// <summary>Releases an Estimated hold: deletes it and gives its amount back.</summary>
    /// <param name="actor">Use on the event's allocation.</param>
    /// <param name="eventId">The hold.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The released event as it was.</returns>
    /// <exception cref="NotFoundException">The event does not exist or the actor may not Read its allocation.</exception>
    /// <exception cref="AccessDeniedException">The actor lacks Use.</exception>
    /// <exception cref="ConflictException">The event is Confirmed (delete it with <see cref="DeleteEventAsync"/>).</exception>
    public Task<UsageEvent> ReleaseAsync(Principal actor, UsageEventId eventId, CancellationToken cancellationToken = default) =>
        Observed("release", () => engine.WriteAsync(
            session =>
            {
                AccessResolver.CheckActor(actor);
                var writer = Writer(session, actor);
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
            },
            cancellationToken));

    /// <summary>Deletes a usage event and reverses its amount (a refund or a correction).</summary>
    /// <param name="actor">Use on the allocation for an Estimated event; Admin for a Confirmed one.</param>
    /// <param name="eventId">The event.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The deleted event as it was.</returns>
    /// <exception cref="NotFoundException">The event does not exist or the actor may not Read its allocation.</exception>
    /// <exception cref="AccessDeniedException">The actor lacks the level.</exception>
    public Task<UsageEvent> DeleteEventAsync(Principal actor, UsageEventId eventId, CancellationToken cancellationToken = default) =>
        engine.WriteAsync(
            session =>
            {
                AccessResolver.CheckActor(actor);
                var writer = Writer(session, actor);
                var row = writer.Event(eventId, Operation.ReadEvents);
                writer.Allocation(row.AllocationId, row.Status == (int)UsageStatus.Confirmed ? Operation.DeleteConfirmedEvent : Operation.DeleteEstimatedEvent);
                writer.RequireOwnHoldOr(row, Operation.DeleteOthersEstimatedEvent);
                var deleted = writer.ToEvent(row);
                writer.Remove(row);
                writer.Flush();
                return deleted;
            },
            cancellationToken);

    /// <summary>Gets a usage event with its rated segments.</summary>
    /// <param name="actor">Read on the event's allocation.</param>
    /// <param name="eventId">The event.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The event.</returns>
    /// <exception cref="NotFoundException">The event does not exist or the actor may not Read its allocation.</exception>
    public Task<UsageEvent> GetEventAsync(Principal actor, UsageEventId eventId, CancellationToken cancellationToken = default) =>
        Observed("get_event", () => engine.ReadAsync(
            session =>
            {
                AccessResolver.CheckActor(actor);
                var writer = Writer(session, actor);
                return writer.ToEvent(writer.Event(eventId, Operation.ReadEvents));
            },
            cancellationToken));

    /// <summary>Finds the event the caller recorded under an external key in an organization.</summary>
    /// <remarks>External keys are scoped by source: a host user's events are looked up among those she recorded, the
    /// system actor's among the system actor's. Events the Slurm importer recorded (source <c>slurm</c>) and other
    /// users' events are not found here, even under the same key; list them with
    /// <see cref="ListEventsAsync"/>.</remarks>
    /// <param name="actor">Read on the event's allocation; the event must be of the actor's own source.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="externalKey">The key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The event, or null when the actor recorded no event under that key that it may still Read.</returns>
    /// <exception cref="InvalidInputException">The key is empty, longer than 400 characters or not valid UTF-16.</exception>
    public Task<UsageEvent?> FindEventByKeyAsync(Principal actor, OrganizationId organization, string externalKey, CancellationToken cancellationToken = default)
    {
        AccessResolver.CheckActor(actor);
        Preconditions.CheckExternalKey(externalKey, "externalKey");
        return engine.ReadAsync(
            session =>
            {
                var row = session.FindEventByKey(organization.Value, actor.Encoded, externalKey);
                if (row is null)
                {
                    return null;
                }
                var writer = Writer(session, actor);
                try
                {
                    return writer.ToEvent(writer.Event(new UsageEventId(row.Id), Operation.ReadEvents));
                }
                catch (NotFoundException)
                {
                    return null;
                }
            },
            cancellationToken);
    }

    /// <summary>Recomputes every figure of an organization from its events and reports each difference, and every stored
    /// row of the organization whose values do not have their columns' types.</summary>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The report; <see cref="VerificationReport.IsClean"/> when every figure matches.</returns>
    /// <exception cref="NotFoundException">The organization does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<VerificationReport> VerifyAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default) =>
        engine.ReadAsync(
            session =>
            {
                AccessResolver.RequireOrganization(session, actor, organization, Operation.Verify);
                var damage = session.FindStoredRowDamage(organization.Value)
                    .Select(d => new StoredRowDamage(d.Table, d.Row, d.Column, d.Problem))
                    .ToList();
                if (damage.Any(d => d.Table is "allocations" or "units" or "usage_events" or "event_segments"))
                {
                    return new VerificationReport(0, 0, [], damage); // the figures cannot be read to recompute
                }
                var rows = session.ListAllocations(organization.Value);
                var own = new Dictionary<(long, int), long>();
                long events = 0;
                foreach (var sum in session.SumEventsByAllocation(organization.Value))
                {
                    own[(sum.AllocationId, sum.Status)] = sum.Total;
                    events += sum.Count;
                }
                long Own(long id, UsageStatus status) => own.GetValueOrDefault((id, (int)status));
                var discrepancies = new List<Discrepancy>();
                void Compare(AllocationRow row, string figure, long stored, long recomputed)
                {
                    if (stored != recomputed)
                    {
                        discrepancies.Add(new Discrepancy(new AllocationId(row.Id), figure, Amount.FromMicros(stored), Amount.FromMicros(recomputed)));
                    }
                }
                var children = rows.Where(r => r.ParentId is not null).ToLookup(r => r.ParentId!.Value);
                foreach (var row in rows)
                {
                    var ownUsed = Own(row.Id, UsageStatus.Confirmed);
                    var ownEstimated = Own(row.Id, UsageStatus.Estimated);
                    var used = ownUsed;
                    var estimated = ownEstimated;
                    foreach (var child in children[row.Id])
                    {
                        used = checked(used + Own(child.Id, UsageStatus.Confirmed));
                        estimated = checked(estimated + Own(child.Id, UsageStatus.Estimated));
                    }
                    Compare(row, "OwnUsed", row.OwnUsed, ownUsed);
                    Compare(row, "OwnEstimated", row.OwnEstimated, ownEstimated);
                    Compare(row, "Used", row.Used, used);
                    Compare(row, "Estimated", row.Estimated, estimated);
                }
                foreach (var (eventId, allocationId, amount, segmentSum) in session.FindSegmentMismatches(organization.Value))
                {
                    discrepancies.Add(new Discrepancy(new AllocationId(allocationId), $"segments of {new UsageEventId(eventId)}", Amount.FromMicros(amount), Amount.FromMicros(segmentSum)));
                }
                return new VerificationReport(rows.Count, events, discrepancies, damage);
            },
            cancellationToken);

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

    private static void WithIndex(int index, Action work) => WithIndex(index, () =>
    {
        work();
        return 0;
    });
}
