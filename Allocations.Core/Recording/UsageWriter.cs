using System.Globalization;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Journal;
using Allocations.Rating;
using Allocations.Storage;
using Allocations.Utility;

namespace Allocations.Recording;

/// <summary>What recording one item will do, worked out before anything is written.</summary>
internal sealed class PlannedRecord
{
    internal RecordDisposition Disposition { get; init; }

    internal required EventRow Row { get; init; }

    internal List<SegmentRow> Segments { get; init; } = [];

    internal EventRow? Existing { get; init; }
}

/// <summary>An allocation's four figures as stored when the transaction first moved them.</summary>
internal readonly record struct Figures(long OwnUsed, long OwnEstimated, long Used, long Estimated);

/// <summary>An organization's usage sums as the transaction sees them, and as last written to storage.</summary>
internal readonly record struct OrgSums(long Amount, long Usd, long BaseAmount, long BaseUsd);

/// <summary>Records, replaces, confirms and removes usage inside one write transaction. Allocations, SKUs and
/// compiled schedules are loaded once per transaction; figures change in memory (where every change is checked
/// against the amount range) and are added to storage as deltas once per allocation at <see cref="Flush"/>, where
/// the events recorded since are also journaled, one entry per organization.</summary>
internal sealed partial class UsageWriter
{
    private readonly IStorageSession session;
    private readonly Principal actor;
    private readonly long nowNs;
    private readonly Dictionary<long, AllocationRow> allocations = [];
    private readonly Dictionary<(long AllocationId, Operation Operation), bool> checkedAccess = [];
    private readonly HashSet<long> dirty = [];
    private readonly Dictionary<(long OrgId, string Key), (CompiledSku Row, RateSchedule Schedule)> skus = [];
    private readonly Dictionary<long, (CompiledSku Row, RateSchedule Schedule)> skusById = [];
    private readonly Dictionary<long, RateSchedule?> prices = [];
    private readonly SegmentBuffer buffer = new();
    private readonly Dictionary<long, OrgSums> orgSums = [];
    private readonly Dictionary<long, Figures> baselines = [];
    private readonly Dictionary<long, (EventRow Row, List<SegmentRow> Segments)> pending = [];
    private readonly List<long> pendingOrder = [];
    private readonly string source;
    private JournalWriter? journal;
    private AccessRule? access;

    /// <summary>Creates the writer of one transaction.</summary>
    /// <param name="session">The transaction.</param>
    /// <param name="actor">Who acts; every access check is theirs.</param>
    /// <param name="nowNs">The instant of the call.</param>
    /// <param name="source">The key scope the events are recorded in: null for the actor's own
    /// (<see cref="Principal.Encoded"/>), or <see cref="EventSources.Slurm"/> for the importer.</param>
    internal UsageWriter(IStorageSession session, Principal actor, long nowNs, string? source = null)
    {
        this.session = session;
        this.actor = actor;
        this.nowNs = nowNs;
        this.source = source ?? actor.Encoded;
    }

    internal IStorageSession Session => session;

    /// <summary>Gets the source this writer records under, and looks external keys up in.</summary>
    internal string Source => source;

    /// <summary>Gets the journal of this transaction: one entry per event change, chained in memory.</summary>
    /// <remarks>The journal's head rows are written once, at <see cref="Flush"/>, not per entry.</remarks>
    private JournalWriter Journal => journal ??= NewJournal();

    private void Log(string action, EventRow target, string? before, EventRow? after) => Journal.Append(
        target.OrgId,
        target.AllocationId,
        action,
        new UsageEventId(target.Id).ToString(),
        before,
        after is null ? null : Journal.Event(after));

    private JournalWriter NewJournal()
    {
        session.DeferJournalHeads();
        return new JournalWriter(session, actor, nowNs) { Causes = Causes };
    }

    /// <summary>An event's before-state for a per-event entry, with the digest of its stored row and segments (read
    /// before they change), which verification of a <c>usage.batch</c> entry that recorded the event relies on.</summary>
    private string BeforeState(EventRow row) => Journal.Event(row, EventDigest.Compute(row, session.ListSegments(row.Id)));

