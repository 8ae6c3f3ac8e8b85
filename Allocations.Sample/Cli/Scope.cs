using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;
using NodaTime;
using NodaTime.Text;

namespace Allocations.Sample.Cli;

/// <summary>What a command needs from the common options: which file, which organization, acting as whom.</summary>
internal enum Needs
{
    /// <summary>--db only (organization-independent commands).</summary>
    Store,

    /// <summary>--db and --org.</summary>
    Organization,
}

/// <summary>The options every admin command shares, created fresh for each command.</summary>
internal sealed class CommonOptions
{
    internal Option<string?> Db { get; } = new("--db")
    {
        Description = "The database file, or a PostgreSQL server's database as postgres://USER@HOST:PORT/DB or Host=...;Database=... " +
            "(the password from PGPASSWORD or ~/.pgpass, or in the string) [env: ALLOCATIONS_DB]",
        HelpName = "PATH|URL",
    };

    internal Option<string?> Org { get; } = new("--org") { Description = "The organization, by name or id [env: ALLOCATIONS_ORG]", HelpName = "NAME|ID" };

    internal Option<string?> As { get; } = new("--as") { Description = "Act as this host user (default: the system actor)", HelpName = "USER" };
}

/// <summary>One command's open store, organization and actor.</summary>
internal sealed class Scope
{
    private readonly string? orgText;
    private OrganizationId? organization;

    private Scope(AllocationStore store, string path, Principal actor, string? orgText)
    {
        Store = store;
        Path = path;
        Actor = actor;
        this.orgText = orgText;
    }

    internal AllocationStore Store { get; }

    internal string Path { get; }

    internal Principal Actor { get; }

    /// <summary>Adds --db, --org (when needed) and --as to <paramref name="command"/> and runs <paramref name="body"/>
    /// with the open store. Only <paramref name="create"/> commands may create the file.</summary>
    internal static void Action(Command command, Needs needs, Func<Scope, ParseResult, CancellationToken, Task<int>> body, bool create = false)
    {
        var common = new CommonOptions();
        command.Add(common.Db);
        if (needs == Needs.Organization)
        {
            command.Add(common.Org);
        }
        command.Add(common.As);
        command.SetAction(async (parse, ct) =>
        {
            var path = DatabasePath(parse.GetValue(common.Db));
            var server = IsServer(path);
            if (!create && !server)
            {
                RequireExisting(path);
            }
            var user = parse.GetValue(common.As);
            var actor = user is null ? Principal.System : Principal.User(user);
            var orgText = needs == Needs.Organization ? parse.GetValue(common.Org) ?? Env("ALLOCATIONS_ORG") : null;
            if (needs == Needs.Organization && orgText is null)
            {
                throw new UsageException("--org NAME|ID (or ALLOCATIONS_ORG) is required");
            }
            using var store = server ? await AllocationStore.OpenPostgresAsync(path, null, ct) : await AllocationStore.OpenAsync(path, null, ct);
            return await body(new Scope(store, server ? ServerName(path) : path, actor, orgText), parse, ct);
        });
    }

    /// <summary>The --db value, else ALLOCATIONS_DB; a usage error when neither is given.</summary>
    internal static string DatabasePath(string? given) =>
        given ?? Env("ALLOCATIONS_DB") ?? throw new UsageException("--db PATH (or ALLOCATIONS_DB) is required");

