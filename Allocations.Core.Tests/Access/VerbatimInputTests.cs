using System.Text.Json;
using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using Xunit;

namespace Allocations.Tests.Access;

/// <summary>SQL metacharacters and control characters in string inputs are stored and returned verbatim, never
/// executed; where a rule refuses control characters (names, ids), the refusal names the field.</summary>
public class VerbatimInputTests
{
    private static readonly Principal Admin = TestStore.Admin;

    /// <summary>Free text: SQL metacharacters, quotes, wildcards, parameter markers and control characters.</summary>
    public static TheoryData<string> FreeText() => new()
    {
        "'; DROP TABLE allocations; --",
        "\" OR 1=1 --",
        "Robert'); DELETE FROM journal; --",
        "%_\\[]*? LIKE GLOB",
        "NULL",
        "$id @name :p ?1 ?",
        "before\0after",
        "tab\there\nnew line\r\ncarriage",
        "\u0001\u001b[31m\u007f\u0085",
        "  padded with spaces  ",
        "line\u2028separator \ud83e\uddea ünïcödé",
        "*/ /* -- ; BEGIN; COMMIT; ROLLBACK;",
    };

    /// <summary>Names: SQL metacharacters without control characters (names refuse those).</summary>
    public static TheoryData<string> Names() => new()
    {
        "'; DROP TABLE allocations; --",
        "\" OR \"1\"=\"1",
        "Robert'); DELETE FROM groups; --",
        "%_\\[]*?",
        "NULL",
        "$id @name :p ?1",
        "\ud83e\uddea ünïcödé /* x */",
    };

    [Theory]
    [MemberData(nameof(FreeText))]
    public async Task FreeText_InReasonsAttributesAndExternalKeys_IsKeptVerbatim(string text)
    {
        using var t = await TestStore.CreateAsync();
        var allocation = await t.CreateAllocationAsync("Physics", 100m);
        var key = text.Length > 60 ? text[..60] : text;
        var attributes = new Dictionary<string, string> { ["note"] = text, [key] = "value" };
        var record = new UsageRecord(allocation.Id, TestStore.Cpu, Quantity.FromDecimal(1m), TestStore.November1, TestStore.November15, UsageStatus.Confirmed, text, attributes);

        var recorded = await t.Store.RecordUsageAsync(Admin, record);
        await t.Store.ChangeTotalAsync(Admin, allocation.Id, Amount.FromDecimal(200m), text);

        var stored = await t.Store.GetEventAsync(Admin, recorded.Event.Id);
        Assert.Equal(text, stored.ExternalKey);
        Assert.Equal(text, stored.Attributes["note"]);
        Assert.Equal("value", stored.Attributes[key]);
        Assert.Equal(RecordDisposition.Unchanged, (await t.Store.RecordUsageAsync(Admin, record)).Disposition);
        Assert.Equal(text, (await t.Store.GetTotalHistoryAsync(Admin, allocation.Id)).Single().Reason);

        var journal = await t.Store.GetAllocationJournalAsync(Admin, allocation.Id);
        using (var usage = JsonDocument.Parse(journal.Single(e => e.Action == "usage.record").After!))
        {
            Assert.Equal(text, usage.RootElement.GetProperty("externalKey").GetString());
            Assert.Equal(text, usage.RootElement.GetProperty("attributes").GetProperty("note").GetString());
        }
        using (var total = JsonDocument.Parse(journal.Single(e => e.Action == "allocation.total").After!))
        {
            Assert.Equal(text, total.RootElement.GetProperty("reason").GetString());
        }
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
        Assert.True((await t.Store.VerifyAsync(Admin, t.Organization)).IsClean);
        Assert.Single(await t.Store.ListAllocationsAsync(Admin, t.Organization));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Names_OfGroupsAllocationsAndUsers_KeepTheirMetacharacters(string name)
    {
        using var t = await TestStore.CreateAsync();
        var group = await t.Store.CreateGroupAsync(Admin, t.Organization, name);
        await t.Store.AddGroupMemberAsync(Admin, t.Organization, name, name);
        var allocation = await t.CreateAllocationAsync(name, 10m);
        await t.Store.GrantAsync(Admin, allocation.Id, Grantee.Group(name), AccessLevel.Read);

        Assert.Equal(name, group.Name);
        var listed = Assert.Single(await t.Store.ListGroupsAsync(Admin, t.Organization));
        Assert.Equal(name, listed.Name);
        Assert.Equal([name], listed.Members);
        Assert.Equal(name, (await t.Store.GetAllocationAsync(Principal.User(name), allocation.Id)).Name);
        Assert.Equal(name, Assert.Single(await t.Store.ListGrantsAsync(Admin, allocation.Id)).Grantee.GroupName);
        var journal = await t.Store.GetOrganizationJournalAsync(Admin, t.Organization);
        using var member = JsonDocument.Parse(journal.Single(e => e.Action == "group.member.add").After!);
        Assert.Equal(name, member.RootElement.GetProperty("user").GetString());
        Assert.Equal(name, member.RootElement.GetProperty("group").GetString());
        Assert.True((await t.Store.VerifyJournalAsync(Admin, t.Organization)).IsIntact);
    }

    [Theory]
    [InlineData("tab\tinside")]
    [InlineData("nul\0inside")]
    [InlineData("line\nbreak")]
    [InlineData("escape\u001b[0m")]
    public async Task ControlCharacters_InNames_AreRefusedNamingTheField_AndNothingIsWritten(string name)
    {
        using var t = await TestStore.CreateAsync();
        var before = t.ContentHash();

        var group = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.CreateGroupAsync(Admin, t.Organization, name));
        var allocation = await Assert.ThrowsAsync<InvalidInputException>(() => t.CreateAllocationAsync(name, 1m));
        var user = await Assert.ThrowsAsync<InvalidInputException>(() => t.Store.AddOrganizationAdminAsync(Admin, t.Organization, name));

        Assert.Equal("group", group.Field);
        Assert.Equal("name", allocation.Field);
        Assert.Equal("userId", user.Field);
        Assert.Equal(before, t.ContentHash());
    }
}