    /// <summary>Gets the access rule of the transaction (shared with its unit of work); one of the writer's own when
    /// none is given.</summary>
    internal AccessRule Access
    {
        get => access ??= new AccessRule(session, actor);
        init => access = value;
    }

    /// <summary>Gets where the writer notes the events that moved each allocation's figures, for alerts; null to note
    /// nothing.</summary>
    internal Alerts.AlertCauses? Causes { get; init; }

    /// <summary>Gets the store's cross-transaction cache of compiled schedules; null to read the catalogue afresh.</summary>
    internal CatalogueCache? Catalogue { get; init; }

    /// <summary>Checks a record's own fields, before any storage is touched.</summary>
    internal static (long StartNs, long EndNs, string? AttributesJson) Validate(UsageRecord record)
    {
        if (record is null)
        {
            throw new InvalidInputException("record", null, "a usage record is required");
        }
        if (record.Sku.Value.Length == 0)
        {
            throw new InvalidInputException("sku", null, "a SKU code is required");
        }
        if (record.Allocation.Value <= 0)
        {
            throw new InvalidInputException("allocation", record.Allocation.Value.ToString(CultureInfo.InvariantCulture), "an allocation id is required");
        }
        if (!Enum.IsDefined(record.Status))
        {
            throw new InvalidInputException("status", record.Status.ToString(), "must be Estimated or Confirmed");
        }
        var start = InstantCodec.ToNs(record.Start, "start");
        var end = InstantCodec.ToNs(record.End, "end");
        if (end < start)
        {
            throw new InvalidInputException("end", record.End.ToString(), $"must not be earlier than start {record.Start}");
        }
        if (record.ExternalKey is { } key)
        {
            Preconditions.CheckExternalKey(key, "externalKey");
        }
        return (start, end, Attributes.ToJson(record.Attributes));
    }

    internal AllocationRow Allocation(long id, Operation operation)
    {
        if (!allocations.TryGetValue(id, out var row))
        {
            row = session.GetAllocation(id) ?? throw new NotFoundException(new AllocationId(id));
            allocations[id] = row;
        }
        if (!checkedAccess.ContainsKey((id, operation)))
        {
            Access.Require(row, operation);
            checkedAccess[(id, operation)] = true;
        }
        return row;
    }

    internal AllocationRow Load(long id)
    {
        if (!allocations.TryGetValue(id, out var row))
        {
            row = session.GetAllocation(id)!;
            allocations[id] = row;
        }
        return row;
    }

    private (CompiledSku Row, RateSchedule Schedule) Sku(long orgId, SkuCode code)
    {
        var key = CodeRules.Key(code.Value);
        if (!skus.TryGetValue((orgId, key), out var entry))
        {
            if (Catalogue is null || !Catalogue.TryGetSku(CatalogueVersion(), orgId, key, out entry))
            {
                var row = session.FindSku(orgId, key) ?? throw new NotFoundException(code);
                entry = (CompiledSku.Of(row), Schedule(row));
                Catalogue?.PutSku(session, CatalogueVersion(), orgId, key, entry);
            }
            skus[(orgId, key)] = entry;
            skusById[entry.Row.Id] = entry;
        }
        return entry;
    }

    private (CompiledSku Row, RateSchedule Schedule) SkuById(long orgId, long skuId, string code)
    {
        if (!skusById.TryGetValue(skuId, out var entry))
        {
            entry = Sku(orgId, new SkuCode(code));
        }
        return entry;
    }

    private RateSchedule Schedule(SkuRow row) =>
        RateSchedule.Build(row.Code, session.ListSkuRules(row.Id).Select(RowMapping.ToRule));