    /// <summary>Whether <paramref name="location"/> names a PostgreSQL database (a <c>postgres://</c> or
    /// <c>postgresql://</c> URI, or a key=value connection string with a Host) rather than a file.</summary>
    internal static bool IsServer(string location) =>
        location.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
        location.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) ||
        System.Text.RegularExpressions.Regex.IsMatch(location, @"(^|;)\s*(host|server)\s*=", System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>A server location for messages: host, port and database, never the user's password.</summary>
    internal static string ServerName(string location)
    {
        if (Uri.TryCreate(location, UriKind.Absolute, out var uri) && uri.Host.Length > 0)
        {
            return $"postgresql://{uri.Host}{(uri.Port > 0 ? ":" + uri.Port.ToString(CultureInfo.InvariantCulture) : "")}{uri.AbsolutePath}";
        }
        var pairs = location.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2))
            .Where(p => p.Length == 2)
            .GroupBy(p => p[0].Trim().ToLowerInvariant())
            .ToDictionary(g => g.Key, g => g.Last()[1].Trim());
        var host = pairs.GetValueOrDefault("host") ?? pairs.GetValueOrDefault("server") ?? "?";
        var port = pairs.GetValueOrDefault("port");
        var database = pairs.GetValueOrDefault("database") ?? pairs.GetValueOrDefault("db") ?? "";
        return $"postgresql://{host}{(port is null ? "" : ":" + port)}/{database}";
    }

    /// <summary>Refuses a database file that does not exist, so a typo never creates an empty store.</summary>
    internal static void RequireExisting(string path)
    {
        if (!File.Exists(path))
        {
            throw new ToolFailedException($"no database at {path} (create one with 'allocations org create' or 'allocations init')");
        }
    }

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    /// <summary>The organization named by --org: a name (case-insensitive) the actor can see, else an id.</summary>
    internal async Task<OrganizationId> OrgAsync(CancellationToken ct)
    {
        if (organization is { } known)
        {
            return known;
        }
        var text = orgText ?? throw new UsageException("--org NAME|ID (or ALLOCATIONS_ORG) is required");
        var match = (await Store.ListOrganizationsAsync(Actor, ct)).FirstOrDefault(o => string.Equals(o.Name, text, StringComparison.OrdinalIgnoreCase));
        if (match is not null)
        {
            organization = match.Id;
        }
        else if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0)
        {
            organization = new OrganizationId(id);
        }
        else
        {
            throw new NotFoundException("organization", text);
        }
        return organization.Value;
    }

    /// <summary>An allocation by name (case-insensitive, among those the actor can read) or by id.</summary>
    internal async Task<Allocation> AllocationAsync(string text, CancellationToken ct)
    {
        var org = await OrgAsync(ct);
        var all = await Store.ListAllocationsAsync(Actor, org, ct);
        var match = all.FirstOrDefault(a => string.Equals(a.Name, text, StringComparison.OrdinalIgnoreCase));
        if (match is not null)
        {
            return match;
        }
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && all.FirstOrDefault(a => a.Id.Value == id) is { } byId)
        {
            return byId;
        }
        throw new NotFoundException("allocation", text);
    }

    /// <summary>An event by id, or by its external key in the organization.</summary>
    internal async Task<UsageEvent> EventAsync(string text, CancellationToken ct)
    {
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return await Store.GetEventAsync(Actor, new UsageEventId(id), ct);
        }
        return await Store.FindEventByKeyAsync(Actor, await OrgAsync(ct), text, ct) ?? throw new NotFoundException("event", text);
    }

    /// <summary>The display precision of every unit of the organization.</summary>
    internal async Task<Precision> PrecisionAsync(CancellationToken ct)
    {
        var units = await Store.ListUnitsAsync(Actor, await OrgAsync(ct), ct);
        return new Precision(units.ToDictionary(u => u.Code, u => u.DisplayPrecision));
    }
}

/// <summary>Formats amounts at their unit's display precision.</summary>
internal sealed class Precision(IReadOnlyDictionary<UnitCode, int> digits)
{
    internal int Of(UnitCode unit) => digits.TryGetValue(unit, out var d) ? d : unit.IsUsd ? 2 : 6;

    internal string Format(Amount amount, UnitCode unit) => amount.ToString(Of(unit));
}

/// <summary>Typed options and arguments with strict parsers (a malformed value is a usage error, exit 2).</summary>
internal static class Values
{
    internal static Option<Instant?> InstantOption(string name, string description, bool required = false) => new(name)
    {
        Description = description + " (2026-11-01T00:00:00Z, or a date 2026-11-01 = midnight UTC)",
        HelpName = "INSTANT",
        Required = required,
        CustomParser = r => ParseInstant(r, DateTimeZone.Utc),
    };

    internal static Instant? ParseInstant(ArgumentResult r, DateTimeZone zone)
    {
        var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
        if (TryInstant(text, zone) is { } value)
        {
            return value;
        }
        r.AddError($"'{text}' is not an instant such as 2026-11-01T00:00:00Z or a date such as 2026-11-01");
        return null;
    }

