namespace Allocations.Diagnostics;

/// <summary>The names under which the library reports metrics, traces and logs, for a host to subscribe to.</summary>
/// <remarks>
/// <para><b>Metrics</b> (meter <see cref="MeterName"/>): <c>allocations.usage.events</c> (counter of usage events
/// written, tagged <c>allocations.operation</c>, <c>allocations.outcome</c> = recorded|replaced|unchanged and, for
/// single records, <c>allocations.status</c> = estimated|confirmed); <c>allocations.reservations</c> (counter tagged
/// <c>allocations.outcome</c> = granted|refused); <c>allocations.operation.duration</c> (histogram in seconds, tagged
/// <c>allocations.operation</c> and, when the call failed, <c>error.type</c>). Tags are low-cardinality: no user,
/// allocation or organization ids.</para>
/// <para><b>Traces</b> (activity source <see cref="ActivitySourceName"/>): one activity per instrumented call, named
/// <c>allocations.</c> + the operation (<c>allocations.record</c>, <c>allocations.reserve</c>, …).</para>
/// <para><b>Logs</b> (categories <see cref="StorageLogCategory"/>, <see cref="UsageLogCategory"/> and
/// <see cref="SlurmLogCategory"/>): schema migrations at Information; waits for the write lock at Debug and a wait that
/// ran out at Warning; refused reservations and skipped Slurm jobs at Debug; a Slurm sync's summary at Information.</para>
/// </remarks>
public static class AllocationsTelemetry
{
    /// <summary>The name of the library's <see cref="System.Diagnostics.Metrics.Meter"/>: <c>Allocations</c>.</summary>
    public const string MeterName = "Allocations";

    /// <summary>The name of the library's <see cref="System.Diagnostics.ActivitySource"/>: <c>Allocations</c>.</summary>
    public const string ActivitySourceName = "Allocations";

    /// <summary>The log category of the storage engine: opening, migrations, write-lock waits.</summary>
    public const string StorageLogCategory = "Allocations.Storage";

    /// <summary>The log category of recording and reserving usage.</summary>
    public const string UsageLogCategory = "Allocations.Usage";

    /// <summary>The log category of the Slurm importer.</summary>
    public const string SlurmLogCategory = "Allocations.Import.Slurm";
}
