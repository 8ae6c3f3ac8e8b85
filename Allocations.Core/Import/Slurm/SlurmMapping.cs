using System.Text.Json;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Utility;
using NodaTime;

namespace Allocations.Import.Slurm;

/// <summary>What a Slurm job's quantity is measured by, per SKU.</summary>
public enum SlurmQuantitySource
{
    /// <summary>Allocated CPUs (<c>AllocCPUS</c>, else <c>cpu=</c> of AllocTRES): core-hours.</summary>
    Cpu = 1,

    /// <summary>Allocated nodes (<c>NNodes</c>, else <c>node=</c>): node-hours.</summary>
    Node = 2,

    /// <summary>Allocated GPUs (<c>gres/gpu=</c>; zero when the job has none): GPU-hours.</summary>
    Gpu = 3,

    /// <summary>The billing TRES (<c>billing=</c>): billing-hours.</summary>
    Billing = 4,

    /// <summary>Allocated memory in GiB (<c>mem=</c>; Slurm's M is MiB, G is GiB): GB-hours.</summary>
    MemGB = 5,
}

/// <summary>How one Slurm cluster maps to the store: accounts to allocations, partitions to SKUs, and per SKU what
/// its quantity is measured by. Loaded from a small JSON file.</summary>
/// <remarks>
/// <para>The format (every name is case-sensitive; unknown keys are refused so a typo is not silently ignored):</para>
/// <code>
/// {
///   "cluster": "lab",                        // required: sacct's Cluster; lines of other clusters are skipped
///   "timeZone": "America/Chicago",           // required: tzdb id sacct's local times are read in
///   "accounts":   { "physics": ["physics-2026", "physics-2027"], "chem": "Chemistry" },  // account → allocation name(s)
///   "partitions": { "cpu": "CPU_HOUR", "gpu": "GPU_HOUR" },  // partition → SKU code
///   "skus":       { "GPU_HOUR": "gres/gpu" }  // SKU → cpu | node | gres/gpu | billing | mem
///   "defaults": { "quantity": "cpu", "overlapMinutes": 60, "firstLookbackHours": 24, "lockTimeoutMinutes": 30 }
/// }
/// </code>
/// <para>Accounts match ignoring case (Slurm lower-cases them); partitions match exactly. A job whose account or
/// partition is not listed is skipped and reported, never guessed. An account may map to several allocations (the
/// successive allocations of one project): each job goes to the one whose period holds its start, so their periods
/// must not overlap (a sync refuses such a mapping, and <see cref="AllocationStore.CheckSlurmMappingAsync"/> reports
/// it); a job whose start none of them holds is reported, not recorded. Immutable and thread-safe.</para>
/// </remarks>
public sealed class SlurmMapping
{
    private readonly Dictionary<string, IReadOnlyList<string>> accounts;
    private readonly Dictionary<string, SkuCode> partitions;
    private readonly Dictionary<SkuCode, SlurmQuantitySource> skus;

    private SlurmMapping(
        string cluster,
        DateTimeZone timeZone,
        Dictionary<string, IReadOnlyList<string>> accounts,
        Dictionary<string, SkuCode> partitions,
        Dictionary<SkuCode, SlurmQuantitySource> skus,
        SlurmQuantitySource defaultQuantity,
        Duration overlap,
        Duration firstLookback,
        Duration lockTimeout)
    {
        Cluster = cluster;
        TimeZone = timeZone;
        this.accounts = accounts;
        this.partitions = partitions;
        this.skus = skus;
        DefaultQuantity = defaultQuantity;
        Overlap = overlap;
        FirstLookback = firstLookback;
        LockTimeout = lockTimeout;
    }

    /// <summary>Gets the cluster name, lower-cased (Slurm lower-cases ClusterName, and sacct prints it so in
    /// <c>Cluster</c>): "lab", "LAB" and "Lab" in the mapping file are one cluster, with one watermark, one lock and
    /// one set of event keys.</summary>
    /// <remarks>Stores written before the cluster was lower-cased hold, for a mapping spelt "LAB", keys
    /// <c>slurm:LAB:…</c> and a watermark row under "LAB". Nothing migrates them: the next run keys its jobs
    /// <c>slurm:lab:…</c>, finds no watermark for "lab" and reads back the first lookback, so jobs of that window already
    /// recorded under the old spelling are recorded a second time. Before upgrading such a store, either keep importing
    /// only jobs newer than the last import (<see cref="SlurmSyncOptions.Since"/> at the old watermark) or delete the
    /// old events of the overlap by hand. A mapping spelt in lower case already is unaffected.</remarks>
    public string Cluster { get; }