    private RateSchedule? Prices(long unitId, string unitCode)
    {
        if (!prices.TryGetValue(unitId, out var schedule))
        {
            if (Catalogue is null || !Catalogue.TryGetPrices(CatalogueVersion(), unitId, out schedule))
            {
                var rules = session.ListUnitPrices(unitId);
                schedule = rules.Count == 0 ? null : RateSchedule.Build(unitCode, rules.Select(RowMapping.ToRule), usdPrices: true);
                Catalogue?.PutPrices(session, CatalogueVersion(), unitId, schedule);
            }
            prices[unitId] = schedule;
        }
        return schedule;
    }

    /// <summary>Rates a record and works out whether it is new, a replacement or a repeat; writes nothing.</summary>
    internal PlannedRecord Plan(UsageRecord record, Operation operation, UsageStatus status) =>
        Plan(record, operation, status, Validate(record));

    /// <summary>Plans a record whose fields <see cref="Validate"/> has already checked, with its result.</summary>
    internal PlannedRecord Plan(UsageRecord record, Operation operation, UsageStatus status, (long StartNs, long EndNs, string? AttributesJson) validated)
    {
        var (startNs, endNs, attributesJson) = validated;
        var allocation = Allocation(record.Allocation.Value, operation);
        RequireInPeriod(allocation, startNs);
        var (sku, schedule) = Sku(allocation.OrgId, record.Sku);
        if (sku.UnitId != allocation.UnitId)
        {
            throw new InvalidInputException(
                "sku",
                record.Sku.Value,
                $"SKU '{sku.Code}' is rated in '{sku.UnitCode}' but allocation '{allocation.Name}' is in '{allocation.UnitCode}'");
        }
        var row = new EventRow
        {
            OrgId = allocation.OrgId,
            AllocationId = allocation.Id,
            SkuId = sku.Id,
            SkuCode = sku.Code,
            Quantity = record.Quantity.Micros,
            StartNs = startNs,
            EndNs = endNs,
            Status = (int)status,
            ExternalKey = record.ExternalKey,
            Attributes = attributesJson,
            RecordedNs = nowNs,
            RecordedBy = actor.Id,
            Source = source,
        };

        // A repeat of a recorded event (every re-import) is recognized before rating, and needs none. Otherwise the
        // event is rated first, so that a rating error keeps precedence over what the key says.
        var existing = record.ExternalKey is null ? null : FindByKey(allocation.OrgId, record.ExternalKey);
        var differences = existing is null ? null : Differences(existing, row);
        if (existing is not null && differences!.Count == 0 && !IsExpired(existing))
        {
            return new PlannedRecord { Disposition = RecordDisposition.Unchanged, Row = existing, Existing = existing };
        }
        (row.Amount, row.Usd, var segments) = Rate(allocation, sku, schedule, record.Quantity.Micros, startNs, endNs);
        if (existing is null)
        {
            return new PlannedRecord { Disposition = RecordDisposition.Recorded, Row = row, Segments = segments };
        }
        if (existing.AllocationId != allocation.Id && Access.LevelOn(Load(existing.AllocationId)) < AccessLevel.Read)
        {
            // The key is the caller's own (keys are scoped by source), but its event now sits on an allocation the
            // caller may no longer Read: name neither.
            throw new ConflictException(
                $"external key {InvalidInputException.Display(record.ExternalKey)} is already used by an event of this source that the caller cannot see",
                ["externalKey"]);
        }
        if (existing.Status == (int)UsageStatus.Confirmed)
        {
            throw new ConflictException(
                $"external key {InvalidInputException.Display(record.ExternalKey)} is already recorded as a Confirmed event with a different {string.Join(", ", differences!)}",
                differences!);
        }
        Allocation(existing.AllocationId, operation);
        row.Id = existing.Id;
        return new PlannedRecord { Disposition = RecordDisposition.Replaced, Row = row, Segments = segments, Existing = existing };
    }

