using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Reliability;

/// <summary>A table of malformed inputs across the public API: each must fail with its specific exception (and, for
/// <see cref="InvalidInputException"/>, name its field) and leave the database content exactly as it was.</summary>
public class BadInputCorpusTests
{
    private static readonly Instant Nov1 = TestStore.November1;
    private static readonly Instant Nov15 = TestStore.November15;
    private static readonly Instant Nov20 = Instant.FromUtc(2026, 11, 20, 0, 0);
    private static readonly Principal Admin = TestStore.Admin;

    /// <summary>What every case starts from: a parent with a child, a USD allocation, a USD SKU, an Estimated hold
    /// and a keyed Confirmed event.</summary>
    public sealed class Context
    {
        public required TestStore T { get; init; }

        public required Allocation Parent { get; init; }

        public required Allocation Child { get; init; }

        public required Allocation Cash { get; init; }

        public required UsageEvent Hold { get; init; }

        public required UsageEvent Charge { get; init; }

        public UsageEvent? Extra { get; set; }

        /// <summary>An allocation an arrangement made (in another organization, for a transfer across them).</summary>
        public AllocationId? Elsewhere { get; set; }

        /// <summary>A re-rate preview an arrangement took.</summary>
        public ReratePreview? Preview { get; set; }

        public AllocationStore S => T.Store;

        public OrganizationId Org => T.Organization;

        public UsageRecord Cpu(Quantity? quantity = null, Instant? start = null, Instant? end = null, string? key = null, AllocationId? on = null) =>
            new(on ?? Parent.Id, TestStore.Cpu, quantity ?? Quantity.FromDecimal(1m), start ?? Nov15, end ?? Nov15 + Duration.FromHours(1), UsageStatus.Confirmed, key);

        public static async Task<Context> CreateAsync(Engine engine = Engine.Sqlite)
        {
            var t = await TestStore.CreateAsync(engine);
            var parent = await t.CreateAllocationAsync("Physics", 1000m);
            var child = await t.CreateAllocationAsync("Physics/Alice", 100m, parent);
            var cash = await t.Store.CreateAllocationAsync(Admin, t.Organization, new NewAllocation("Cash", UnitCode.Usd, Amount.FromDecimal(500m)));
            await t.Store.CreateSkuAsync(Admin, t.Organization, new SkuCode("STORAGE_GB"), UnitCode.Usd, RateBasis.PerHour);
            await t.Store.AddRateRuleAsync(Admin, t.Organization, new SkuCode("STORAGE_GB"), Nov1, null, Rate.FromDecimal(0.0001m));
            var hold = (await t.Store.ReserveAsync(Admin, TestStore.Cpu1(child, 2m, Nov20, Nov20 + Duration.FromHours(2)))).Event!;
            var charge = (await t.Store.RecordUsageAsync(Admin, TestStore.Cpu1(parent, 3m, Nov15, Nov15 + Duration.FromHours(4), key: "job-1"))).Event;
            return new Context { T = t, Parent = parent, Child = child, Cash = cash, Hold = hold, Charge = charge };
        }
    }

    /// <summary>One malformed input: what to call, what it must throw, and which field it must name.</summary>
    public sealed record Case(string Name, Type Exception, string? Field, Func<Context, Task> Act, Func<Context, Task>? Arrange = null)
    {
        public override string ToString() => Name;
    }

    private static Case Invalid(string name, string field, Func<Context, Task> act, Func<Context, Task>? arrange = null) =>
        new(name, typeof(InvalidInputException), field, act, arrange);

    private static Case Fails<TException>(string name, Func<Context, Task> act, Func<Context, Task>? arrange = null)
        where TException : Exception =>
        new(name, typeof(TException), null, act, arrange);

    private static Task Create(Context c, string name, decimal total = 10m, AllocationId? parent = null, UnitCode? unit = null) =>
        c.S.CreateAllocationAsync(Admin, c.Org, new NewAllocation(name, unit ?? TestStore.CoreHours, Amount.FromDecimal(total), parent));

    /// <summary>A SKU whose only rule ends an hour after Nov 20, and a hold on it that can be confirmed past that.</summary>
    private static async Task ArrangeBurstHold(Context c)
    {
        var burst = new SkuCode("BURST");
        await c.S.CreateSkuAsync(Admin, c.Org, burst, TestStore.CoreHours, RateBasis.PerHour);
        await c.S.AddRateRuleAsync(Admin, c.Org, burst, Nov1, Nov20 + Duration.FromHours(1), Rate.FromDecimal(1m));
        c.Extra = (await c.S.ReserveAsync(Admin, c.Cpu(start: Nov20, end: Nov20 + Duration.FromMinutes(30)).With(sku: burst))).Event;
    }

    private static CancellationToken Cancelled => new(canceled: true);

    /// <summary>2.4e12 cores for an hour at rate 2: 4.8e12 core-hours, more than half of what an amount can hold.</summary>
    private static UsageRecord Huge(Allocation on, UsageStatus status, string? key = null) =>
        new(on.Id, TestStore.Cpu, Quantity.FromDecimal(2_400_000_000_000m), Nov15, Nov15 + Duration.FromHours(1), status, key);

