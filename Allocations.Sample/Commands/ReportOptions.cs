using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;
using NodaTime;
using NodaTime.Text;

namespace Allocations.Sample.Commands;

/// <summary>Options shared by the report and export commands.</summary>
internal static class ReportOptions
{
    /// <summary>Reads --org ID (default 1) and --as USER (default: the system actor).</summary>
    internal static (OrganizationId Org, Principal Actor) Who(string[] args)
    {
        var orgText = SampleOptions.Value(args, "--org") ?? "1";
        if (!long.TryParse(orgText, NumberStyles.None, CultureInfo.InvariantCulture, out var org) || org <= 0)
        {
            throw new InvalidInputException("--org", orgText, "an organization id (a positive number) is required");
        }
        var user = SampleOptions.Value(args, "--as");
        return (new OrganizationId(org), user is null ? Principal.System : Principal.User(user));
    }

    internal static DateTimeZone Zone(string[] args)
    {
        var id = SampleOptions.Value(args, "--zone") ?? "UTC";
        return DateTimeZoneProviders.Tzdb.GetZoneOrNull(id) ?? throw new InvalidInputException("--zone", id, "not a time zone id of the tz database (for example Europe/Berlin)");
    }

    /// <summary>Reads an instant (2026-11-01T00:00:00Z) or a local date (2026-11-01, midnight in the zone).</summary>
    internal static Instant? When(string[] args, string name, DateTimeZone zone)
    {
        var text = SampleOptions.Value(args, name);
        if (text is null)
        {
            return null;
        }
        var instant = InstantPattern.ExtendedIso.Parse(text);
        if (instant.Success)
        {
            return instant.Value;
        }
        var date = LocalDatePattern.Iso.Parse(text);
        if (date.Success)
        {
            return zone.AtStartOfDay(date.Value).ToInstant();
        }
        throw new InvalidInputException(name, text, "an instant (2026-11-01T00:00:00Z) or a date (2026-11-01) is required");
    }

    /// <summary>Reads an allocation by id or by name (case-insensitive) among those the actor can Read.</summary>
    internal static async Task<AllocationId> AllocationAsync(AllocationStore store, Principal actor, OrganizationId org, string text)
    {
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return new AllocationId(id);
        }
        var table = await store.GetAllocationTableAsync(actor, org);
        return table.FirstOrDefault(r => string.Equals(r.Name, text, StringComparison.OrdinalIgnoreCase))?.Id
            ?? throw new NotFoundException("allocation", text);
    }

    /// <summary>Opens the file given by --out, or standard output.</summary>
    internal static TextWriter Output(string[] args)
    {
        var path = SampleOptions.Value(args, "--out");
        return path is null ? Console.Out : new StreamWriter(path, append: false, new System.Text.UTF8Encoding(false));
    }

    internal static string Format(Amount amount, int decimals = 2) => amount.ToString(decimals);
}