    private (long Amount, long? Usd, List<SegmentRow> Segments) Rate(AllocationRow allocation, CompiledSku sku, RateSchedule schedule, long quantity, long startNs, long endNs)
    {
        var amount = Rater.Rate(schedule, sku.Basis, quantity, startNs, endNs, buffer);
        long? usd = null;
        if (string.Equals(allocation.UnitCode, UnitCode.Usd.Value, StringComparison.OrdinalIgnoreCase))
        {
            usd = amount;
        }
        else if (Prices(allocation.UnitId, allocation.UnitCode) is { } priceSchedule)
        {
            usd = Rater.PriceInUsd(priceSchedule, buffer.Span);
        }
        var segments = new List<SegmentRow>(buffer.Count);
        foreach (var s in buffer.Span)
        {
            segments.Add(new SegmentRow
            {
                Seq = segments.Count,
                StartNs = s.StartNs,
                EndNs = s.EndNs,
                RuleId = schedule.RuleId(s.RuleIndex),
                Rate = schedule.RateNanos(s.RuleIndex),
                Amount = s.Amount,
            });
        }
        return (amount, usd, segments);
    }

    private static List<string> Differences(EventRow existing, EventRow incoming)
    {
        var fields = new List<string>();
        if (existing.AllocationId != incoming.AllocationId)
        {
            fields.Add("allocation");
        }
        if (existing.SkuId != incoming.SkuId)
        {
            fields.Add("sku");
        }
        if (existing.Quantity != incoming.Quantity)
        {
            fields.Add("quantity");
        }
        if (existing.StartNs != incoming.StartNs)
        {
            fields.Add("start");
        }
        if (existing.EndNs != incoming.EndNs)
        {
            fields.Add("end");
        }
        if (existing.Status != incoming.Status)
        {
            fields.Add("status");
        }
        if (!string.Equals(existing.Attributes, incoming.Attributes, StringComparison.Ordinal))
        {
            fields.Add("attributes");
        }
        return fields;
    }

    /// <summary>Would the planned record fit the Remaining of its allocation and of its parent?</summary>
    internal FitCheck Fit(PlannedRecord plan)
    {
        var target = Load(plan.Row.AllocationId);
        var levels = target.ParentId is { } parentId ? new[] { Load(parentId), target } : new[] { target };
        AllocationRow? blocked = null;
        long shortfall = 0;
        foreach (var level in levels)
        {
            // Figures after the hold, in 128 bits: a hold that would take Used + Estimated past the amount range is
            // refused as the write that would cause the overflow, whether it fits or not.
            // Holds that have expired no longer count, though the figures include them until they are swept.
            Int128 consumed = (Int128)level.Used + level.Estimated - session.SumExpiredHolds(level.Id, nowNs).Tree + plan.Row.Amount;
            if (plan.Existing is { } old && !IsExpired(old) && Counts(old.AllocationId, level.Id))
            {
                consumed -= old.Amount;
            }
            if (consumed > long.MaxValue)
            {
                throw new InvalidInputException(
                    "amount",
                    FixedPoint.Format(plan.Row.Amount, 6),
                    $"the figures of allocation '{level.Name}' would exceed the amount range");
            }
            var missing = (long)(consumed - level.Total);
            if (missing > 0 && missing > shortfall)
            {
                blocked = level;
                shortfall = missing;
            }
        }
        return new FitCheck(
            blocked is null,
            Amount.FromMicros(plan.Row.Amount),
            blocked is null ? null : new AllocationId(blocked.Id),
            Amount.FromMicros(shortfall));
    }

    /// <summary>Whether an event is a hold that has expired by the instant of this transaction: it no longer counts
    /// against Remaining, though it stays in the figures until it is swept or released.</summary>
    internal bool IsExpired(EventRow row) =>
        row.Status == (int)UsageStatus.Estimated && row.ExpiresNs is { } expiresNs && expiresNs <= nowNs;

    private bool Counts(long eventAllocationId, long levelId) =>
        eventAllocationId == levelId || Load(eventAllocationId).ParentId == levelId;

    /// <summary>Writes a planned record and moves the figures.</summary>
    internal long Apply(PlannedRecord plan, out RecordDisposition disposition)
    {
        disposition = plan.Disposition;
        return Apply(plan);
    }

