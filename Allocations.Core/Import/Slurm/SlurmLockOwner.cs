using System.Globalization;
using NodaTime;

namespace Allocations.Import.Slurm;

/// <summary>The owner text of a cluster's run lock: <c>run=TOKEN host=HOST pid=PID at=NANOSECONDS by=PRINCIPAL</c>.</summary>
/// <remarks>The run token makes each run's lock its own (two runs of one process never share one); host and pid let a
/// later run on the same host see that the owner process is gone and take the lock over at once; the principal and
/// the instant are for the operator who clears a lock by hand. A lock written by an older version is a bare token:
/// it parses with no host, pid or instant, and is only taken over when it expires.</remarks>
internal readonly record struct SlurmLockOwner(string Run, string? Host, int? ProcessId, Instant? AcquiredAt, string Principal)
{
    internal string Format() =>
        string.Create(CultureInfo.InvariantCulture, $"run={Run} host={Host} pid={ProcessId} at={AcquiredAt?.ToUnixTimeTicks() * 100} by={Principal}");

    internal static SlurmLockOwner Parse(string text)
    {
        if (!text.StartsWith("run=", StringComparison.Ordinal))
        {
            return new SlurmLockOwner(text, null, null, null, text);
        }
        var by = text.IndexOf(" by=", StringComparison.Ordinal);
        var head = by < 0 ? text : text[..by];
        var principal = by < 0 ? text : text[(by + 4)..];
        string? run = null, host = null;
        int? pid = null;
        Instant? at = null;
        foreach (var part in head.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                continue;
            }
            var value = part[(eq + 1)..];
            switch (part[..eq])
            {
                case "run": run = value; break;
                case "host": host = value.Length > 0 ? value : null; break;
                case "pid": pid = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : null; break;
                case "at":
                    at = long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ns)
                         && ns / 100 >= Instant.MinValue.ToUnixTimeTicks() && ns / 100 <= Instant.MaxValue.ToUnixTimeTicks()
                        ? Instant.FromUnixTimeTicks(ns / 100)
                        : null;
                    break;
            }
        }
        return new SlurmLockOwner(run ?? text, host, pid, at, principal);
    }
}
