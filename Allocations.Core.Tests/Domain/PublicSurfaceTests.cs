using System.Reflection;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using Allocations.Reporting;
using Allocations.Tests.Support;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Domain;

/// <summary>The public surface of the library: no records (no <c>with</c>, no generated members, no reference
/// equality through list members), lists exposed read-only, exception properties typed.</summary>
public class PublicSurfaceTests
{
    private static readonly Type[] PublicTypes = typeof(AllocationStore).Assembly.GetExportedTypes();

    [Fact]
    public void NoPublicType_IsARecord_OrHasACloneMethod_OrAPositionalDeconstruct()
    {
        Assert.True(PublicTypes.Length > 50, $"{PublicTypes.Length} public types");
        Assert.True(IsRecordLike(typeof(Usage.BatchPerItemTests.Item)), "a positional record is detected");
        Assert.Empty(PublicTypes.Where(IsRecordLike).Select(t => t.FullName));
    }

    private static bool IsRecordLike(Type t) =>
        t.GetMethod("<Clone>$", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance) is not null
        || t.GetProperty("EqualityContract", BindingFlags.NonPublic | BindingFlags.Instance) is not null
        || t.GetMethod("PrintMembers", BindingFlags.NonPublic | BindingFlags.Instance) is not null
        || t.GetMethods(BindingFlags.Public | BindingFlags.Instance).Any(m => m.Name == "Deconstruct");

    private static bool HasPublicInit(PropertyInfo p) =>
        p.SetMethod is { IsPublic: true } setter
        && setter.ReturnParameter.GetRequiredCustomModifiers().Any(m => m.FullName == "System.Runtime.CompilerServices.IsExternalInit");