    /// <summary>Writes a planned record and moves the figures.</summary>
    internal long Apply(PlannedRecord plan)
    {
        switch (plan.Disposition)
        {
            case RecordDisposition.Unchanged:
                return plan.Row.Id;
            case RecordDisposition.Replaced:
                var old = plan.Existing!;
                // An event this call recorded is journaled once, in its final state, by the batch entry at Flush.
                var isPending = pending.ContainsKey(old.Id);
                var before = isPending ? null : BeforeState(old);
                Move(old.AllocationId, old.Status, -old.Amount, old.Id, IsExpired(old));
                session.RewriteRatedEvent(plan.Row, plan.Segments);
                Move(plan.Row.AllocationId, plan.Row.Status, plan.Row.Amount, plan.Row.Id, IsExpired(plan.Row));
                Sum(plan.Row.OrgId, checked(plan.Row.Amount - old.Amount), checked((plan.Row.Usd ?? 0) - (old.Usd ?? 0)));
                if (isPending)
                {
                    pending[old.Id] = (plan.Row, plan.Segments);
                }
                else if (old.AllocationId == plan.Row.AllocationId)
                {
                    Log("usage.replace", plan.Row, before, plan.Row);
                }
                else
                {
                    // Each allocation's journal shows only its own side of the move: the old allocation's admins see
                    // the event leave as it was, the new one's see it arrive as it is.
                    Log("usage.move-out", old, before, null);
                    Log("usage.move-in", plan.Row, null, plan.Row);
                }
                RememberKey(plan.Row);
                return plan.Row.Id;
            default:
                plan.Row.Id = session.InsertRatedEvent(plan.Row, plan.Segments);
                Move(plan.Row.AllocationId, plan.Row.Status, plan.Row.Amount, plan.Row.Id);
                Sum(plan.Row.OrgId, plan.Row.Amount, plan.Row.Usd ?? 0);
                pending[plan.Row.Id] = (plan.Row, plan.Segments);
                pendingOrder.Add(plan.Row.Id);
                RememberKey(plan.Row);
                return plan.Row.Id;
        }
    }

    /// <summary>Loads an event the actor may act on with <paramref name="operation"/>.</summary>
    internal EventRow Event(UsageEventId id, Operation operation)
    {
        var row = session.GetEvent(id.Value) ?? throw new NotFoundException(id);
        try
        {
            Allocation(row.AllocationId, Operation.ReadEvents);
        }
        catch (NotFoundException)
        {
            throw new NotFoundException(id);
        }
        Allocation(row.AllocationId, operation);
        return row;
    }

    /// <summary>Checks that the actor may act on an Estimated event of another source: Use suffices for the caller's
    /// own holds, another principal's or the importer's need <paramref name="othersOperation"/> (Admin).</summary>
    internal void RequireOwnHoldOr(EventRow row, Operation othersOperation)
    {
        if (row.Status == (int)UsageStatus.Estimated && !string.Equals(row.Source, actor.Encoded, StringComparison.Ordinal))
        {
            Allocation(row.AllocationId, othersOperation);
        }
    }

