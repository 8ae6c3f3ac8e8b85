using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Reporting;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Access;

/// <summary>Text that is not valid UTF-16 (an unpaired surrogate) is refused, naming the field, wherever the library
/// accepts text; SQLite's own message text never reaches a caller.</summary>
public class InvalidTextTests
{
    private static readonly Principal Admin = TestStore.Admin;

    /// <summary>Texts with an unpaired surrogate. Theories take an index: xunit's serialization of string data would
    /// itself turn a lone surrogate into U+FFFD.</summary>
    private static readonly string[] BrokenTexts =
    [
        "job-\uD800",
        "job-\uDBFF",
        "\uDC00job",
        "a\uDFFFb",
        "pair-then-lone-\uD83E\uDDEA\uD83E",
    ];

    public static TheoryData<int> Broken() => new(Enumerable.Range(0, BrokenTexts.Length));

    private static UsageRecord Record(Allocation allocation, string? key = null, IReadOnlyDictionary<string, string>? attributes = null) =>
        new(allocation.Id, TestStore.Cpu, Quantity.FromDecimal(1m), TestStore.November1, TestStore.November1 + Duration.FromHours(1), UsageStatus.Confirmed, key, attributes);

    [Theory, Engines]
    public async Task TwoKeysDifferingOnlyInTheirLoneSurrogate_AreBothRefused_NotCollapsedIntoOneEvent(Engine engine)
    {
        using var t = await TestStore.CreateAsync(engine);
        var allocation = await t.CreateAllocationAsync("Physics", 100m);
        var before = t.ContentHash();

        var first = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordUsageAsync(Admin, Record(allocation, "job-\uD800")));
        var second = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.RecordBatchAsync(Admin, [Record(allocation, "ok"), Record(allocation, "job-\uDBFF")]));

        Assert.Equal("externalKey", first.Field);
        Assert.Equal("externalKey", second.Field);
        Assert.Equal(1, second.BatchIndex);
        Assert.Equal(before, t.ContentHash());
        await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.FindEventByKeyAsync(Admin, t.Organization, "job-\uD800"));
    }

    [Theory]
    [MemberData(nameof(Broken))]
    public async Task EveryTextInput_WithALoneSurrogate_IsRefusedNamingItsField(int index)
    {
        var text = BrokenTexts[index];
        Assert.Contains(text, char.IsSurrogate); // the data reached the test unchanged
        using var t = await TestStore.CreateAsync();
        var allocation = await t.CreateAllocationAsync("Physics", 100m);
        var before = t.ContentHash();

        async Task<string> FieldOf(Func<Task> call) => (await Assert.ThrowsAsync<InvalidInputException>(call)).Field;

        Assert.Equal("externalKey", await FieldOf(() => t.Store.RecordUsageAsync(Admin, Record(allocation, text))));
        Assert.Equal("attributes[note]", await FieldOf(() => t.Store.RecordUsageAsync(Admin, Record(allocation, null, new Dictionary<string, string> { ["note"] = text }))));
        Assert.Equal("attributes.key", await FieldOf(() => t.Store.RecordUsageAsync(Admin, Record(allocation, null, new Dictionary<string, string> { [text] = "v" }))));
        Assert.Equal("reason", await FieldOf(() => t.Store.ChangeTotalAsync(Admin, allocation.Id, Amount.FromDecimal(5m), text)));
        Assert.Equal("name", await FieldOf(() => t.Store.CreateAllocationAsync(Admin, t.Organization, new NewAllocation(text, TestStore.CoreHours, Amount.Zero))));
        Assert.Equal("group", await FieldOf(() => t.Store.CreateGroupAsync(Admin, t.Organization, text)));
        Assert.Equal("userId", await FieldOf(() => t.Store.AddOrganizationAdminAsync(Admin, t.Organization, text)));
        Assert.Equal("attributes[note]", await FieldOf(() => t.Store.ListEventsAsync(Admin, allocation.Id, new EventQuery(attributes: new Dictionary<string, string> { ["note"] = text }))));
        Assert.Equal(before, t.ContentHash());
    }

    [Fact]
    public void AConstraintError_IsTranslatedWithoutSqlitesText()
    {
        var unique = new SqliteException("SQLite Error 19: 'UNIQUE constraint failed: usage_events.org_id, usage_events.external_key'.", 19, 2067);
        var other = new SqliteException("SQLite Error 1: 'no such table: usage_events'.", 1, 1);

        var conflict = Assert.IsType<ConflictException>(SqliteStorageEngine.Translate("x.db", unique));
        var unavailable = Assert.IsType<StoreUnavailableException>(SqliteStorageEngine.Translate("x.db", other));

        foreach (var message in new[] { conflict.Message, unavailable.Message })
        {
            Assert.DoesNotContain("UNIQUE", message, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("usage_events", message, StringComparison.Ordinal);
            Assert.DoesNotContain("no such table", message, StringComparison.Ordinal);
        }
    }
}