    public static readonly IReadOnlyList<Case> Cases =
    [
        // ---- names ----
        Invalid("empty allocation name", "name", c => Create(c, "")),
        Invalid("whitespace-only allocation name", "name", c => Create(c, " \t  ")),
        Invalid("10,000-character allocation name", "name", c => Create(c, new string('x', 10_000))),
        Invalid("NUL in allocation name", "name", c => Create(c, "a\0b")),
        Invalid("tab inside allocation name", "name", c => Create(c, "a\tb")),
        Invalid("newline inside allocation name", "name", c => Create(c, "line\nbreak")),
        Invalid("escape character in allocation name", "name", c => Create(c, "red\u001b[31m")),
        Invalid("line separator in allocation name", "name", c => Create(c, "a\u2028b")),
        Invalid("unpaired surrogate in allocation name", "name", c => Create(c, "bad\ud800name")),
        Invalid("null allocation name", "name", c => Create(c, null!)),
        Invalid("empty organization name", "name", c => c.S.CreateOrganizationAsync(Principal.System, "", "boss")),
        Invalid("10,000-character organization name", "name", c => c.S.CreateOrganizationAsync(Principal.System, new string('o', 10_000), "boss")),
        Invalid("control character in first admin id", "userId", c => c.S.CreateOrganizationAsync(Principal.System, "Other", "bo\u0007ss")),
        Invalid("empty user id", "userId", c => c.S.AddOrganizationAdminAsync(Admin, c.Org, "")),
        Invalid("default principal", "actor", c => c.S.ListAllocationsAsync(default, c.Org)),
        Invalid("reason of 2,001 characters", "reason", c => c.S.ChangeTotalAsync(Admin, c.Parent.Id, Amount.FromDecimal(5m), new string('r', 2001))),
        Invalid("null reason", "reason", c => c.S.ChangeTotalAsync(Admin, c.Parent.Id, Amount.FromDecimal(5m), null!)),

        // ---- SQL metacharacters where they are not allowed, or must match nothing ----
        Invalid("SQL in a SKU code", "sku", c => c.S.CreateSkuAsync(Admin, c.Org, new SkuCode("X'; DROP TABLE skus;--"), TestStore.CoreHours, RateBasis.PerHour)),
        Invalid("SQL in a unit code", "unit", c => c.S.CreateUnitAsync(Admin, c.Org, new UnitCode("u\" OR 1=1"), 2)),
        Fails<ConflictException>("duplicate name with surrounding spaces", c => Create(c, "  physics  ")),
        Fails<NotFoundException>("SQL-looking key on an unknown SKU", c => c.S.RecordUsageAsync(Admin, c.Cpu(key: "1' OR '1'='1").With(sku: new SkuCode("NOPE")))),
        Invalid("LIKE wildcard in a SKU code", "sku", c => c.S.GetRateRulesAsync(Admin, c.Org, new SkuCode("CPU%"))),
        Fails<NotFoundException>("LIKE single-character wildcard matches nothing", c => c.S.GetRateRulesAsync(Admin, c.Org, new SkuCode("CPU_HOU_"))),

        // ---- codes ----
        Invalid("empty SKU code", "sku", c => c.S.CreateSkuAsync(Admin, c.Org, new SkuCode(""), TestStore.CoreHours, RateBasis.PerHour)),
        Invalid("65-character SKU code", "sku", c => c.S.CreateSkuAsync(Admin, c.Org, new SkuCode(new string('S', 65)), TestStore.CoreHours, RateBasis.PerHour)),
        Invalid("default SKU code in a record", "sku", c => c.S.RecordUsageAsync(Admin, c.Cpu().With(sku: default(SkuCode)))),
        Invalid("default unit code", "unit", c => Create(c, "NoUnit", unit: default(UnitCode))),
        Fails<NotFoundException>("unknown SKU", c => c.S.RecordUsageAsync(Admin, c.Cpu().With(sku: new SkuCode("UNKNOWN")))),
        Fails<NotFoundException>("unknown unit for an allocation", c => Create(c, "Mystery", unit: new UnitCode("parsecs"))),
        Fails<NotFoundException>("unknown unit for a SKU", c => c.S.CreateSkuAsync(Admin, c.Org, new SkuCode("X1"), new UnitCode("parsecs"), RateBasis.PerUnit)),
        Fails<NotFoundException>("rate rule for an unknown SKU", c => c.S.AddRateRuleAsync(Admin, c.Org, new SkuCode("NOPE"), Nov1, null, Rate.FromDecimal(1m))),
        Fails<NotFoundException>("unknown organization", c => c.S.ListUnitsAsync(Admin, new OrganizationId(9999))),
        Fails<NotFoundException>("unknown allocation", c => c.S.RecordUsageAsync(Admin, c.Cpu(on: new AllocationId(9999)))),
        Fails<NotFoundException>("unknown event", c => c.S.ConfirmAsync(Admin, new UsageEventId(9999))),
        Invalid("allocation id zero", "allocation", c => c.S.RecordUsageAsync(Admin, c.Cpu(on: new AllocationId(0)))),
        Invalid("undefined basis", "basis", c => c.S.CreateSkuAsync(Admin, c.Org, new SkuCode("X2"), TestStore.CoreHours, (RateBasis)99)),
        Invalid("undefined status", "status", c => c.S.RecordUsageAsync(Admin, c.Cpu().With(status: (UsageStatus)0))),
        Invalid("display precision 7", "displayPrecision", c => c.S.CreateUnitAsync(Admin, c.Org, new UnitCode("gpu-hours"), 7)),
        Invalid("display precision -1", "displayPrecision", c => c.S.CreateUnitAsync(Admin, c.Org, new UnitCode("gpu-hours"), -1)),
        Fails<ConflictException>("duplicate unit (USD always exists)", c => c.S.CreateUnitAsync(Admin, c.Org, new UnitCode("usd"), 2)),

        // ---- quantities, rates, amounts ----
        Invalid("negative quantity in micros", "quantity", c => c.S.RecordUsageAsync(Admin, c.Cpu(Quantity.FromMicros(-1)))),
        Invalid("negative decimal quantity", "quantity", c => c.S.RecordUsageAsync(Admin, c.Cpu(Quantity.FromDecimal(-0.5m)))),
        Invalid("quantity with seven decimals", "quantity", c => c.S.RecordUsageAsync(Admin, c.Cpu(Quantity.FromDecimal(0.0000001m)))),
        Invalid("quantity beyond 64 bits", "quantity", c => c.S.RecordUsageAsync(Admin, c.Cpu(Quantity.FromDecimal(decimal.MaxValue)))),
        Invalid("PerHour amount that overflows", "quantity", c => c.S.RecordUsageAsync(Admin, c.Cpu(Quantity.FromMicros(long.MaxValue), Nov15, Nov15 + Duration.FromDays(30)))),
        Invalid("PerUnit amount that overflows", "quantity", c => c.S.RecordUsageAsync(Admin, c.Cpu(Quantity.FromMicros(long.MaxValue)).With(sku: TestStore.License))),
        Invalid("figures that would overflow", "amount", c => c.S.RecordUsageAsync(Admin, c.Cpu(Quantity.FromMicros(long.MaxValue / 4), Nov15, Nov15 + Duration.FromHours(1), key: "big-2")), c => c.S.RecordUsageAsync(Admin, c.Cpu(Quantity.FromMicros(long.MaxValue / 4), Nov15, Nov15 + Duration.FromHours(1), key: "big-1"))),
        Invalid("Confirmed and Estimated whose sum leaves Remaining unrepresentable", "amount", c => c.S.RecordUsageAsync(Admin, Huge(c.Child, UsageStatus.Estimated, "huge-2")), c => c.S.RecordUsageAsync(Admin, Huge(c.Child, UsageStatus.Confirmed, "huge-1"))),
        Invalid("children whose sum leaves the parent's Remaining unrepresentable", "amount", c => c.S.RecordUsageAsync(Admin, Huge(c.Parent, UsageStatus.Estimated, "huge-2")), c => c.S.RecordUsageAsync(Admin, Huge(c.Child, UsageStatus.Confirmed, "huge-1"))),
        Invalid("two allocations whose report sum is unrepresentable", "amount", c => c.S.RecordUsageAsync(Admin, Huge(c.Parent, UsageStatus.Confirmed, "huge-2")), async c => await c.S.RecordUsageAsync(Admin, Huge(await c.S.CreateAllocationAsync(Admin, c.Org, new NewAllocation("Chemistry", TestStore.CoreHours, Amount.FromDecimal(1m))), UsageStatus.Confirmed, "huge-1"))),
        Invalid("a fit check past the range on an overrun allocation", "amount", c => c.S.CheckFitAsync(Admin, Huge(c.Child, UsageStatus.Estimated)), c => c.S.RecordUsageAsync(Admin, Huge(c.Child, UsageStatus.Confirmed, "huge-1"))),
        Invalid("a hold past the range on an overrun allocation", "amount", c => c.S.ReserveAsync(Admin, Huge(c.Child, UsageStatus.Estimated, "huge-2")), c => c.S.RecordUsageAsync(Admin, Huge(c.Child, UsageStatus.Confirmed, "huge-1"))),
        Invalid("final quantity whose amount overflows", "quantity", c => c.S.ConfirmAsync(Admin, c.Hold.Id, Quantity.FromMicros(long.MaxValue), Nov20 + Duration.FromDays(60))),
        Invalid("reservation whose amount overflows", "quantity", c => c.S.ReserveAsync(Admin, c.Cpu(Quantity.FromMicros(long.MaxValue), Nov15, Nov15 + Duration.FromDays(300)))),
        Invalid("null attribute value", "attributes[user]", c => c.S.RecordUsageAsync(Admin, c.Cpu().With(attributes: new Dictionary<string, string> { ["user"] = null! }))),
        Invalid("negative rate", "rate", c => c.S.AddRateRuleAsync(Admin, c.Org, TestStore.Gpu, Nov1 - Duration.FromDays(10), Nov1, Rate.FromNanos(-5))),
        Invalid("rate beyond 64 bits", "rate", c => c.S.ChangeRateAsync(Admin, c.Org, TestStore.Gpu, Nov20, Rate.FromDecimal(decimal.MaxValue))),
        Invalid("rate with ten decimals", "rate", c => c.S.ChangeRateAsync(Admin, c.Org, TestStore.Gpu, Nov20, Rate.FromDecimal(0.0000000001m))),
        Invalid("negative initial total", "total", c => c.S.CreateAllocationAsync(Admin, c.Org, new NewAllocation("Neg", TestStore.CoreHours, Amount.FromMicros(-1)))),
        Invalid("total changed below zero", "total", c => c.S.ChangeTotalAsync(Admin, c.Parent.Id, Amount.FromDecimal(-100m), "oops")),
        Invalid("total beyond 64 bits", "amount", c => c.S.ChangeTotalAsync(Admin, c.Parent.Id, Amount.FromDecimal(decimal.MaxValue), "too rich")),
        Invalid("total with seven decimals", "amount", c => c.S.ChangeTotalAsync(Admin, c.Parent.Id, Amount.FromDecimal(1.0000001m), "too fine")),

        // ---- instants and intervals ----
        Invalid("end before start", "end", c => c.S.RecordUsageAsync(Admin, c.Cpu(start: Nov20, end: Nov20 - Duration.FromNanoseconds(1)))),
        Invalid("start at Instant.MinValue", "start", c => c.S.RecordUsageAsync(Admin, c.Cpu(start: Instant.MinValue))),
        Invalid("end at Instant.MaxValue", "end", c => c.S.RecordUsageAsync(Admin, c.Cpu(end: Instant.MaxValue))),
        Invalid("start in 1899", "start", c => c.S.RecordUsageAsync(Admin, c.Cpu(start: Instant.FromUtc(1899, 12, 31, 23, 59), end: Nov1))),
        Invalid("reservation ending after 2200", "end", c => c.S.ReserveAsync(Admin, c.Cpu(end: Instant.FromUtc(2200, 1, 1, 0, 0) + Duration.Epsilon))),
        Invalid("final end before the start", "finalEnd", c => c.S.ConfirmAsync(Admin, c.Hold.Id, finalEnd: Nov20 - Duration.FromHours(1))),
        Invalid("final end at Instant.MaxValue", "finalEnd", c => c.S.ConfirmAsync(Admin, c.Hold.Id, finalEnd: Instant.MaxValue)),
        Invalid("zero hold duration", "expiry", c => c.S.ReserveAsync(Admin, c.Cpu(), HoldExpiry.After(Duration.Zero))),
        Invalid("negative hold duration", "expiry", c => c.S.ReserveAsync(Admin, c.Cpu(), HoldExpiry.After(-Duration.FromHours(1)))),
        Invalid("hold expiring now", "expiry", c => c.S.ReserveAsync(Admin, c.Cpu(), HoldExpiry.At(c.T.Clock.GetCurrentInstant()))),
        Invalid("hold expiring in the past", "expiry", c => c.S.ReserveAsync(Admin, c.Cpu(), HoldExpiry.At(Nov1))),
        Invalid("hold expiring at Instant.MaxValue", "expiry", c => c.S.ReserveAsync(Admin, c.Cpu(), HoldExpiry.At(Instant.MaxValue))),
        Invalid("hold expiring at Instant.MinValue", "expiry", c => c.S.ReserveAsync(Admin, c.Cpu(), HoldExpiry.At(Instant.MinValue))),
        Invalid("hold duration ending after 2200", "expiry", c => c.S.ReserveAsync(Admin, c.Cpu(), HoldExpiry.After(Duration.FromDays(200 * 366)))),
        Invalid("hold duration of Duration.MaxValue", "expiry", c => c.S.ReserveAsync(Admin, c.Cpu(), HoldExpiry.After(Duration.MaxValue))),
        Invalid("extending a hold to now", "expiry", c => c.S.ExtendHoldAsync(Admin, c.Hold.Id, HoldExpiry.At(c.T.Clock.GetCurrentInstant()))),
        Invalid("extending a hold past 2200", "expiry", c => c.S.ExtendHoldAsync(Admin, c.Hold.Id, HoldExpiry.After(Duration.MaxValue))),
        Invalid("zero default hold expiry", "DefaultHoldExpiry", c => AllocationStore.OpenAsync(c.T.Path, new AllocationStoreOptions { Clock = c.T.Clock, DefaultHoldExpiry = Duration.Zero })),
        Invalid("negative default hold expiry", "DefaultHoldExpiry", c => AllocationStore.OpenAsync(c.T.Path, new AllocationStoreOptions { Clock = c.T.Clock, DefaultHoldExpiry = -Duration.Epsilon })),
        Invalid("rule starting at Instant.MinValue", "effectiveFrom", c => c.S.AddRateRuleAsync(Admin, c.Org, TestStore.Gpu, Instant.MinValue, Nov1, Rate.FromDecimal(1m))),
        Invalid("zero-length rule", "effectiveTo", c => c.S.AddRateRuleAsync(Admin, c.Org, TestStore.Gpu, Nov1 - Duration.FromDays(1), Nov1 - Duration.FromDays(1), Rate.FromDecimal(1m))),
        Invalid("rule ending before it starts", "effectiveTo", c => c.S.AddRateRuleAsync(Admin, c.Org, TestStore.Gpu, Nov1, Nov1 - Duration.FromDays(1), Rate.FromDecimal(1m))),
        Invalid("rate change at Instant.MaxValue", "effectiveFrom", c => c.S.ChangeRateAsync(Admin, c.Org, TestStore.Gpu, Instant.MaxValue, Rate.FromDecimal(1m))),

        // ---- structure and catalogue rules ----
        Invalid("nesting under a child", "parentId", c => Create(c, "Grandchild", parent: c.Child.Id)),
        Invalid("child in another unit than its parent", "unit", c => Create(c, "Dollars", parent: c.Parent.Id, unit: UnitCode.Usd)),
        Invalid("SKU of another unit than the allocation", "sku", c => c.S.RecordUsageAsync(Admin, c.Cpu(on: c.Cash.Id))),
        Invalid("USD SKU on a core-hours allocation", "sku", c => c.S.ReserveAsync(Admin, c.Cpu().With(sku: new SkuCode("STORAGE_GB")))),
        Invalid("USD price for USD", "unit", c => c.S.AddUsdPriceAsync(Admin, c.Org, UnitCode.Usd, Nov1, null, Rate.FromDecimal(1m))),
        Fails<ConflictException>("overlapping rate rule", c => c.S.AddRateRuleAsync(Admin, c.Org, TestStore.Cpu, Nov1 + Duration.FromDays(3), Nov1 + Duration.FromDays(4), Rate.FromDecimal(5m))),
        Fails<ConflictException>("rate change before the last rule starts", c => c.S.ChangeRateAsync(Admin, c.Org, TestStore.Cpu, Nov1 + Duration.FromDays(1), Rate.FromDecimal(5m))),
        Fails<ConflictException>("overlapping USD price", c => c.S.AddUsdPriceAsync(Admin, c.Org, TestStore.CoreHours, Nov15, null, Rate.FromDecimal(2m)), c => c.S.AddUsdPriceAsync(Admin, c.Org, TestStore.CoreHours, Nov1, null, Rate.FromDecimal(1m))),
        Fails<NoRateException>("event before the first rule", c => c.S.RecordUsageAsync(Admin, c.Cpu(start: Nov1 - Duration.FromHours(1), end: Nov1 + Duration.FromHours(1)))),
        Fails<NoRateException>("event in a gap between rules", c => c.S.RecordUsageAsync(Admin, c.Cpu(start: Nov1 - Duration.FromDays(5), end: Nov1 - Duration.FromDays(4))), c => c.S.AddRateRuleAsync(Admin, c.Org, TestStore.Cpu, Nov1 - Duration.FromDays(10), Nov1 - Duration.FromDays(7), Rate.FromDecimal(1m))),
        Fails<NoRateException>("zero-length PerUnit event in no rule", c => c.S.RecordUsageAsync(Admin, c.Cpu(start: Nov1 - Duration.FromDays(1), end: Nov1 - Duration.FromDays(1)).With(sku: TestStore.License))),
        Fails<NoRateException>("event with no USD price in force", c => c.S.RecordUsageAsync(Admin, c.Cpu()), c => c.S.AddUsdPriceAsync(Admin, c.Org, TestStore.CoreHours, Nov20, null, Rate.FromDecimal(1m))),
        Fails<NoRateException>("confirming past the end of a SKU's rules", c => c.S.ConfirmAsync(Admin, c.Extra!.Id, finalEnd: Nov20 + Duration.FromHours(3)), ArrangeBurstHold),

        // ---- state conflicts and access ----
        Fails<ConflictException>("duplicate allocation name ignoring case", c => Create(c, "PHYSICS")),
        Fails<ConflictException>("duplicate organization name", c => c.S.CreateOrganizationAsync(Principal.System, "lab", "boss")),
        Fails<ConflictException>("deleting a parent without cascade", c => c.S.DeleteAllocationAsync(Admin, c.Parent.Id)),
        Fails<ConflictException>("releasing a Confirmed event", c => c.S.ReleaseAsync(Admin, c.Charge.Id)),
        Fails<ConflictException>("extending a Confirmed event", c => c.S.ExtendHoldAsync(Admin, c.Charge.Id, HoldExpiry.After(Duration.FromHours(1)))),
        Fails<NotFoundException>("extending an unknown event", c => c.S.ExtendHoldAsync(Admin, new UsageEventId(9999), HoldExpiry.Never)),
        Fails<ConflictException>("confirming a Confirmed event with another quantity", c => c.S.ConfirmAsync(Admin, c.Charge.Id, Quantity.FromDecimal(9m))),
        Fails<ConflictException>("a Confirmed key recorded with other content", c => c.S.RecordUsageAsync(Admin, c.Cpu(Quantity.FromDecimal(7m), key: "job-1"))),
        Fails<ConflictException>("a Confirmed key reserved again", c => c.S.ReserveAsync(Admin, c.Cpu(key: "job-1"))),
        Fails<AccessDeniedException>("a stranger creating an organization", c => c.S.CreateOrganizationAsync(Principal.User("mallory"), "Evil", "mallory")),
        Fails<NotFoundException>("a stranger creating a top-level allocation in an organization it cannot see", c => c.S.CreateAllocationAsync(Principal.User("mallory"), c.Org, new NewAllocation("Mine", TestStore.CoreHours, Amount.Zero))),
        Fails<NotFoundException>("a stranger charging an allocation it cannot see", c => c.S.RecordUsageAsync(Principal.User("mallory"), c.Cpu())),

        // ---- keys, attributes, batches ----
        Invalid("empty external key", "externalKey", c => c.S.RecordUsageAsync(Admin, c.Cpu(key: ""))),
        Invalid("401-character external key", "externalKey", c => c.S.RecordUsageAsync(Admin, c.Cpu(key: new string('k', 401)))),
        Invalid("whitespace attribute key", "attributes.key", c => c.S.RecordUsageAsync(Admin, c.Cpu().With(attributes: new Dictionary<string, string> { [" "] = "x" }))),
        Invalid("1,001-character attribute value", "attributes[user]", c => c.S.RecordUsageAsync(Admin, c.Cpu().With(attributes: new Dictionary<string, string> { ["user"] = new string('v', 1001) }))),
        Invalid("lone high surrogate in an external key", "externalKey", c => c.S.RecordUsageAsync(Admin, c.Cpu(key: "job-\uD800"))),
        Invalid("lone low surrogate in a batch's external key", "externalKey", c => c.S.RecordBatchAsync(Admin, [c.Cpu(key: "ok-1"), c.Cpu(key: "job-\uDBFF")])),
        Invalid("lone surrogate in a reserved hold's key", "externalKey", c => c.S.ReserveAsync(Admin, c.Cpu(key: "\uDC00hold"))),
        Invalid("lone surrogate in a key looked up", "externalKey", c => c.S.FindEventByKeyAsync(Admin, c.Org, "job-\uD800")),
        Invalid("lone surrogate in an attribute value", "attributes[user]", c => c.S.RecordUsageAsync(Admin, c.Cpu().With(attributes: new Dictionary<string, string> { ["user"] = "al\uDFFFice" }))),
        Invalid("lone surrogate in an attribute key", "attributes.key", c => c.S.RecordUsageAsync(Admin, c.Cpu().With(attributes: new Dictionary<string, string> { ["us\uD83Eer"] = "alice" }))),
        Invalid("lone surrogate in a reason", "reason", c => c.S.ChangeTotalAsync(Admin, c.Parent.Id, Amount.FromDecimal(5m), "top-up \uD800")),
        Invalid("lone surrogate in a group name", "group", c => c.S.CreateGroupAsync(Admin, c.Org, "grp\uDBFF")),
        Invalid("lone surrogate in a report attribute filter", "attributes[user]", c => c.S.GetUsageReportAsync(Admin, new Allocations.Reporting.UsageReportRequest(c.Org) { Attributes = new Dictionary<string, string> { ["user"] = "\uD800" } })),
        Invalid("null batch", "records", c => c.S.RecordBatchAsync(Admin, null!)),
        Invalid("null item in a batch", "record", c => c.S.RecordBatchAsync(Admin, [c.Cpu(key: "b-1"), null!])),
        Fails<NotFoundException>("batch whose last item names an unknown SKU", c => c.S.RecordBatchAsync(Admin, [c.Cpu(key: "b-1"), c.Cpu(key: "b-2"), c.Cpu().With(sku: new SkuCode("NOPE"))])),
        Fails<ConflictException>("batch repeating a key with other content after a Confirmed item", c => c.S.RecordBatchAsync(Admin, [c.Cpu(key: "b-1"), c.Cpu(Quantity.FromDecimal(2m), key: "b-1")])),

        // ---- cancellation and options ----
        Fails<OperationCanceledException>("record with a cancelled token", c => c.S.RecordUsageAsync(Admin, c.Cpu(), Cancelled)),
        Fails<OperationCanceledException>("batch with a cancelled token", c => c.S.RecordBatchAsync(Admin, [c.Cpu(key: "b-1"), c.Cpu(key: "b-2")], cancellationToken: Cancelled)),
        Fails<OperationCanceledException>("create with a cancelled token", c => c.S.CreateAllocationAsync(Admin, c.Org, new NewAllocation("Later", TestStore.CoreHours, Amount.Zero), Cancelled)),
        Fails<OperationCanceledException>("delete with a cancelled token", c => c.S.DeleteAllocationAsync(Admin, c.Child.Id, cancellationToken: Cancelled)),
        Invalid("empty path", "path", c => AllocationStore.OpenAsync("")),
        Invalid(":memory: as a file path", "path", c => AllocationStore.OpenAsync(":memory:")),
        Invalid("negative busy timeout", "BusyTimeout", c => AllocationStore.OpenAsync(c.T.Path, new AllocationStoreOptions { BusyTimeout = Duration.FromSeconds(-1) })),
        Invalid("NUL in a store path", "path", c => AllocationStore.OpenAsync("a\0b")),
        Invalid("NUL inside a full store path", "path", c => AllocationStore.OpenAsync(c.T.Path + "\0.db")),
        Invalid("busy timeout of Duration.MaxValue", "BusyTimeout", c => AllocationStore.OpenAsync(c.T.Path, new AllocationStoreOptions { BusyTimeout = Duration.MaxValue })),
        Invalid("busy timeout one millisecond past int.MaxValue", "BusyTimeout", c => AllocationStore.OpenAsync(c.T.Path, new AllocationStoreOptions { BusyTimeout = Duration.FromMilliseconds(int.MaxValue + 1L) })),
        Invalid("busy timeout of Duration.MinValue", "BusyTimeout", c => AllocationStore.OpenAsync(c.T.Path, new AllocationStoreOptions { BusyTimeout = Duration.MinValue })),
        Invalid("in-memory store with a busy timeout of Duration.MaxValue", "BusyTimeout", c => AllocationStore.OpenInMemoryAsync(new AllocationStoreOptions { BusyTimeout = Duration.MaxValue })),
        Invalid("clock in 1899", "Clock", c => AllocationStore.OpenAsync(c.T.Path, new AllocationStoreOptions { Clock = new NodaTime.Testing.FakeClock(Instant.FromUtc(1899, 12, 31, 0, 0)) })),
        Invalid("clock after 2200", "Clock", c => AllocationStore.OpenAsync(c.T.Path, new AllocationStoreOptions { Clock = new NodaTime.Testing.FakeClock(Instant.FromUtc(2200, 1, 1, 0, 0) + Duration.Epsilon) })),
        Invalid("clock at Instant.MaxValue", "Clock", c => AllocationStore.OpenAsync(c.T.Path, new AllocationStoreOptions { Clock = new NodaTime.Testing.FakeClock(Instant.MaxValue) })),
        Invalid("in-memory store with a clock at Instant.MinValue", "Clock", c => AllocationStore.OpenInMemoryAsync(new AllocationStoreOptions { Clock = new NodaTime.Testing.FakeClock(Instant.MinValue) })),
        Invalid("clock moved past 2200 after the open", "Clock", c => Create(c, "Later"), c =>
        {
            c.T.Clock.Reset(Instant.FromUtc(2300, 1, 1, 0, 0));
            return Task.CompletedTask;
        }),
        // ---- figures as of an instant ----
        Invalid("as-of after the store's clock", "asOf", c => c.S.GetAllocationAsOfAsync(Admin, c.Child.Id, c.T.Clock.GetCurrentInstant() + Duration.FromNanoseconds(1))),
        Invalid("as-of before the allocation was created", "asOf", c => c.S.GetAllocationAsOfAsync(Admin, c.Child.Id, Nov20)),
        Invalid("as-of before 1900", "asOf", c => c.S.GetAllocationAsOfAsync(Admin, c.Child.Id, Instant.FromUtc(1899, 12, 31, 23, 59))),
        Invalid("as-of Instant.MinValue", "asOf", c => c.S.GetAllocationAsOfAsync(Admin, c.Child.Id, Instant.MinValue)),
        Invalid("as-of Instant.MaxValue", "asOf", c => c.S.GetAllocationAsOfAsync(Admin, c.Child.Id, Instant.MaxValue)),
        Invalid("table as-of after the store's clock", "asOf", c => c.S.GetAllocationTableAsOfAsync(Admin, c.Org, c.T.Clock.GetCurrentInstant() + Duration.FromDays(1))),
        Invalid("table as-of Instant.MinValue", "asOf", c => c.S.GetAllocationTableAsOfAsync(Admin, c.Org, Instant.MinValue)),
        Invalid("table as-of with an unknown sort column", "sortBy", c => c.S.GetAllocationTableAsOfAsync(Admin, c.Org, c.T.Clock.GetCurrentInstant(), new Allocations.Reporting.AllocationTableQuery(sortBy: (Allocations.Reporting.AllocationSort)99))),

        // ---- transfers ----
        Invalid("transfer of zero", "amount", c => c.S.TransferAsync(Admin, c.Parent.Id, c.Child.Id, Amount.Zero, "nothing")),
        Invalid("transfer of a negative amount", "amount", c => c.S.TransferAsync(Admin, c.Parent.Id, c.Child.Id, Amount.FromDecimal(-5m), "backwards")),
        Invalid("transfer of long.MinValue micros", "amount", c => c.S.TransferAsync(Admin, c.Parent.Id, c.Child.Id, Amount.FromMicros(long.MinValue), "backwards")),
        Invalid("transfer to the source itself", "to", c => c.S.TransferAsync(Admin, c.Parent.Id, c.Parent.Id, Amount.FromDecimal(1m), "in place")),
        Invalid("transfer between units", "to", c => c.S.TransferAsync(Admin, c.Parent.Id, c.Cash.Id, Amount.FromDecimal(1m), "to dollars")),
        Invalid("transfer to another organization", "to", c => c.S.TransferAsync(Principal.System, c.Parent.Id, c.Elsewhere!.Value, Amount.FromDecimal(1m), "abroad"), async c =>
        {
            var other = await c.S.CreateOrganizationAsync(Principal.System, "Other lab", Admin.Id);
            await c.S.CreateUnitAsync(Admin, other.Id, TestStore.CoreHours, 2);
            c.Elsewhere = (await c.S.CreateAllocationAsync(Admin, other.Id, new NewAllocation("Abroad", TestStore.CoreHours, Amount.FromDecimal(10m)))).Id;
        }),
        Invalid("transfer past the largest total", "amount", c => c.S.TransferAsync(Admin, c.Parent.Id, c.Child.Id, Amount.FromDecimal(2m), "overflow"), async c =>
            await c.S.ChangeTotalAsync(Admin, c.Child.Id, Amount.FromMicros(long.MaxValue - 1_000_000), "as much as can be")),
        Invalid("transfer with a null reason", "reason", c => c.S.TransferAsync(Admin, c.Parent.Id, c.Child.Id, Amount.FromDecimal(1m), null!)),
        Invalid("transfer with a reason of 2,001 characters", "reason", c => c.S.TransferAsync(Admin, c.Parent.Id, c.Child.Id, Amount.FromDecimal(1m), new string('r', 2001))),
        Fails<ConflictException>("transfer of more than the source has free", c => c.S.TransferAsync(Admin, c.Child.Id, c.Parent.Id, Amount.FromDecimal(95m), "too much")),
        Fails<ConflictException>("forced transfer of more than the source's total", c => c.S.TransferAsync(Admin, c.Child.Id, c.Parent.Id, Amount.FromDecimal(100.01m), "below zero", force: true)),
        Fails<NotFoundException>("transfer from a missing allocation", c => c.S.TransferAsync(Admin, new AllocationId(999_999), c.Parent.Id, Amount.FromDecimal(1m), "from nowhere")),
        Fails<NotFoundException>("transfer to a missing allocation", c => c.S.TransferAsync(Admin, c.Parent.Id, new AllocationId(999_999), Amount.FromDecimal(1m), "to nowhere")),
        Fails<OperationCanceledException>("transfer with a cancelled token", c => c.S.TransferAsync(Admin, c.Parent.Id, c.Child.Id, Amount.FromDecimal(1m), "later", cancellationToken: Cancelled)),
        // ---- periods ----
        Invalid("period ending at its start", "periodEnd", c => c.S.CreateAllocationAsync(Admin, c.Org, new NewAllocation("P0", TestStore.CoreHours, Amount.Zero, null, Nov15, Nov15))),
        Invalid("period ending before its start", "periodEnd", c => c.S.CreateAllocationAsync(Admin, c.Org, new NewAllocation("P1", TestStore.CoreHours, Amount.Zero, null, Nov20, Nov15))),
        Invalid("period starting before 1900", "periodStart", c => c.S.CreateAllocationAsync(Admin, c.Org, new NewAllocation("P2", TestStore.CoreHours, Amount.Zero, null, Instant.FromUtc(1899, 12, 31, 0, 0), null))),
        Invalid("child period starting before its parent's", "periodStart", c => c.S.CreateAllocationAsync(Admin, c.Org, new NewAllocation("P3", TestStore.CoreHours, Amount.Zero, c.Parent.Id, Nov1 - Duration.FromDays(1), Nov20)), c => c.S.SetPeriodAsync(Admin, c.Parent.Id, Nov1, Nov1 + Duration.FromDays(30))),
        Invalid("child period ending after its parent's", "periodEnd", c => c.S.CreateAllocationAsync(Admin, c.Org, new NewAllocation("P4", TestStore.CoreHours, Amount.Zero, c.Parent.Id, null, Nov1 + Duration.FromDays(31))), c => c.S.SetPeriodAsync(Admin, c.Parent.Id, Nov1, Nov1 + Duration.FromDays(30))),
        Invalid("period changed to end at its start", "end", c => c.S.SetPeriodAsync(Admin, c.Cash.Id, Nov15, Nov15)),
        Invalid("period changed to end past 2200", "end", c => c.S.SetPeriodAsync(Admin, c.Cash.Id, null, Instant.FromUtc(2200, 1, 2, 0, 0))),
        Invalid("child period changed outside its parent's", "end", c => c.S.SetPeriodAsync(Admin, c.Child.Id, null, Nov1 + Duration.FromDays(31)), c => c.S.SetPeriodAsync(Admin, c.Parent.Id, Nov1, Nov1 + Duration.FromDays(30))),
        Fails<ConflictException>("period changed to leave a recorded event outside", c => c.S.SetPeriodAsync(Admin, c.Parent.Id, Nov20, null)),
        Fails<ConflictException>("parent period changed to leave a child's period outside", c => c.S.SetPeriodAsync(Admin, c.Parent.Id, Nov1, Nov20 + Duration.FromDays(1)), c => c.S.SetPeriodAsync(Admin, c.Child.Id, Nov15, Nov20 + Duration.FromDays(5))),
        Fails<OutsidePeriodException>("usage starting after the period", c => c.S.RecordUsageAsync(Admin, c.Cpu(on: c.Cash.Id).With(sku: new SkuCode("STORAGE_GB"))), c => c.S.SetPeriodAsync(Admin, c.Cash.Id, Nov1, Nov15)),
        Fails<OutsidePeriodException>("usage starting before the period", c => c.S.RecordUsageAsync(Admin, c.Cpu(on: c.Cash.Id).With(sku: new SkuCode("STORAGE_GB"))), c => c.S.SetPeriodAsync(Admin, c.Cash.Id, Nov20, null)),
        Fails<NotFoundException>("period of a missing allocation", c => c.S.SetPeriodAsync(Admin, new AllocationId(999_999), Nov1, null)),
        Fails<OperationCanceledException>("period change with a cancelled token", c => c.S.SetPeriodAsync(Admin, c.Cash.Id, Nov1, null, Cancelled)),
        Invalid("a negative % Used threshold", "percent", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, [AlertThreshold.PercentUsed(-1m)])),
        Invalid("a % Used threshold of zero", "percent", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, [AlertThreshold.PercentUsed(0m)])),
        Invalid("a % Used threshold over 1000", "percent", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, [AlertThreshold.PercentUsed(1000.01m)])),
        Invalid("a % Used threshold of decimal.MaxValue", "percent", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, [AlertThreshold.PercentUsed(decimal.MaxValue)])),
        Invalid("a % Used threshold with three decimals", "percent", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, [AlertThreshold.PercentUsed(80.125m)])),
        Invalid("a negative Remaining threshold", "remaining", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, [AlertThreshold.Remaining(Amount.FromDecimal(-0.000001m))])),
        Invalid("duplicate % Used thresholds", "thresholds", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, [AlertThreshold.PercentUsed(80), AlertThreshold.PercentUsed(80.00m)])),
        Invalid("duplicate Remaining thresholds", "thresholds", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, [AlertThreshold.Remaining(Amount.FromDecimal(5m)), AlertThreshold.Remaining(Amount.FromMicros(5_000_000))])),
        Invalid("a default threshold", "thresholds", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, [default])),
        Invalid("a null threshold list", "thresholds", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, null!)),
        Invalid("33 thresholds", "thresholds", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, [.. Enumerable.Range(1, 33).Select(p => AlertThreshold.PercentUsed(p))])),
        Fails<NotFoundException>("thresholds on a missing allocation", c => c.S.SetAlertThresholdsAsync(Admin, new AllocationId(999_999), [AlertThreshold.PercentUsed(80)])),
        Fails<OperationCanceledException>("thresholds with a cancelled token", c => c.S.SetAlertThresholdsAsync(Admin, c.Parent.Id, [AlertThreshold.PercentUsed(80)], Cancelled)),
        Invalid("an alert page of zero", "pageSize", c => c.S.GetAlertsAsync(Admin, c.Org, pageSize: 0)),
        Invalid("an alert page of 1,001", "pageSize", c => c.S.GetAlertsAsync(Admin, c.Org, pageSize: 1001)),
        Invalid("a negative alert cursor", "after", c => c.S.GetAlertsAsync(Admin, c.Org, new AlertCursor(-1))),
        Invalid("an alert cursor that is not a number", "after", c => c.S.GetAlertsAsync(Admin, c.Org, AlertCursor.Parse("alert:x"))),
        Invalid("an alert cursor past the largest number", "after", c => c.S.GetAlertsAsync(Admin, c.Org, AlertCursor.Parse("99999999999999999999"))),
        Fails<NotFoundException>("a period sweep of a missing organization", c => c.S.SweepPeriodAlertsAsync(Admin, new OrganizationId(999_999))),
        Fails<OperationCanceledException>("a period sweep with a cancelled token", c => c.S.SweepPeriodAlertsAsync(Admin, c.Org, Cancelled)),
        Fails<NotFoundException>("alerts of a missing organization", c => c.S.GetAlertsAsync(Admin, new OrganizationId(999_999))),
        // ---- rate corrections and re-rating ----
        Invalid("rate correction over an empty period", "effectiveTo", c => c.S.CorrectRateAsync(Admin, c.Org, TestStore.Cpu, Nov15, Nov15, Rate.FromDecimal(3m), "fix")),
        Invalid("rate correction ending before it starts", "effectiveTo", c => c.S.CorrectRateAsync(Admin, c.Org, TestStore.Cpu, Nov15, Nov1, Rate.FromDecimal(3m), "fix")),
        Invalid("rate correction from the year 2300", "effectiveFrom", c => c.S.CorrectRateAsync(Admin, c.Org, TestStore.Cpu, Instant.FromUtc(2300, 1, 1, 0, 0), null, Rate.FromDecimal(3m), "fix")),
        Invalid("rate correction with a null reason", "reason", c => c.S.CorrectRateAsync(Admin, c.Org, TestStore.Cpu, Nov1, Nov15, Rate.FromDecimal(3m), null!)),
        Invalid("rate correction with a reason of 2,001 characters", "reason", c => c.S.CorrectRateAsync(Admin, c.Org, TestStore.Cpu, Nov1, Nov15, Rate.FromDecimal(3m), new string('r', 2001))),
        Invalid("rate correction of an empty SKU code", "sku", c => c.S.CorrectRateAsync(Admin, c.Org, default, Nov1, Nov15, Rate.FromDecimal(3m), "fix")),
        Fails<NotFoundException>("rate correction of an unknown SKU", c => c.S.CorrectRateAsync(Admin, c.Org, new SkuCode("NOPE"), Nov1, Nov15, Rate.FromDecimal(3m), "fix")),
        Invalid("re-rate preview of an unbounded period", "interval", c => c.S.PreviewRerateAsync(Admin, c.Org, TestStore.Cpu, new Interval(null, Nov15))),
        Invalid("re-rate preview of an empty period", "interval", c => c.S.PreviewRerateAsync(Admin, c.Org, TestStore.Cpu, new Interval(Nov15, Nov15))),
        Invalid("re-rate preview ending in 2300", "interval", c => c.S.PreviewRerateAsync(Admin, c.Org, TestStore.Cpu, new Interval(Nov1, Instant.FromUtc(2300, 1, 1, 0, 0)))),
        Invalid("re-rate preview of at most 0 events", "maxEvents", c => c.S.PreviewRerateAsync(Admin, c.Org, TestStore.Cpu, new Interval(Nov1, Nov20), maxEvents: 0)),
        Invalid("re-rate preview of at most 100,001 events", "maxEvents", c => c.S.PreviewRerateAsync(Admin, c.Org, TestStore.Cpu, new Interval(Nov1, Nov20), maxEvents: 100_001)),
        Invalid("re-rate preview of an empty SKU code", "sku", c => c.S.PreviewRerateAsync(Admin, c.Org, default, new Interval(Nov1, Nov20))),
        Fails<NotFoundException>("re-rate preview of an unknown SKU", c => c.S.PreviewRerateAsync(Admin, c.Org, new SkuCode("NOPE"), new Interval(Nov1, Nov20))),
        Fails<NotFoundException>("re-rate preview in an unknown organization", c => c.S.PreviewRerateAsync(Admin, new OrganizationId(999_999), TestStore.Cpu, new Interval(Nov1, Nov20))),
        Invalid("re-rate preview whose new amount exceeds the amount range", "quantity", c => c.S.PreviewRerateAsync(Admin, c.Org, TestStore.Cpu, new Interval(Nov15, Nov20)), async c =>
        {
            await c.S.RecordUsageAsync(Admin, Huge(c.Parent, UsageStatus.Confirmed));
            await c.S.CorrectRateAsync(Admin, c.Org, TestStore.Cpu, Nov15, null, Rate.FromDecimal(4m), "four");
        }),
        Invalid("re-rate of a null preview", "preview", c => c.S.RerateAsync(Admin, null!)),
        Fails<StalePreviewException>("re-rate of a preview whose event was deleted since", c => c.S.RerateAsync(Admin, c.Preview!), async c =>
        {
            await c.S.CorrectRateAsync(Admin, c.Org, TestStore.Cpu, Nov15, null, Rate.FromDecimal(3m), "three");
            c.Preview = await c.S.PreviewRerateAsync(Admin, c.Org, TestStore.Cpu, new Interval(Nov1, Nov20 + Duration.FromDays(1)));
            await c.S.DeleteEventAsync(Admin, c.Charge.Id);
        }),
        Fails<StalePreviewException>("re-rate of a preview whose rules changed since", c => c.S.RerateAsync(Admin, c.Preview!), async c =>
        {
            await c.S.CorrectRateAsync(Admin, c.Org, TestStore.Cpu, Nov15, null, Rate.FromDecimal(3m), "three");
            c.Preview = await c.S.PreviewRerateAsync(Admin, c.Org, TestStore.Cpu, new Interval(Nov1, Nov20 + Duration.FromDays(1)));
            await c.S.CorrectRateAsync(Admin, c.Org, TestStore.Cpu, Nov15, null, Rate.FromDecimal(2.5m), "two and a half");
        }),
        Invalid("re-rate that would take a parent's figures past the amount range", "amount", c => c.S.RerateAsync(Admin, c.Preview!), async c =>
        {
            await c.S.RecordUsageAsync(Admin, Huge(c.Child, UsageStatus.Confirmed));
            await c.S.RecordUsageAsync(Admin, new UsageRecord(c.Parent.Id, TestStore.Cpu, Quantity.FromDecimal(1_000_000_000_000m), Nov15, Nov15 + Duration.FromHours(1), UsageStatus.Confirmed));
            await c.S.CorrectRateAsync(Admin, c.Org, TestStore.Cpu, Nov15, null, Rate.FromDecimal(3.5m), "three and a half");
            c.Preview = await c.S.PreviewRerateAsync(Admin, c.Org, TestStore.Cpu, new Interval(Nov15, Nov20));
        }),
        Fails<OperationCanceledException>("re-rate preview with a cancelled token", c => c.S.PreviewRerateAsync(Admin, c.Org, TestStore.Cpu, new Interval(Nov1, Nov20), cancellationToken: Cancelled)),
        Invalid("export to a read-only stream", "stream", c => c.S.ExportEventsAsync(Admin, c.Parent.Id, null, new MemoryStream([], writable: false), Allocations.Reporting.ExportFormat.Csv, null, CancellationToken.None)),
        Invalid("export to a null stream", "stream", c => c.S.ExportEventsAsync(Admin, c.Parent.Id, null, (Stream)null!, Allocations.Reporting.ExportFormat.Csv, null, CancellationToken.None)),
    ];

    public static TheoryData<Case> All()
    {
        var data = new TheoryData<Case>();
        foreach (var c in Cases)
        {
            data.Add(c);
        }
        return data;
    }

    [Fact]
    public void Corpus_HasAtLeastFiftyDistinctCases()
    {
        Assert.True(Cases.Count >= 50, $"only {Cases.Count} cases");
        Assert.Equal(Cases.Count, Cases.Select(c => c.Name).Distinct().Count());
    }

    /// <summary>Every case on every engine.</summary>
    public static TheoryData<Case, Engine> AllOnEngines()
    {
        var data = new TheoryData<Case, Engine>();
        foreach (var engine in new EnginesAttribute().GetData(null!).Select(row => (Engine)row[0]))
        {
            foreach (var c in Cases)
            {
                data.Add(c, engine);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AllOnEngines))]
    public async Task MalformedInput_IsRefusedWithItsOwnError_AndChangesNothing(Case @case, Engine engine)
    {
        var c = await Context.CreateAsync(engine);
        using var t = c.T;
        if (@case.Arrange is { } arrange)
        {
            await arrange(c);
        }
        var before = t.ContentHash();
        var ex = await Record.ExceptionAsync(() => @case.Act(c));
        Assert.NotNull(ex);
        Assert.True(@case.Exception.IsInstanceOfType(ex), $"expected {@case.Exception.Name}, got {ex.GetType().Name}: {ex.Message}");
        if (@case.Field is { } field)
        {
            Assert.Equal(field, ((InvalidInputException)ex).Field);
        }
        Assert.Equal(before, t.ContentHash());
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
    }
}
