using System.Text;
using Allocations.Domain;
using Allocations.Tests.Support;
using NodaTime;

namespace Allocations.Tests.Reporting;

/// <summary>Helpers for reporting tests: events with attributes and a small RFC 4180 reader.</summary>
internal static class ReportFixture
{
    public static readonly UsageStatus[] Statuses = [UsageStatus.Confirmed, UsageStatus.Estimated];

    public static readonly string[] ZoneIds =
        ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "America/Sao_Paulo"];

    public static DateTimeZone Zone(string id) => DateTimeZoneProviders.Tzdb[id];

    public static UsageRecord Event(Allocation allocation, SkuCode sku, decimal quantity, Instant start, Instant end, UsageStatus status = UsageStatus.Confirmed, string? user = null, string? project = null) =>
        new(allocation.Id, sku, Quantity.FromDecimal(quantity), start, end, status, null, Attributes(user, project));

    public static IReadOnlyDictionary<string, string>? Attributes(string? user, string? project)
    {
        var map = new Dictionary<string, string>();
        if (user is not null)
        {
            map["user"] = user;
        }
        if (project is not null)
        {
            map["project"] = project;
        }
        return map.Count == 0 ? null : map;
    }

    /// <summary>Parses RFC 4180 text: quoted fields may hold commas, doubled quotes and line breaks.</summary>
    public static List<List<string>> ParseCsv(string text)
    {
        var records = new List<List<string>>();
        var record = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        var quoted = false;
        while (i < text.Length)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i += 2;
                    continue;
                }
                if (c == '"')
                {
                    quoted = false;
                    i++;
                    continue;
                }
                field.Append(c);
                i++;
                continue;
            }
            switch (c)
            {
                case '"':
                    quoted = true;
                    i++;
                    break;
                case ',':
                    record.Add(field.ToString());
                    field.Clear();
                    i++;
                    break;
                case '\r' when i + 1 < text.Length && text[i + 1] == '\n':
                    record.Add(field.ToString());
                    field.Clear();
                    records.Add(record);
                    record = [];
                    i += 2;
                    break;
                case '\r' or '\n':
                    throw new FormatException($"bare line break at {i}: RFC 4180 ends records with CRLF");
                default:
                    field.Append(c);
                    i++;
                    break;
            }
        }
        if (field.Length > 0 || record.Count > 0)
        {
            throw new FormatException("the last record is not ended by CRLF");
        }
        return records;
    }

    /// <summary>A store in memory with TestStore's catalogue (CPU at 1 then 2 from Nov 15, GPU at 4, LICENSE per unit
    /// at 10 then 20) and a USD price of 0.5 per core-hour.</summary>
    public static async Task<(AllocationStore Store, OrganizationId Org)> InMemoryAsync()
    {
        var store = await AllocationStore.OpenInMemoryAsync(new AllocationStoreOptions { Clock = new NodaTime.Testing.FakeClock(Instant.FromUtc(2026, 11, 20, 12, 0)) });
        var org = await store.CreateOrganizationAsync(Principal.System, "Lab", TestStore.Admin.Id);
        var admin = TestStore.Admin;
        await store.CreateUnitAsync(admin, org.Id, TestStore.CoreHours, 2);
        await store.AddUsdPriceAsync(admin, org.Id, TestStore.CoreHours, TestStore.November1, null, Rate.FromDecimal(0.5m));
        await store.CreateSkuAsync(admin, org.Id, TestStore.Cpu, TestStore.CoreHours, RateBasis.PerHour);
        await store.AddRateRuleAsync(admin, org.Id, TestStore.Cpu, TestStore.November1, TestStore.November15, Rate.FromDecimal(1m));
        await store.AddRateRuleAsync(admin, org.Id, TestStore.Cpu, TestStore.November15, null, Rate.FromDecimal(2m));
        await store.CreateSkuAsync(admin, org.Id, TestStore.Gpu, TestStore.CoreHours, RateBasis.PerHour);
        await store.AddRateRuleAsync(admin, org.Id, TestStore.Gpu, TestStore.November1, null, Rate.FromDecimal(4m));
        await store.CreateSkuAsync(admin, org.Id, TestStore.License, TestStore.CoreHours, RateBasis.PerUnit);
        await store.AddRateRuleAsync(admin, org.Id, TestStore.License, TestStore.November1, TestStore.November15, Rate.FromDecimal(10m));
        await store.AddRateRuleAsync(admin, org.Id, TestStore.License, TestStore.November15, null, Rate.FromDecimal(20m));
        return (store, org.Id);
    }
}
