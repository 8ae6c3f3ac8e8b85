using FsCheck;
using FsCheck.Fluent;

namespace Allocations.Tests.Reliability.Model;

// The operations of the model-based test, as plain data so FsCheck can print and shrink a failing sequence.
// Indices pick among everything created so far (modulo the count), deleted things included, so operations on
// deleted allocations and events are exercised too. To extend the test (re-rating, ...):
// add a record here, a generator line in ModelOps.Operation, and a case in ModelInterpreter.Step.

/// <summary>One step of a generated sequence.</summary>
public abstract record ModelOp;

/// <summary>Create a top-level allocation.</summary>
public sealed record CreateTop(long TotalMicros) : ModelOp;

/// <summary>Create a child under the allocation picked by <paramref name="Parent"/> (a child there must be refused).</summary>
public sealed record CreateChild(int Parent, long TotalMicros) : ModelOp;

/// <summary>Change a total (a negative total must be refused).</summary>
public sealed record ChangeTotal(int Target, long TotalMicros, ModelActor As = ModelActor.Admin) : ModelOp;

/// <summary>Move budget from one allocation's total to another's, optionally forced past what the source used and holds.</summary>
/// <summary>A transfer; with <paramref name="WholeTotal"/> the amount is the source's whole total at that step (more than it has free
/// whenever it has used or held anything), so that forced transfers are reached.</summary>
public sealed record Transfer(int From, int To, long AmountMicros, bool Force, ModelActor As = ModelActor.Admin, bool WholeTotal = false) : ModelOp;

/// <summary>Record usage, Estimated or Confirmed, with one of a few keys (so keys repeat) or none.</summary>
public sealed record Record(int Target, int Sku, long QuantityMicros, long StartSeconds, long DurationSeconds, bool Confirmed, int? Key, ModelActor As = ModelActor.Admin) : ModelOp;

/// <summary>Record several items in one batch (keys may repeat within it); any refused item refuses the batch. Always
/// by the admin: the items' <c>As</c> is ignored.</summary>
public sealed record Batch(Record[] Items) : ModelOp
{
    /// <inheritdoc />
    public override string ToString() => $"Batch {{ {string.Join(", ", Items.AsEnumerable())} }}";
}

/// <summary>Submit an event's content again, as a retry by whoever recorded it would: by record or by reservation.</summary>
public sealed record Resubmit(int Event, bool AsReservation) : ModelOp;

/// <summary>Ask whether usage would fit, without writing.</summary>
public sealed record CheckFit(int Target, int Sku, long QuantityMicros, long StartSeconds, long DurationSeconds) : ModelOp;

/// <summary>Change a SKU's rate from an hour after T0 on (refused when rules start at or after it).</summary>
public sealed record ChangeRate(int Sku, int AtHour, long RateNanos) : ModelOp;

/// <summary>Correct a SKU's rate over <c>[FromHour, FromHour + Hours)</c> after T0 (open-ended when
/// <paramref name="Hours"/> is null; an empty period must be refused).</summary>
public sealed record CorrectRate(int Sku, int FromHour, int? Hours, long RateNanos, ModelActor As = ModelActor.Admin) : ModelOp;

/// <summary>Preview a re-rate of a SKU's events over <c>[FromHour, FromHour + Hours)</c>, apply it, apply it again and
/// preview again; with <paramref name="DeleteFirst"/>, delete the first listed event in between, so the apply must be
/// refused as stale. With <paramref name="LastCorrected"/>, the SKU and period are those of the last correction made
/// (when there was one), so that re-rates meet the events corrections changed. With <paramref name="CorrectFirst"/>,
/// the admin first corrects the SKU's rate from T0 on to that rate, and the period is the whole timeline.</summary>
public sealed record Rerate(int Sku, int FromHour, int Hours, int MaxEvents, ModelActor As = ModelActor.Admin, bool DeleteFirst = false, bool LastCorrected = false, long? CorrectFirst = null) : ModelOp;

/// <summary>Close the store and open it again (a file store only; nothing in memory).</summary>
public sealed record Reopen : ModelOp;