    /// <summary>Turns an Estimated event Confirmed, re-rated when the final quantity or end differs. A hold that has
    /// expired is left as it is.</summary>
    internal (EventRow Row, HoldStatus Status) Confirm(EventRow row, Quantity? finalQuantity, NodaTime.Instant? finalEnd)
    {
        var quantity = finalQuantity?.Micros ?? row.Quantity;
        var endNs = finalEnd is { } end ? InstantCodec.ToNs(end, "finalEnd") : row.EndNs;
        if (endNs < row.StartNs)
        {
            throw new InvalidInputException("finalEnd", finalEnd.ToString(), $"must not be earlier than the event's start {InstantCodec.FromNs(row.StartNs)}");
        }
        if (row.Status == (int)UsageStatus.Confirmed)
        {
            if (quantity == row.Quantity && endNs == row.EndNs)
            {
                return (row, HoldStatus.AlreadyConfirmed);
            }
            throw new ConflictException($"{new UsageEventId(row.Id)} is already Confirmed; its quantity and end are final", ["status"]);
        }
        if (IsExpired(row))
        {
            return (row, HoldStatus.Expired);
        }
        var allocation = Load(row.AllocationId);
        var (sku, schedule) = SkuById(row.OrgId, row.SkuId, row.SkuCode);
        var (amount, usd, segments) = Rate(allocation, sku, schedule, quantity, row.StartNs, endNs);
        var before = JournalBefore(row);
        Move(row.AllocationId, row.Status, -row.Amount, row.Id);
        var confirmed = new EventRow
        {
            Id = row.Id,
            OrgId = row.OrgId,
            AllocationId = row.AllocationId,
            SkuId = row.SkuId,
            SkuCode = row.SkuCode,
            Quantity = quantity,
            StartNs = row.StartNs,
            EndNs = endNs,
            Status = (int)UsageStatus.Confirmed,
            ExternalKey = row.ExternalKey,
            Amount = amount,
            Usd = usd,
            Attributes = row.Attributes,
            RecordedNs = nowNs,
            RecordedBy = actor.Id,
            Source = row.Source,
        };
        ForgetKey(row);
        session.RewriteRatedEvent(confirmed, segments);
        Move(row.AllocationId, confirmed.Status, amount, row.Id);
        Sum(row.OrgId, checked(amount - row.Amount), checked((usd ?? 0) - (row.Usd ?? 0)));
        Log("usage.confirm", confirmed, before, confirmed);
        return (confirmed, HoldStatus.Confirmed);
    }

    /// <summary>Changes a hold's expiry (null: never), journaled with the hold before and after.</summary>
    internal void SetExpiry(EventRow row, long? expiresNs)
    {
        var before = JournalBefore(row);
        session.SetHoldExpiry(row.Id, expiresNs);
        row.ExpiresNs = expiresNs;
        Log("usage.extend", row, before, row);
    }

    /// <summary>Deletes an event and reverses its amount.</summary>
    /// <param name="row">The event.</param>
    /// <param name="action">The journal action: <c>usage.delete</c>, or <c>usage.release</c> for a hold released.</param>
    internal void Remove(EventRow row, string action = "usage.delete")
    {
        var before = JournalBefore(row);
        ForgetKey(row);
        session.DeleteEvent(row.Id);
        Move(row.AllocationId, row.Status, -row.Amount, row.Id, IsExpired(row));
        Sum(row.OrgId, -row.Amount, -(row.Usd ?? 0));
        Log(action, row, before, null);
    }

    /// <summary>The before-state of an event about to change; an event this transaction recorded is journaled first,
    /// so that its batch entry precedes the entry of the change.</summary>
    private string JournalBefore(EventRow row)
    {
        if (pending.ContainsKey(row.Id))
        {
            FlushJournal();
        }
        return BeforeState(row);
    }

    private void Move(long allocationId, int status, long delta, long eventId, bool expiredHold = false)
    {
        var row = Load(allocationId);
        Causes?.Moved(allocationId, eventId);
        if (expiredHold)
        {
            Causes?.ExpiredHoldGone(allocationId, -delta);
        }
        Baseline(row);
        try
        {
            if (status == (int)UsageStatus.Confirmed)
            {
                row.OwnUsed = checked(row.OwnUsed + delta);
                row.Used = checked(row.Used + delta);
            }
            else
            {
                row.OwnEstimated = checked(row.OwnEstimated + delta);
                row.Estimated = checked(row.Estimated + delta);
            }
            // Remaining (Total − Used − Estimated) and the percentage need Used + Estimated: it must stay in range.
            _ = checked(row.Used + row.Estimated);
            dirty.Add(row.Id);
        }
        catch (OverflowException ex)
        {
            throw new InvalidInputException("amount", FixedPoint.Format(delta, 6), $"the figures of allocation '{row.Name}' would exceed the amount range", ex);
        }
        if (row.ParentId is { } parentId)
        {
            var parent = Load(parentId);
            Causes?.Moved(parentId, eventId);
            if (expiredHold)
            {
                Causes?.ExpiredHoldGone(parentId, -delta);
            }
            Baseline(parent);
            try
            {
                if (status == (int)UsageStatus.Confirmed)
                {
                    parent.Used = checked(parent.Used + delta);
                }
                else
                {
                    parent.Estimated = checked(parent.Estimated + delta);
                }
                _ = checked(parent.Used + parent.Estimated);
                dirty.Add(parent.Id);
            }
            catch (OverflowException ex)
            {
                throw new InvalidInputException("amount", FixedPoint.Format(delta, 6), $"the figures of parent allocation '{parent.Name}' would exceed the amount range", ex);
            }
        }
    }

