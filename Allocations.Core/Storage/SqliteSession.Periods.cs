namespace Allocations.Storage;

internal sealed partial class SqliteSession
{
    public void SetPeriod(long allocationId, long? startNs, long? endNs) =>
        Exec(
            "UPDATE allocations SET period_start_ns = @startNs, period_end_ns = @endNs WHERE id = @allocationId",
            new { allocationId, startNs, endNs });

    // Each bound is one seek of ix_usage_events_allocation (allocation_id, start_ns): the earliest start before the
    // period, the latest at or after its end.
    public EventStart? FindEventOutside(long allocationId, long? startNs, long? endNs)
    {
        if (startNs is { } start
            && First("SELECT id, start_ns FROM usage_events WHERE allocation_id = @allocationId AND start_ns < @start ORDER BY start_ns LIMIT 1", new { allocationId, start }) is { } before)
        {
            return new EventStart(before.Id, allocationId, before.StartNs);
        }
        return endNs is { } end
            && First("SELECT id, start_ns FROM usage_events WHERE allocation_id = @allocationId AND start_ns >= @end ORDER BY start_ns DESC LIMIT 1", new { allocationId, end }) is { } after
            ? new EventStart(after.Id, allocationId, after.StartNs)
            : null;
    }

    private (long Id, long StartNs)? First(string sql, object parameters) =>
        Many<(long Id, long StartNs)>(sql, parameters) is [var first, ..] ? first : null;
}