/// <summary>Reserve an Estimated hold, expiring as <paramref name="ExpirySeconds"/> says (see <see cref="ModelExpiry"/>).</summary>
public sealed record Reserve(int Target, int Sku, long QuantityMicros, long StartSeconds, long DurationSeconds, int? Key, ModelActor As = ModelActor.Admin, long? ExpirySeconds = null) : ModelOp;

/// <summary>Change a hold's expiry (see <see cref="ModelExpiry"/>); an expired hold answers Expired, a Confirmed event
/// is a conflict.</summary>
public sealed record Extend(int Event, long? ExpirySeconds, ModelActor As = ModelActor.Admin) : ModelOp;

/// <summary>Delete the expired holds on every allocation the actor may Use.</summary>
public sealed record Sweep(ModelActor As = ModelActor.Admin) : ModelOp;

/// <summary>Advance the store's clock (it also advances by a second before every step).</summary>
public sealed record Tick(long Seconds) : ModelOp;

/// <summary>How the model's expiry seconds read: null is the store's default (24 hours), a positive count a duration
/// after the call, and the constants below the explicit cases.</summary>
internal static class ModelExpiry
{
    /// <summary><c>HoldExpiry.Never</c>.</summary>
    internal const long Never = -1;

    /// <summary><c>HoldExpiry.At(now)</c>: not later than now, so invalid.</summary>
    internal const long AtNow = -2;

    /// <summary>A duration that ends past the store's last instant, so invalid.</summary>
    internal const long PastTheRange = -3;
}

/// <summary>Confirm an event, optionally with a final quantity and duration (a negative duration must be refused).</summary>
public sealed record Confirm(int Event, long? FinalQuantityMicros, long? FinalDurationSeconds, ModelActor As = ModelActor.Admin) : ModelOp;

/// <summary>Release a hold (a Confirmed event must be refused).</summary>
public sealed record Release(int Event, ModelActor As = ModelActor.Admin) : ModelOp;

/// <summary>Delete an event.</summary>
public sealed record DeleteEvent(int Event, ModelActor As = ModelActor.Admin) : ModelOp;

/// <summary>Delete an allocation, with or without cascading to its children.</summary>
public sealed record DeleteAllocation(int Target, bool Cascade) : ModelOp;

/// <summary>Grant a level on an allocation to a group or the organization (by the admin); it replaces the grantee's
/// previous level there.</summary>
public sealed record GrantOp(int Target, ModelGrantee Grantee, Allocations.Access.AccessLevel Level) : ModelOp;

/// <summary>Revoke a grantee's grant on an allocation (by the admin); false when it held none there.</summary>
public sealed record RevokeOp(int Target, ModelGrantee Grantee) : ModelOp;

/// <summary>Get an allocation and list the organization's allocations as <paramref name="As"/>: exactly the ones it
/// may Read are visible.</summary>
public sealed record ReadAllocation(int Target, ModelActor As) : ModelOp;

/// <summary>Set an allocation's period to <c>[T0 + StartHour h, T0 + EndHour h)</c>, a null bound open (an end not after
/// the start, a child's bound outside its parent's period, a child's period outside the new one, or an event left
/// outside must be refused).</summary>
public sealed record SetPeriod(int Target, int? StartHour, int? EndHour, ModelActor As = ModelActor.Admin) : ModelOp;

/// <summary>Set an allocation's alert thresholds: % Used ones in hundredths of a percent, Remaining ones in micro-units (a
/// list may repeat one, which must be refused).</summary>
public sealed record SetThresholds(int Target, long[] PercentHundredths, long[] RemainingMicros, ModelActor As = ModelActor.Admin) : ModelOp
{
    /// <inheritdoc />
    public override string ToString() => $"SetThresholds {{ Target = {Target}, Percent = [{string.Join(", ", PercentHundredths)}], Remaining = [{string.Join(", ", RemainingMicros)}], As = {As} }}";
}

/// <summary>Read all of the organization's alerts as <paramref name="As"/>: exactly the crossings of allocations it may
/// Read, in order.</summary>
public sealed record ReadAlerts(ModelActor As) : ModelOp;