    /// <summary>Gets the zone sacct's local times are read in.</summary>
    public DateTimeZone TimeZone { get; }

    /// <summary>Gets the Slurm accounts and the allocation names each maps to: one, or several whose periods do not
    /// overlap, in the order the mapping lists them.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Accounts => accounts;

    /// <summary>Gets the partitions and the SKU each maps to.</summary>
    public IReadOnlyDictionary<string, SkuCode> Partitions => partitions;

    /// <summary>Gets the SKUs whose quantity source is given explicitly.</summary>
    public IReadOnlyDictionary<SkuCode, SlurmQuantitySource> QuantitySources => skus;

    /// <summary>Gets the quantity source of a SKU not listed in <see cref="QuantitySources"/>; default <c>cpu</c>.</summary>
    public SlurmQuantitySource DefaultQuantity { get; }

    /// <summary>Gets how far before the watermark each run asks sacct to start; default 60 minutes.</summary>
    public Duration Overlap { get; }

    /// <summary>Gets how far back the first run (no watermark yet) looks; default 24 hours.</summary>
    public Duration FirstLookback { get; }

    /// <summary>Gets how long a run's lock holds before another run may take it over; default 30 minutes.</summary>
    public Duration LockTimeout { get; }

    /// <summary>Gets the quantity source for a SKU: its own, or the default.</summary>
    /// <param name="sku">The SKU.</param>
    /// <returns>The source.</returns>
    public SlurmQuantitySource QuantitySourceFor(SkuCode sku) => skus.TryGetValue(sku, out var source) ? source : DefaultQuantity;

    /// <summary>Formats an instant as a local time in <see cref="TimeZone"/> for sacct's <c>-S</c> option (run sacct
    /// with <c>TZ</c> set to the same zone). When the local time is ambiguous (clocks going back) it is moved one hour
    /// earlier, so the window never starts late.</summary>
    /// <param name="instant">The instant.</param>
    /// <returns>The local time as <c>yyyy-MM-ddTHH:mm:ss</c>.</returns>
    public string FormatSacctTime(Instant instant)
    {
        var local = instant.InZone(TimeZone).LocalDateTime;
        if (TimeZone.MapLocal(local).Count != 1)
        {
            local = (instant - Duration.FromHours(1)).InZone(TimeZone).LocalDateTime;
        }
        return local.ToString("uuuu-MM-dd'T'HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Reads and validates a mapping file.</summary>
    /// <param name="path">The JSON file.</param>
    /// <returns>The mapping.</returns>
    /// <exception cref="InvalidInputException">The file cannot be read, or a field is missing or invalid (the
    /// exception names it).</exception>
    public static SlurmMapping Load(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new InvalidInputException("path", path, "a mapping file path is required");
        }
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException("path", path, "the mapping file cannot be read: " + ex.Message, ex);
        }
        return Parse(json);
    }