    [Fact]
    public void NoPublicProperty_HasAnInitAccessorOutsideOptionTypes_OrAMutableCollectionType()
    {
        // Option bags set with an object initializer; every result type has get-only properties.
        Type[] optionTypes = [typeof(AllocationStoreOptions), typeof(UsageReportRequest), typeof(SlurmSyncOptions)];
        var properties = PublicTypes.Where(t => !t.IsEnum && !typeof(Exception).IsAssignableFrom(t))
            .SelectMany(t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly).Select(p => (Type: t, Property: p)))
            .ToList();
        Assert.True(HasPublicInit(typeof(UsageReportRequest).GetProperty(nameof(UsageReportRequest.GroupBy))!), "an init accessor is detected");
        var init = properties
            .Where(x => !optionTypes.Contains(x.Type) && HasPublicInit(x.Property))
            .Select(x => $"{x.Type.Name}.{x.Property.Name}");
        Assert.Empty(init);
        var mutable = properties
            .Where(x => x.Property.PropertyType.IsArray
                || (x.Property.PropertyType.IsGenericType && x.Property.PropertyType.GetGenericTypeDefinition() == typeof(List<>)))
            .Select(x => $"{x.Type.Name}.{x.Property.Name}");
        Assert.Empty(mutable);
    }

    [Fact]
    public void ExceptionProperties_ThatNameIdsLevelsOrCodes_AreTyped()
    {
        var exceptions = PublicTypes.Where(t => typeof(AllocationsException).IsAssignableFrom(t)).ToList();
        Assert.Contains(typeof(NotFoundException), exceptions);
        string[] typedNames = ["Allocation", "UsageEvent", "Organization", "Unit", "Sku", "RequiredLevel", "RequiredRole", "Level", "Instant", "BatchIndex"];
        var strings = exceptions
            .SelectMany(t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly).Select(p => (Type: t, Property: p)))
            .Where(x => x.Property.PropertyType == typeof(string)
                && (typedNames.Contains(x.Property.Name) || x.Property.Name.EndsWith("Id", StringComparison.Ordinal) || x.Property.Name.StartsWith("Required", StringComparison.Ordinal)))
            .Select(x => $"{x.Type.Name}.{x.Property.Name}");
        Assert.Empty(strings);

        Assert.Equal(typeof(AllocationId?), typeof(NotFoundException).GetProperty(nameof(NotFoundException.Allocation))!.PropertyType);
        Assert.Equal(typeof(UsageEventId?), typeof(NotFoundException).GetProperty(nameof(NotFoundException.UsageEvent))!.PropertyType);
        Assert.Equal(typeof(AccessLevel?), typeof(AccessDeniedException).GetProperty(nameof(AccessDeniedException.RequiredLevel))!.PropertyType);
        Assert.Equal(typeof(AllocationId?), typeof(AccessDeniedException).GetProperty(nameof(AccessDeniedException.Allocation))!.PropertyType);
        Assert.Equal(typeof(SkuCode?), typeof(NoRateException).GetProperty(nameof(NoRateException.Sku))!.PropertyType);
    }

    [Fact]
    public void TheStore_IsAsyncDisposable()
    {
        Assert.True(typeof(IAsyncDisposable).IsAssignableFrom(typeof(AllocationStore)));
    }

    [Fact]
    public async Task ThrownExceptions_CarryTheTypedIdentifiers_WithTheMessagesUnchanged()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Theory", 100m);
        var start = TestStore.November1;

        var allocation = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetAllocationAsync(TestStore.Admin, new AllocationId(4242)));
        Assert.Equal((new AllocationId(4242), "allocation", "allocation:4242"), (allocation.Allocation!.Value, allocation.Kind, allocation.Key));
        Assert.Equal("allocation 'allocation:4242' was not found", allocation.Message);

        var usageEvent = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.GetEventAsync(TestStore.Admin, new UsageEventId(77)));
        Assert.Equal(new UsageEventId(77), usageEvent.UsageEvent);
        Assert.Null(usageEvent.Allocation);
        Assert.Equal("usage event 'event:77' was not found", usageEvent.Message);

        var sku = await Assert.ThrowsAsync<NotFoundException>(() => t.Store.RecordUsageAsync(TestStore.Admin, new UsageRecord(a.Id, new SkuCode("NOPE"), Quantity.FromDecimal(1m), start, start)));
        Assert.Equal(new SkuCode("NOPE"), sku.Sku);
        Assert.Equal("SKU 'NOPE' was not found", sku.Message);

        var noRate = await Assert.ThrowsAsync<NoRateException>(() => t.Store.RecordUsageAsync(TestStore.Admin, TestStore.Cpu1(a, 1m, start - Duration.FromHours(1), start)));
        Assert.Equal((TestStore.Cpu, (UnitCode?)null), (noRate.Sku!.Value, noRate.Unit));
        Assert.Equal($"no rate is in force for 'CPU_HOUR' at {start - Duration.FromHours(1)}", noRate.Message);

        await t.Store.CreateGroupAsync(TestStore.Admin, t.Organization, "readers");
        await t.Store.AddGroupMemberAsync(TestStore.Admin, t.Organization, "readers", "bob");
        await t.Store.GrantAsync(TestStore.Admin, a.Id, Grantee.Group("readers"), AccessLevel.Read);
        var bob = Principal.User("bob");
        var denied = await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.RecordUsageAsync(bob, TestStore.Cpu1(a, 1m, start, start + Duration.FromHours(1))));
        Assert.Equal((AccessLevel.Use, (AccessRole?)null, a.Id, t.Organization), (denied.RequiredLevel!.Value, denied.RequiredRole, denied.Allocation!.Value, denied.Organization!.Value));
        Assert.Equal("'bob' may not record usage on allocation 'Theory': it needs Use", denied.Message);

        var role = await Assert.ThrowsAsync<AccessDeniedException>(() => t.Store.CreateOrganizationAsync(TestStore.Admin, "Other", "carol"));
        Assert.Equal((AccessRole.SystemActor, (AccessLevel?)null), (role.RequiredRole!.Value, role.RequiredLevel));
        Assert.Equal("'admin' may not create an organization on the store: it needs the system actor", role.Message);
    }

    [Fact]
    public void SmallValues_HaveValueEquality_AndResultsWithListsDoNotPretendTo()
    {
        var at = Instant.FromUtc(2026, 11, 1, 0, 0);
        Assert.Equal(new EventCursor(at, new UsageEventId(3)), new EventCursor(at, new UsageEventId(3)));
        Assert.True(new SlurmQueryWindow(at, at) == new SlurmQueryWindow(at, at));
        Assert.Equal(new IngestSummary(1, 1, 0, 0, 1), new IngestSummary(1, 1, 0, 0, 1));
        Assert.NotEqual(new IngestSummary(1, 1, 0, 0, 1), new IngestSummary(1, 0, 1, 0, 1));
        Assert.Equal(new RateRule(1, at, null, Rate.FromDecimal(2m)), new RateRule(1, at, null, Rate.FromDecimal(2m)));
        Assert.Equal(new RateRule(1, at, null, Rate.FromDecimal(2m)).GetHashCode(), new RateRule(1, at, null, Rate.FromDecimal(2m)).GetHashCode());

        // Types holding lists keep reference equality (no Equals override), so equal-looking results never compare
        // equal through their lists by accident.
        Type[] withLists = [typeof(UsageEvent), typeof(BatchResult), typeof(VerificationReport), typeof(UsageReport),
            typeof(UsageReportRow), typeof(EventPage), typeof(GroupInfo), typeof(SlurmSyncReport)];
        Assert.All(withLists, t => Assert.Equal(typeof(object), t.GetMethod(nameof(Equals), [typeof(object)])!.DeclaringType));
    }
}