/// <summary>Who acts: the organization admin, or a user with no standing of its own: u1 is in group g1, u2 in g2, u3 in
/// no group (so not a member of the organization, and organization-wide grants do not reach it).</summary>
public enum ModelActor
{
    /// <summary>The organization admin, Admin everywhere.</summary>
    Admin,

    /// <summary>Member of g1.</summary>
    U1,

    /// <summary>Member of g2.</summary>
    U2,

    /// <summary>In no group.</summary>
    U3,
}

/// <summary>Who a grant is for.</summary>
public enum ModelGrantee
{
    /// <summary>Group g1.</summary>
    G1,

    /// <summary>Group g2.</summary>
    G2,

    /// <summary>The whole organization.</summary>
    Organization,
}

internal static class ModelOps
{
    internal const int MaxSteps = 50;

    private static Gen<long> Total =>
        Gen.Frequency(
            (1, Gen.Constant(0L)),
            (6, Gen.Choose(0, 3_000).Select(units => units * 1_000_000L)),
            (3, Gen.Choose(0, int.MaxValue).Select(micros => (long)micros)));

    private static Gen<long> Quantity =>
        Gen.Frequency(
            (1, Gen.Constant(0L)),
            (4, Gen.Choose(1, 40).Select(units => units * 500_000L)),
            (4, Gen.Choose(1, 20_000_000).Select(micros => (long)micros)));

    // Start seconds relative to the catalogue's T0: a little before the first rule to a little after the last.
    private static Gen<long> Start => Gen.Choose(-2 * 3600, 210 * 3600).Select(s => (long)s);

    private static Gen<long> Duration =>
        Gen.Frequency(
            (1, Gen.Constant(0L)),
            (4, Gen.Choose(1, 30 * 3600).Select(s => (long)s)),
            (2, Gen.Choose(1, 30).Select(h => h * 3600L)));

    private static Gen<long?> Expiry =>
        Gen.Frequency(
            (4, Gen.Constant<long?>(null)),
            (1, Gen.Constant<long?>(ModelExpiry.Never)),
            (1, Gen.Elements<long?>(ModelExpiry.AtNow, ModelExpiry.PastTheRange)),
            (3, Gen.Choose(1, 6 * 3600).Select(s => (long?)s)),
            (3, Gen.Choose(1, 600).Select(s => (long?)s)));

    private static Gen<int?> Key => Gen.Frequency((1, Gen.Constant<int?>(null)), (1, Gen.Choose(0, 4).Select(k => (int?)k)));

    private static Gen<int> Index(int max) => Gen.Choose(0, max);

    /// <summary>The admin half the time, so every path the admin reaches stays well covered.</summary>
    private static Gen<ModelActor> Actor =>
        Gen.Frequency((3, Gen.Constant(ModelActor.Admin)), (1, Gen.Constant(ModelActor.U1)), (1, Gen.Constant(ModelActor.U2)), (1, Gen.Constant(ModelActor.U3)));

    private static Gen<ModelGrantee> GranteeGen => Gen.Elements(ModelGrantee.G1, ModelGrantee.G2, ModelGrantee.Organization);

    private static Gen<Record> RecordOp(int skuCount) =>
        from target in Index(7)
        from sku in Index(skuCount - 1)
        from quantity in Quantity
        from start in Start
        from duration in Duration
        from confirmed in Gen.Elements(true, false)
        from key in Key
        from actor in Actor
        select new Record(target, sku, quantity, start, duration, confirmed, key, actor);

