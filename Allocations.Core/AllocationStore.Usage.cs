using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Recording;
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
        var validated = UsageWriter.Validate(record);
        return Observed("record", () => tx.WriteAsync(actor, uow => RecordingService.RecordAsync(uow, record, validated), cancellationToken), CountRecord);
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
        var (validated, refusals) = RecordingService.Validate(records, mode);
        return Observed("batch", () => tx.WriteAsync(actor, uow => RecordingService.RecordBatchAsync(uow, records, mode, validated, refusals), cancellationToken), CountBatch);
    }

    /// <summary>Places an Estimated hold only if it fits the Remaining of the allocation and of its parent, atomically.</summary>
    /// <remarks>
    /// <para>The record's status is ignored: a hold is Estimated. "Does not fit" is a result, not an error; nothing
    /// is written then. Racing reservations from several threads or processes never exceed a total.</para>
    /// <para>The hold expires as <paramref name="expiry"/> says (by default after
    /// <see cref="AllocationStoreOptions.DefaultHoldExpiry"/>, 24 hours unless configured): from its expiry instant on,
    /// by the store's clock, it no longer counts against Estimated or Remaining, whether or not it has been swept
    /// (<see cref="ReleaseExpiredHoldsAsync"/>), and confirming it answers <see cref="HoldStatus.Expired"/>. Reserving
    /// again under the key of an expired hold replaces it (with a new fit check); under the key of a live hold with the
    /// same content, it returns that hold unchanged, expiry included (change it with
    /// <see cref="ExtendHoldAsync"/>).</para>
    /// </remarks>
    /// <param name="actor">Use on the allocation.</param>
    /// <param name="record">The hold to place.</param>
    /// <param name="expiry">When the hold expires; <see cref="HoldExpiry.StoreDefault"/> (the default) for the store's
    /// option, <see cref="HoldExpiry.Never"/> for a hold that counts until confirmed or released.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The hold, or the fit decision that refused it.</returns>
    /// <exception cref="InvalidInputException">A field is invalid; the expiry is not later than now or lies after
    /// 2200-01-01T00:00:00Z (field <c>expiry</c>).</exception>
    /// <exception cref="NotFoundException">The allocation or SKU does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor lacks Use.</exception>
    /// <exception cref="NoRateException">No rate is in force at some instant of the interval.</exception>
    /// <exception cref="ConflictException">The key names a Confirmed event.</exception>
    public Task<ReserveResult> ReserveAsync(Principal actor, UsageRecord record, HoldExpiry expiry = default, CancellationToken cancellationToken = default)
    {
        var validated = UsageWriter.Validate(record);
        return Observed(
            "reserve",
            () => tx.WriteAsync(actor, uow => RecordingService.ReserveAsync(uow, record, validated, expiry, defaultHoldExpiry, LogReservationRefused), cancellationToken),
            CountReservation);
    }

    /// <summary>Answers "would this fit?" without writing: the same decision <see cref="ReserveAsync"/> would make now.</summary>
    /// <remarks>Holds that have expired by now do not count, swept or not.</remarks>
    /// <param name="actor">Read on the allocation.</param>
    /// <param name="record">The usage to test.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The fit decision with the rated amount.</returns>
    /// <exception cref="InvalidInputException">A field is invalid.</exception>
    /// <exception cref="NotFoundException">The allocation or SKU does not exist.</exception>
    /// <exception cref="NoRateException">No rate is in force at some instant of the interval.</exception>
    public Task<FitCheck> CheckFitAsync(Principal actor, UsageRecord record, CancellationToken cancellationToken = default)
    {
        var validated = UsageWriter.Validate(record);
        return tx.Read(actor, uow => RecordingService.CheckFit(uow, record, validated), cancellationToken);
    }

    /// <summary>Turns an Estimated event Confirmed, optionally with its final quantity and end (re-rated).</summary>
    /// <remarks>Confirming a Confirmed event again without changes answers <see cref="HoldStatus.AlreadyConfirmed"/>
    /// with it unchanged, so retries are safe. A hold that has expired by now (see <see cref="UsageEvent.ExpiresAt"/>)
    /// answers <see cref="HoldStatus.Expired"/>, not an exception, and nothing changes: it no longer counts, and a sweep
    /// or a release deletes it; record the usage or reserve again instead.</remarks>
    /// <param name="actor">Use on the event's allocation.</param>
    /// <param name="eventId">The event.</param>
    /// <param name="finalQuantity">The final quantity, or null to keep it.</param>
    /// <param name="finalEnd">The final end, or null to keep it; not earlier than the start.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see cref="HoldStatus.Confirmed"/> or <see cref="HoldStatus.AlreadyConfirmed"/> with the Confirmed event,
    /// or <see cref="HoldStatus.Expired"/> with the hold as it was.</returns>
    /// <exception cref="InvalidInputException">The final end is before the start or out of range.</exception>
    /// <exception cref="NotFoundException">The event does not exist or the actor may not Read its allocation.</exception>
    /// <exception cref="AccessDeniedException">The actor lacks Use.</exception>
    /// <exception cref="ConflictException">It is already Confirmed with a different quantity or end.</exception>
    /// <exception cref="NoRateException">No rate is in force over the new interval.</exception>
    public Task<HoldResult> ConfirmAsync(Principal actor, UsageEventId eventId, Quantity? finalQuantity = null, Instant? finalEnd = null, CancellationToken cancellationToken = default)
    {
        if (finalEnd is { } end)
        {
            InstantCodec.ToNs(end, "finalEnd");
        }
        return Observed("confirm", () => tx.WriteAsync(actor, uow => RecordingService.ConfirmAsync(uow, eventId, finalQuantity, finalEnd), cancellationToken));
    }

    /// <summary>Changes when a hold expires: later (or earlier, but after now), or never.</summary>
    /// <remarks>The hold keeps counting as it did; the new expiry counts from the instant of this call for
    /// <see cref="HoldExpiry.After"/> and <see cref="HoldExpiry.StoreDefault"/>. A hold that has already expired
    /// answers <see cref="HoldStatus.Expired"/> and stays as it is (reserve again instead). The same principal and
    /// level that may confirm the hold may extend it: Use for one's own hold, Admin for another principal's or the
    /// importer's. Setting the expiry it already has changes nothing and writes no journal entry.</remarks>
    /// <param name="actor">Use on the hold's allocation (Admin for another principal's hold).</param>
    /// <param name="eventId">The hold.</param>
    /// <param name="expiry">The new expiry.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see cref="HoldStatus.Extended"/> with the hold as it now stands, or <see cref="HoldStatus.Expired"/>.</returns>
    /// <exception cref="InvalidInputException">The expiry is not later than now or lies after 2200-01-01T00:00:00Z
    /// (field <c>expiry</c>).</exception>
    /// <exception cref="NotFoundException">The event does not exist or the actor may not Read its allocation.</exception>
    /// <exception cref="AccessDeniedException">The actor lacks the level.</exception>
    /// <exception cref="ConflictException">The event is Confirmed, not a hold.</exception>
    public Task<HoldResult> ExtendHoldAsync(Principal actor, UsageEventId eventId, HoldExpiry expiry, CancellationToken cancellationToken = default) =>
        Observed("extend", () => tx.WriteAsync(actor, uow => RecordingService.ExtendAsync(uow, eventId, expiry, defaultHoldExpiry), cancellationToken));

    /// <summary>Deletes, for good, an organization's holds that have expired, on every allocation the actor may Use.</summary>
    /// <remarks>Expired holds already count for nothing, so no figure a caller sees changes; the sweep deletes them
    /// from storage and writes one <c>usage.expire</c> journal entry for each, with the hold as it was. Holds on
    /// allocations the actor may not Use are left for another sweep. Safe to run at any time and repeatedly, for
    /// instance from a timer (the command line's <c>usage sweep</c>).</remarks>
    /// <param name="actor">Use on the allocations swept.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="cancellationToken">Cancels the call; nothing is deleted when cancelled.</param>
    /// <returns>How many holds were deleted.</returns>
    public Task<int> ReleaseExpiredHoldsAsync(Principal actor, OrganizationId organization, CancellationToken cancellationToken = default)
    {
        AccessRule.CheckActor(actor);
        return Observed("sweep", () => tx.WriteAsync(actor, uow => RecordingService.ReleaseExpiredAsync(uow, organization), cancellationToken));
    }

    /// <summary>Releases an Estimated hold: deletes it and gives its amount back.</summary>
    /// <remarks>A hold that has expired can be released too; it counted for nothing already.</remarks>
    /// <param name="actor">Use on the event's allocation.</param>
    /// <param name="eventId">The hold.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The released event as it was.</returns>
    /// <exception cref="NotFoundException">The event does not exist or the actor may not Read its allocation.</exception>
    /// <exception cref="AccessDeniedException">The actor lacks Use.</exception>
    /// <exception cref="ConflictException">The event is Confirmed (delete it with <see cref="DeleteEventAsync"/>).</exception>
    public Task<UsageEvent> ReleaseAsync(Principal actor, UsageEventId eventId, CancellationToken cancellationToken = default) =>
        Observed("release", () => tx.WriteAsync(actor, uow => RecordingService.ReleaseAsync(uow, eventId), cancellationToken));

    /// <summary>Deletes a usage event and reverses its amount (a refund or a correction).</summary>
    /// <param name="actor">Use on the allocation for an Estimated event; Admin for a Confirmed one.</param>
    /// <param name="eventId">The event.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The deleted event as it was.</returns>
    /// <exception cref="NotFoundException">The event does not exist or the actor may not Read its allocation.</exception>
    /// <exception cref="AccessDeniedException">The actor lacks the level.</exception>
    public Task<UsageEvent> DeleteEventAsync(Principal actor, UsageEventId eventId, CancellationToken cancellationToken = default) =>
        tx.WriteAsync(actor, uow => RecordingService.DeleteEventAsync(uow, eventId), cancellationToken);

    /// <summary>Gets a usage event with its rated segments.</summary>
    /// <param name="actor">Read on the event's allocation.</param>
    /// <param name="eventId">The event.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The event.</returns>
    /// <exception cref="NotFoundException">The event does not exist or the actor may not Read its allocation.</exception>
    public Task<UsageEvent> GetEventAsync(Principal actor, UsageEventId eventId, CancellationToken cancellationToken = default) =>
        Observed("get_event", () => tx.Read(actor, uow => RecordingService.GetEvent(uow, eventId), cancellationToken));

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
        AccessRule.CheckActor(actor);
        Preconditions.CheckExternalKey(externalKey, "externalKey");
        return tx.Read(actor, uow => RecordingService.FindEventByKey(uow, organization, externalKey), cancellationToken);
    }
}