    /// <summary>Moves the organization's sums of event amounts and USD amounts, which bound every report sum.</summary>
    private void Sum(long orgId, long amountDelta, long usdDelta)
    {
        // Every caller has already written the event, so a recount below sees this change.
        if (!orgSums.TryGetValue(orgId, out var sums))
        {
            var stored = session.GetOrgUsageSums(orgId) ?? (0, 0);
            sums = new OrgSums(stored.Amount, stored.Usd, stored.Amount, stored.Usd);
        }
        if (sums.Amount == long.MaxValue || sums.Usd == long.MaxValue)
        {
            // Saturated: the events of a file written before the bound already sum past the range. Count again, so
            // that removals are honoured exactly and an increase is refused while the sum stays past the range. The
            // recount writes the sums themselves, so they are the new baseline of the deltas.
            session.RecountOrgUsageSums(orgId);
            var recounted = session.GetOrgUsageSums(orgId) ?? (0, 0);
            orgSums[orgId] = new OrgSums(recounted.Amount, recounted.Usd, recounted.Amount, recounted.Usd);
            RefuseIfPast(recounted.Amount == long.MaxValue && amountDelta > 0, recounted.Usd == long.MaxValue && usdDelta > 0, amountDelta, usdDelta);
            return;
        }
        Int128 amount = (Int128)sums.Amount + amountDelta;
        Int128 usd = (Int128)sums.Usd + usdDelta;
        RefuseIfPast(amount >= long.MaxValue, usd >= long.MaxValue, amountDelta, usdDelta);
        orgSums[orgId] = sums with { Amount = (long)amount, Usd = (long)usd };
    }

    private static void RefuseIfPast(bool amountPast, bool usdPast, long amountDelta, long usdDelta)
    {
        if (amountPast)
        {
            throw new InvalidInputException("amount", FixedPoint.Format(amountDelta, 6), "the organization's usage would sum past the amount range, so reports could not add it up");
        }
        if (usdPast)
        {
            throw new InvalidInputException("usd", FixedPoint.Format(usdDelta, 6), "the organization's USD amounts would sum past the amount range, so reports could not add them up");
        }
    }

    /// <summary>Writes what the transaction changed: each changed allocation's figure deltas and each organization's
    /// sum deltas once, then the journal entry of the events recorded since the last flush.</summary>
    internal void Flush()
    {
        foreach (var id in dirty)
        {
            var row = allocations[id];
            var baseline = baselines[id];
            WriteDelta(row, (Int128)row.OwnUsed - baseline.OwnUsed, (Int128)row.OwnEstimated - baseline.OwnEstimated, (Int128)row.Used - baseline.Used, (Int128)row.Estimated - baseline.Estimated);
            baselines[id] = new Figures(row.OwnUsed, row.OwnEstimated, row.Used, row.Estimated);
        }
        dirty.Clear();
        foreach (var (orgId, sums) in orgSums.ToList())
        {
            if (sums.Amount != sums.BaseAmount || sums.Usd != sums.BaseUsd)
            {
                // Both stay within the amount range (Sum refuses otherwise), so the differences fit.
                session.AddOrgUsageSums(orgId, sums.Amount - sums.BaseAmount, sums.Usd - sums.BaseUsd);
                orgSums[orgId] = sums with { BaseAmount = sums.Amount, BaseUsd = sums.Usd };
            }
        }
        FlushJournal();
        if (journal is not null)
        {
            session.WriteJournalHeads();
            journal = null; // a later entry defers again
        }
    }