    internal static Gen<ModelOp> Operation(int skuCount) =>
        Gen.Frequency(
            (3, Total.Select(t => (ModelOp)new CreateTop(t))),
            (4, Gen.Zip(Index(7), Total).Select(x => (ModelOp)new CreateChild(x.Item1, x.Item2))),
            (2, from target in Index(7)
                from total in Gen.Frequency((9, Total), (1, Gen.Choose(-1000, -1).Select(m => (long)m)))
                from actor in Actor
                select (ModelOp)new ChangeTotal(target, total, actor)),
            (3, from source in Index(7)
                from target in Index(7)
                from amount in Gen.Frequency((8, Total), (1, Gen.Choose(-1000, 0).Select(m => (long)m)), (1, Gen.Constant(long.MaxValue)))
                from whole in Gen.Frequency((1, Gen.Constant(false)), (1, Gen.Constant(true)))
                from force in whole ? Gen.Elements(false, true) : Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
                from actor in whole ? Gen.Frequency((2, Gen.Constant(ModelActor.Admin)), (1, Actor)) : Actor
                select (ModelOp)new Transfer(source, target, amount, force, actor, whole)),
            (8, RecordOp(skuCount).Select(r => (ModelOp)r)),
            (2, Gen.Choose(1, 5).SelectMany(n => Gen.ArrayOf(RecordOp(skuCount).Select(r => r with { As = ModelActor.Admin }), n)).Select(items => (ModelOp)new Batch(items))),
            (1, from target in Index(7)
                from sku in Index(skuCount - 1)
                from quantity in Quantity
                from start in Start
                from duration in Duration
                select (ModelOp)new CheckFit(target, sku, quantity, start, duration)),
            (1, from sku in Index(skuCount - 1)
                from hour in Gen.Choose(90, 220)
                from rate in Gen.Choose(0, 5_000_000)
                select (ModelOp)new ChangeRate(sku, hour, rate * 1_000L + 7)),
            (7, from target in Index(7)
                from sku in Index(skuCount - 1)
                from quantity in Quantity
                from start in Start
                from duration in Duration
                from key in Key
                from actor in Actor
                from expiry in Expiry
                select (ModelOp)new Reserve(target, sku, quantity, start, duration, key, actor, expiry)),
            (3, from e in Index(15)
                from expiry in Expiry
                from actor in Actor
                select (ModelOp)new Extend(e, expiry, actor)),
            (3, Actor.Select(a => (ModelOp)new Sweep(a))),
            (6, Gen.Frequency((4, Gen.Choose(1, 4 * 3600)), (1, Gen.Choose(20 * 3600, 30 * 3600))).Select(s => (ModelOp)new Tick(s))),
            (5, from e in Index(15)
                from quantity in Gen.Frequency((2, Gen.Constant<long?>(null)), (1, Quantity.Select(q => (long?)q)))
                from duration in Gen.Frequency(
                    (6, Gen.Constant<long?>(null)),
                    (3, Duration.Select(d => (long?)d)),
                    (1, Gen.Choose(-3600, -1).Select(d => (long?)d)))
                from actor in Actor
                select (ModelOp)new Confirm(e, quantity, duration, actor)),
            (2, Gen.Zip(Index(15), Actor).Select(x => (ModelOp)new Release(x.Item1, x.Item2))),
            (2, from sku in Index(skuCount - 1)
                from fromHour in Gen.Choose(-5, 210)
                from hours in Gen.Frequency((6, Gen.Choose(1, 120).Select(h => (int?)h)), (2, Gen.Constant<int?>(null)), (1, Gen.Constant<int?>(0)))
                from rate in Gen.Choose(0, 5_000_000)
                from actor in Gen.Frequency((6, Gen.Constant(ModelActor.Admin)), (1, Actor))
                select (ModelOp)new CorrectRate(sku, fromHour, hours, rate * 1_000L + 3, actor)),
            // Mostly the whole timeline, so that a re-rate usually meets the events a correction changed.
            (3, from sku in Index(skuCount - 1)
                from period in Gen.Frequency((2, Gen.Constant((-5, 240))), (1, Gen.Zip(Gen.Choose(-5, 210), Gen.Choose(1, 240))))
                from max in Gen.Frequency((3, Gen.Constant(100_000)), (1, Gen.Choose(1, 2)))
                from actor in Gen.Frequency((6, Gen.Constant(ModelActor.Admin)), (1, Actor))
                from deleteFirst in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
                from lastCorrected in Gen.Frequency((1, Gen.Constant(false)), (2, Gen.Constant(true)))
                from correctFirst in Gen.Frequency((1, Gen.Constant<long?>(null)), (1, Gen.Choose(1, 5_000_000).Select(r => (long?)(r * 1_000L + 1))))
                select (ModelOp)new Rerate(sku, period.Item1, period.Item2, max, actor, deleteFirst, lastCorrected, correctFirst)),
            (1, Gen.Constant((ModelOp)new Reopen())),
            (3, Gen.Zip(Index(15), Gen.Elements(true, false)).Select(x => (ModelOp)new Resubmit(x.Item1, x.Item2))),
            (2, Gen.Zip(Index(15), Actor).Select(x => (ModelOp)new DeleteEvent(x.Item1, x.Item2))),
            (1, Gen.Zip(Index(7), Gen.Elements(true, false)).Select(x => (ModelOp)new DeleteAllocation(x.Item1, x.Item2))),
            (6, from target in Index(7)
                from grantee in GranteeGen
                from level in Gen.Elements(Allocations.Access.AccessLevel.Read, Allocations.Access.AccessLevel.Use, Allocations.Access.AccessLevel.Admin)
                select (ModelOp)new GrantOp(target, grantee, level)),
            (1, Gen.Zip(Index(7), GranteeGen).Select(x => (ModelOp)new RevokeOp(x.Item1, x.Item2))),
            (2, Gen.Zip(Index(7), Gen.Elements(ModelActor.U1, ModelActor.U2, ModelActor.U3)).Select(x => (ModelOp)new ReadAllocation(x.Item1, x.Item2))),
            (5, PeriodOp),
            (5, from target in Index(7)
                from percentCount in Gen.Choose(0, 3)
                from percents in Gen.ArrayOf(Gen.Elements(1_000L, 5_000L, 8_000L, 10_000L, 15_000L), percentCount)
                from remainingCount in Gen.Choose(0, 2)
                from remaining in Gen.ArrayOf(Gen.Elements(0L, 1_000_000L, 100_000_000L), remainingCount)
                from actor in Actor
                select (ModelOp)new SetThresholds(target, percents, remaining, actor)),
            (3, Actor.Select(a => (ModelOp)new ReadAlerts(a))));