    internal static Instant? TryInstant(string text, DateTimeZone zone)
    {
        var instant = InstantPattern.ExtendedIso.Parse(text);
        if (instant.Success)
        {
            return instant.Value;
        }
        var offset = OffsetDateTimePattern.ExtendedIso.Parse(text);
        if (offset.Success)
        {
            return offset.Value.ToInstant();
        }
        var date = LocalDatePattern.Iso.Parse(text);
        return date.Success ? zone.AtStartOfDay(date.Value).ToInstant() : null;
    }

    /// <summary>A hold's expiry: <c>never</c>, a duration (<c>90s</c>, <c>30m</c>, <c>2h</c>, <c>7d</c>) from now, or an
    /// instant. Absent: the store's default.</summary>
    internal static Option<HoldExpiry> ExpiryOption(string name, string description) => new(name)
    {
        Description = description + ": never, a duration such as 30m, 2h or 7d, or an instant such as 2026-11-01T00:00:00Z",
        HelpName = "EXPIRY",
        CustomParser = r =>
        {
            var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            if (string.Equals(text, "never", StringComparison.OrdinalIgnoreCase))
            {
                return HoldExpiry.Never;
            }
            if (text.Length > 1 && long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count is > 0 and <= 1_000_000_000)
            {
                Duration? duration = char.ToLowerInvariant(text[^1]) switch
                {
                    's' => Duration.FromSeconds(count),
                    'm' => Duration.FromMinutes(count),
                    'h' => Duration.FromHours(count),
                    'd' => Duration.FromDays(count),
                    _ => null,
                };
                if (duration is { } d)
                {
                    return HoldExpiry.After(d);
                }
            }
            if (TryInstant(text, DateTimeZone.Utc) is { } instant)
            {
                return HoldExpiry.At(instant);
            }
            r.AddError($"'{text}' is not an expiry for {name}: use never, a positive duration such as 30m, 2h or 7d, or an instant such as 2026-11-01T00:00:00Z");
            return HoldExpiry.StoreDefault;
        },
    };

    internal static Option<decimal> DecimalOption(string name, string description, string helpName, bool required = true) => new(name)
    {
        Description = description,
        HelpName = helpName,
        Required = required,
        CustomParser = r =>
        {
            var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            if (decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }
            r.AddError($"'{text}' is not a number for {name} (use a decimal point: 1234.5)");
            return 0m;
        },
    };

    /// <summary>Restricts a text option to a few words, ignoring case (the value is the word as listed).</summary>
    internal static Option<T> OneOf<T>(this Option<T> option, params string[] words)
        where T : class?
    {
        option.CustomParser = r =>
        {
            var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            var word = words.FirstOrDefault(w => string.Equals(w, text, StringComparison.OrdinalIgnoreCase));
            if (word is null)
            {
                r.AddError($"'{text}' is not valid for {option.Name}: use one of {string.Join(", ", words)}");
                return null;
            }
            return (T)(object)word;
        };
        return option;
    }

    internal static Option<bool> IfMissing() => new("--if-missing") { Description = "Succeed (print 'exists') when it is already there" };

    internal static Option<string?> Out() => new("--out") { Description = "Write to this file instead of standard output", HelpName = "FILE" };

    /// <summary>Opens an output file (or standard output); a missing directory or a refused write is one line, exit 1.</summary>
    internal static TextWriter OpenOutput(string? path)
    {
        if (path is null)
        {
            return Console.Out;
        }
        try
        {
            return new StreamWriter(path, append: false, new System.Text.UTF8Encoding(false));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ToolFailedException($"cannot write {path}: {Tool.OneLine(ex.Message)}", ex);
        }
    }

    internal static DateTimeZone Zone(string? id) =>
        id is null ? DateTimeZone.Utc : DateTimeZoneProviders.Tzdb.GetZoneOrNull(id) ?? throw new UsageException($"--zone '{id}' is not a time zone of the tz database (for example Europe/Berlin)");

    internal static string Instant(Instant value) => value.ToString("uuuu-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A period as <c>[start, end)</c>, an open bound shown as <c>open</c>; <c>(none)</c> when both are open.</summary>
    internal static string Period(Instant? start, Instant? end) => start is null && end is null
        ? "(none)"
        : $"[{(start is { } s ? Instant(s) : "open")}, {(end is { } e ? Instant(e) : "open")})";
}
