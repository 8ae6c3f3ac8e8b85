using System.Globalization;
using System.Text;
using Allocations.Domain;
using Allocations.Import.Slurm;
using Allocations.Tests.Support;
using NodaTime;

namespace Allocations.Tests.Import.Slurm;

/// <summary>A test store with allocations Physics and Chemistry (core-hours) plus helpers for sacct text.</summary>
internal static class SlurmFixture
{
    /// <summary>When the real captures were taken (sinfo/squeue time stamp, UTC).</summary>
    public static readonly Instant CaptureTime = Instant.FromUtc(2026, 11, 24, 2, 42, 58);

    public const string Header = "JobID|JobIDRaw|Cluster|Account|Partition|User|State|Submit|Start|End|ElapsedRaw|AllocCPUS|AllocTRES|NNodes";

    public static string MappingJson(string zone = "UTC", string extraSkus = "", string extraDefaults = "") => $$"""
        {
          "cluster": "lab",
          "timeZone": "{{zone}}",
          "accounts": { "physics": "Physics", "chem": "Chemistry" },
          "partitions": { "cpu": "CPU_HOUR", "gpu": "GPU_HOUR", "lic": "LICENSE" },
          "skus": { "GPU_HOUR": "gres/gpu"{{extraSkus}} },
          "defaults": { "quantity": "cpu"{{extraDefaults}} }
        }
        """;

    public static SlurmMapping Mapping(string zone = "UTC") => SlurmMapping.Parse(MappingJson(zone));

    public static string Capture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "slurm", name));

    public static Task<(TestStore Store, Allocation Physics, Allocation Chemistry)> CreateAsync(Engine engine) => CreateAsync(null, engine);

    public static async Task<(TestStore Store, Allocation Physics, Allocation Chemistry)> CreateAsync(Instant? now = null, Engine engine = Engine.Sqlite)
    {
        var t = await TestStore.CreateAsync(engine);
        t.Clock.Reset(now ?? CaptureTime);
        var physics = await t.CreateAllocationAsync("Physics", 100_000m);
        var chemistry = await t.CreateAllocationAsync("Chemistry", 100_000m);
        return (t, physics, chemistry);
    }

    public static Task<SlurmSyncReport> SyncAsync(TestStore t, string sacct, SlurmMapping? mapping = null, SlurmSyncOptions? options = null) =>
        t.Store.SyncSlurmAsync(TestStore.Admin, t.Organization, mapping ?? Mapping(), new StringReader(sacct), options);

    public static async Task<(Amount Used, Amount Estimated)> FiguresAsync(TestStore t, Allocation allocation)
    {
        var a = await t.Store.GetAllocationAsync(TestStore.Admin, allocation.Id);
        return (a.Used, a.Estimated);
    }

    /// <summary>The amount of one event: quantity × seconds / 3600 × rate, rounded half to even to a millionth.</summary>
    public static decimal Rated(decimal quantity, long seconds, decimal rate) =>
        Math.Round(quantity * seconds * rate / 3600m, 6, MidpointRounding.ToEven);

    /// <summary>One sacct line in the <see cref="Header"/> layout.</summary>
    public static string Line(
        string rawId,
        string state,
        string submit,
        string start,
        string end,
        long elapsed,
        int cpus = 1,
        string account = "physics",
        string partition = "cpu",
        string tres = "",
        string cluster = "lab",
        string? jobId = null,
        int nodes = 1) =>
        string.Join('|', jobId ?? rawId, rawId, cluster, account, partition, "alice", state, submit, start, end,
            elapsed.ToString(CultureInfo.InvariantCulture), cpus.ToString(CultureInfo.InvariantCulture),
            tres.Length > 0 ? tres : $"billing={cpus},cpu={cpus},mem=500M,node={nodes}", nodes.ToString(CultureInfo.InvariantCulture));

    public static string Text(params string[] lines)
    {
        var builder = new StringBuilder(Header).Append('\n');
        foreach (var line in lines)
        {
            builder.Append(line).Append('\n');
        }
        return builder.ToString();
    }

    public static string Epoch(Instant instant) => instant.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
}