    // A few round hours most of the time, so that a parent's and a child's periods often share a bound or cross.
    private static Gen<int?> PeriodHour => Gen.Frequency(
        (1, Gen.Constant<int?>(null)),
        (3, Gen.Elements(0, 24, 48, 100, 150, 200).Select(h => (int?)h)),
        (1, Gen.Choose(-3, 212).Select(h => (int?)h)));

    private static Gen<ModelOp> PeriodOp =>
        from target in Index(7)
        from clear in Gen.Frequency((1, Gen.Constant(true)), (3, Gen.Constant(false)))
        from start in clear ? Gen.Constant<int?>(null) : PeriodHour
        from end in clear ? Gen.Constant<int?>(null) : Gen.Frequency(
            (1, PeriodHour),
            (4, Gen.Elements(24, 48, 100, 150).Select(length => (int?)((start ?? 0) + length))))
        from actor in Gen.Frequency((4, Gen.Constant(ModelActor.Admin)), (1, Actor))
        select (ModelOp)new SetPeriod(target, start, end, actor);

    /// <summary>Sequences of 1 to <see cref="MaxSteps"/> operations; they shrink by dropping operations, so a failure
    /// is reported as a minimal sequence.</summary>
    internal static Arbitrary<ModelOp[]> Sequences(int skuCount) =>
        Arb.From(
            from length in Gen.Choose(1, MaxSteps)
            from ops in Gen.ArrayOf(Operation(skuCount), length)
            select ops,
            Shrink);

    /// <summary>Drops a run of operations: halves first, then smaller runs, down to single operations.</summary>
    internal static IEnumerable<ModelOp[]> Shrink(ModelOp[] ops)
    {
        for (var size = ops.Length / 2; size >= 1; size /= 2)
        {
            for (var at = 0; at + size <= ops.Length; at += size)
            {
                yield return [.. ops[..at], .. ops[(at + size)..]];
            }
        }
    }
}