    /// <summary>Parses and validates a mapping from JSON text.</summary>
    /// <param name="json">The JSON text.</param>
    /// <returns>The mapping.</returns>
    /// <exception cref="InvalidInputException">The text is not JSON, or a field is missing or invalid (the exception
    /// names it, for example <c>partitions.gpu</c>).</exception>
    public static SlurmMapping Parse(string json)
    {
        if (json is null)
        {
            throw new InvalidInputException("json", null, "mapping JSON is required");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new InvalidInputException("json", ex.LineNumber is { } l ? $"line {l + 1}" : null, "the mapping is not valid JSON: " + ex.Message, ex);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidInputException("(root)", root.ValueKind.ToString(), "the mapping must be a JSON object");
            }
            CheckKeys(root, "", "cluster", "timeZone", "accounts", "partitions", "skus", "defaults");
            var cluster = RequiredString(root, "cluster").ToLowerInvariant();
            var zoneId = RequiredString(root, "timeZone");
            var zone = DateTimeZoneProviders.Tzdb.GetZoneOrNull(zoneId)
                ?? throw new InvalidInputException("timeZone", zoneId, "not a tzdb time zone id (for example America/Chicago or UTC)");

            var accounts = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, values) in AccountEntries(root))
            {
                var allocations = new List<string>(values.Count);
                foreach (var value in values)
                {
                    var allocation = value.Trim();
                    if (allocation.Length is 0 or > 200)
                    {
                        throw new InvalidInputException($"accounts.{name}", value, "an allocation name has 1 to 200 characters");
                    }
                    if (allocations.Contains(allocation, StringComparer.OrdinalIgnoreCase))
                    {
                        throw new InvalidInputException($"accounts.{name}", value, "the allocation is listed twice for the account (names match ignoring case)");
                    }
                    allocations.Add(allocation);
                }
                if (!accounts.TryAdd(name, allocations))
                {
                    throw new InvalidInputException($"accounts.{name}", name, "the account is listed twice (accounts match ignoring case)");
                }
            }

            var partitions = new Dictionary<string, SkuCode>(StringComparer.Ordinal);
            foreach (var (name, value) in Entries(root, "partitions"))
            {
                partitions[name] = Sku($"partitions.{name}", value);
            }

            var skus = new Dictionary<SkuCode, SlurmQuantitySource>();
            foreach (var (name, value) in Entries(root, "skus"))
            {
                var sku = Sku($"skus.{name}", name);
                if (!skus.TryAdd(sku, Source($"skus.{name}", value)))
                {
                    throw new InvalidInputException($"skus.{name}", name, "the SKU is listed twice (SKU codes match ignoring case)");
                }
            }

            var defaultQuantity = SlurmQuantitySource.Cpu;
            var overlap = Duration.FromMinutes(60);
            var firstLookback = Duration.FromHours(24);
            var lockTimeout = Duration.FromMinutes(30);
            if (root.TryGetProperty("defaults", out var defaults))
            {
                if (defaults.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidInputException("defaults", defaults.ValueKind.ToString(), "must be an object");
                }
                CheckKeys(defaults, "defaults.", "quantity", "overlapMinutes", "firstLookbackHours", "lockTimeoutMinutes");
                if (defaults.TryGetProperty("quantity", out var q))
                {
                    defaultQuantity = Source("defaults.quantity", q.ValueKind == JsonValueKind.String ? Text(q, "defaults.quantity") : q.ToString());
                }
                overlap = Duration.FromMinutes(Whole(defaults, "overlapMinutes", "defaults.overlapMinutes", 60, 0, 60 * 24 * 31));
                firstLookback = Duration.FromHours(Whole(defaults, "firstLookbackHours", "defaults.firstLookbackHours", 24, 1, 24 * 366 * 5));
                lockTimeout = Duration.FromMinutes(Whole(defaults, "lockTimeoutMinutes", "defaults.lockTimeoutMinutes", 30, 1, 60 * 24));
            }
            return new SlurmMapping(cluster, zone, accounts, partitions, skus, defaultQuantity, overlap, firstLookback, lockTimeout);
        }
    }

    /// <summary>Gets the text a quantity source is written as in the mapping file.</summary>
    /// <param name="source">The source.</param>
    /// <returns><c>cpu</c>, <c>node</c>, <c>gres/gpu</c>, <c>billing</c> or <c>mem</c>.</returns>
    public static string Name(SlurmQuantitySource source) => source switch
    {
        SlurmQuantitySource.Cpu => "cpu",
        SlurmQuantitySource.Node => "node",
        SlurmQuantitySource.Gpu => "gres/gpu",
        SlurmQuantitySource.Billing => "billing",
        SlurmQuantitySource.MemGB => "mem",
        _ => source.ToString(),
    };

    private static SlurmQuantitySource Source(string field, string value) => value.Trim().ToLowerInvariant() switch
    {
        "cpu" => SlurmQuantitySource.Cpu,
        "node" => SlurmQuantitySource.Node,
        "gres/gpu" or "gpu" => SlurmQuantitySource.Gpu,
        "billing" => SlurmQuantitySource.Billing,
        "mem" => SlurmQuantitySource.MemGB,
        _ => throw new InvalidInputException(field, value, "a quantity source is one of cpu, node, gres/gpu, billing, mem"),
    };

    private static SkuCode Sku(string field, string value)
    {
        try
        {
            return new SkuCode(value);
        }
        catch (InvalidInputException ex)
        {
            throw new InvalidInputException(field, value, ex.Rule, ex);
        }
    }

    private static string RequiredString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            throw new InvalidInputException(name, null, "is required");
        }
        if (element.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(Text(element, name)))
        {
            throw new InvalidInputException(name, element.ToString(), "must be a non-empty string");
        }
        return Text(element, name).Trim();
    }

    /// <summary>A string value, refused when it is not valid UTF-16 (a lone surrogate written as a <c>\u</c> escape).</summary>
    private static string Text(JsonElement element, string field)
    {
        try
        {
            return Preconditions.CheckWellFormed(element.GetString()!, field);
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidInputException(field, null, "is not valid UTF-16 text (a lone surrogate)", ex);
        }
    }

    /// <summary>A property's name, refused when it is not valid UTF-16.</summary>
    private static string NameOf(JsonProperty property, string field)
    {
        try
        {
            return Preconditions.CheckWellFormed(property.Name, field);
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidInputException(field, null, "holds a name that is not valid UTF-16 text (a lone surrogate)", ex);
        }
    }

    private static IEnumerable<(string Name, string Value)> Entries(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            if (name == "skus")
            {
                yield break;
            }
            throw new InvalidInputException(name, null, "is required (an object of name → value)");
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidInputException(name, element.ValueKind.ToString(), "must be an object of name → value");
        }
        foreach (var property in element.EnumerateObject())
        {
            var key = NameOf(property, name);
            if (key.Trim().Length == 0)
            {
                throw new InvalidInputException($"{name}", key, "an empty name is not allowed");
            }
            if (property.Value.ValueKind != JsonValueKind.String)
            {
                throw new InvalidInputException($"{name}.{key}", property.Value.ToString(), "must be a string");
            }
            yield return (key.Trim(), Text(property.Value, $"{name}.{key}"));
        }
    }

    /// <summary>The accounts: each maps to an allocation name, or to a non-empty array of them.</summary>
    private static IEnumerable<(string Name, IReadOnlyList<string> Values)> AccountEntries(JsonElement root)
    {
        if (!root.TryGetProperty("accounts", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            throw new InvalidInputException("accounts", null, "is required (an object of name → value)");
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidInputException("accounts", element.ValueKind.ToString(), "must be an object of name → value");
        }
        foreach (var property in element.EnumerateObject())
        {
            var key = NameOf(property, "accounts");
            if (key.Trim().Length == 0)
            {
                throw new InvalidInputException("accounts", key, "an empty name is not allowed");
            }
            var field = $"accounts.{key}";
            var value = property.Value;
            if (value.ValueKind == JsonValueKind.String)
            {
                yield return (key.Trim(), [Text(value, field)]);
                continue;
            }
            if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
            {
                throw new InvalidInputException(field, value.ToString(), "must be an allocation name or a non-empty array of them");
            }
            var names = new List<string>();
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    throw new InvalidInputException(field, item.ToString(), "must be an allocation name or a non-empty array of them");
                }
                names.Add(Text(item, field));
            }
            yield return (key.Trim(), names);
        }
    }

    private static long Whole(JsonElement defaults, string name, string field, long fallback, long min, long max)
    {
        if (!defaults.TryGetProperty(name, out var element))
        {
            return fallback;
        }
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var value) || value < min || value > max)
        {
            throw new InvalidInputException(field, element.ToString(), $"must be a whole number from {min} to {max}");
        }
        return value;
    }

    private static void CheckKeys(JsonElement element, string prefix, params string[] allowed)
    {
        foreach (var property in element.EnumerateObject())
        {
            var key = NameOf(property, prefix.Length == 0 ? "(root)" : prefix.TrimEnd('.'));
            if (!allowed.Contains(key, StringComparer.Ordinal))
            {
                throw new InvalidInputException(prefix + key, property.Value.ToString(), $"is not a mapping field (expected {string.Join(", ", allowed)})");
            }
        }
    }
}
