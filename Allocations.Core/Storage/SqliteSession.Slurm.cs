using Dapper;

namespace Allocations.Storage;

/// <summary>The Slurm importer's state row: watermark and run lock of one organization and cluster.</summary>
internal sealed class SlurmStateRow
{
    public long OrgId { get; set; }

    public string Cluster { get; set; } = "";

    public long? WatermarkNs { get; set; }

    public long? LastRunNs { get; set; }

    public string? LockOwner { get; set; }

    public long? LockExpiresNs { get; set; }
}

internal sealed partial class SqliteSession
{
    public SlurmStateRow? GetSlurmState(long orgId, string cluster) =>
        One<SlurmStateRow>(
            "SELECT org_id AS OrgId, cluster AS Cluster, watermark_ns AS WatermarkNs, last_run_ns AS LastRunNs, " +
            "lock_owner AS LockOwner, lock_expires_ns AS LockExpiresNs FROM slurm_sync_state WHERE org_id = @orgId AND cluster = @cluster",
            new { orgId, cluster });

    public void PutSlurmState(SlurmStateRow row) =>
        Exec(
            "INSERT INTO slurm_sync_state (org_id, cluster, watermark_ns, last_run_ns, lock_owner, lock_expires_ns) " +
            "VALUES (@OrgId, @Cluster, @WatermarkNs, @LastRunNs, @LockOwner, @LockExpiresNs) " +
            "ON CONFLICT (org_id, cluster) DO UPDATE SET watermark_ns = excluded.watermark_ns, last_run_ns = excluded.last_run_ns, " +
            "lock_owner = excluded.lock_owner, lock_expires_ns = excluded.lock_expires_ns",
            row);
}