    /// <summary>Adds one allocation's figure deltas in storage. A delta past the 64-bit range (a figure moved from
    /// near one end of the range to the other) is added in two halves.</summary>
    private void WriteDelta(AllocationRow row, Int128 ownUsed, Int128 ownEstimated, Int128 used, Int128 estimated)
    {
        if (Fits(ownUsed) && Fits(ownEstimated) && Fits(used) && Fits(estimated))
        {
            if (!session.AddFigures(row.Id, (long)ownUsed, (long)ownEstimated, (long)used, (long)estimated))
            {
                throw new InvalidInputException("amount", FixedPoint.Format((long)(used + estimated), 6), $"the figures of allocation '{row.Name}' would exceed the amount range");
            }
            return;
        }
        WriteDelta(row, ownUsed / 2, ownEstimated / 2, used / 2, estimated / 2);
        WriteDelta(row, ownUsed - (ownUsed / 2), ownEstimated - (ownEstimated / 2), used - (used / 2), estimated - (estimated / 2));

        static bool Fits(Int128 value) => value >= long.MinValue && value <= long.MaxValue;
    }

    private void Baseline(AllocationRow row) =>
        baselines.TryAdd(row.Id, new Figures(row.OwnUsed, row.OwnEstimated, row.Used, row.Estimated));

    /// <summary>Journals the events recorded since the last flush: per organization, one <c>usage.record</c> entry with
    /// the event when there is one, otherwise one <c>usage.batch</c> entry with the id range, each allocation's part
    /// (count, id range, sums) and the digest of the events as they are now stored (see <see cref="EventDigest"/>).</summary>
    private void FlushJournal()
    {
        if (pendingOrder.Count == 0)
        {
            return;
        }
        var byOrg = new Dictionary<long, List<(EventRow Row, List<SegmentRow> Segments)>>();
        foreach (var id in pendingOrder)
        {
            var item = pending[id];
            if (!byOrg.TryGetValue(item.Row.OrgId, out var list))
            {
                byOrg[item.Row.OrgId] = list = [];
            }
            list.Add(item);
        }
        pending.Clear();
        pendingOrder.Clear();
        Span<byte> digest = stackalloc byte[JournalChain.HashLength];
        foreach (var (orgId, events) in byOrg)
        {
            if (events.Count == 1)
            {
                Log("usage.record", events[0].Row, null, events[0].Row);
                continue;
            }
            events.Sort((a, b) => a.Row.Id.CompareTo(b.Row.Id));
            var parts = new Dictionary<long, BatchPart>();
            foreach (var (row, segments) in events)
            {
                if (!parts.TryGetValue(row.AllocationId, out var part))
                {
                    parts[row.AllocationId] = part = new BatchPart(row.AllocationId);
                }
                EventDigest.Compute(row, segments, digest);
                part.Add(row.Id, row.Amount, row.Usd, row.Status, digest);
            }
            var ordered = parts.Values.OrderBy(p => p.AllocationId).ToList();
            var digests = ordered.Select(p => p.Digest()).ToList();
            var single = ordered.Count == 1 ? ordered[0].AllocationId : (long?)null;
            var sequence = Journal.Append(
                orgId,
                single,
                "usage.batch",
                $"{new UsageEventId(events[0].Row.Id)}..{new UsageEventId(events[^1].Row.Id)}",
                null,
                Journal.Batch(ordered, digests));
            if (single is null)
            {
                session.InsertJournalParts(sequence, ordered.Select(p => p.AllocationId).ToList());
            }
        }
    }

    internal UsageEvent ToEvent(EventRow row, IReadOnlyList<SegmentRow>? segments = null) =>
        RowMapping.ToEvent(row, segments ?? session.ListSegments(row.Id));
}
