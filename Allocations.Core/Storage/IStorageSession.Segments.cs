namespace Allocations.Storage;

/// <summary>Writing an event together with its rated segments, so that an engine may store them in whatever layout
/// suits it (both engines store a single segment that spans its event and carries its whole amount in the event's
/// own row). Both calls have a default made of the single-purpose calls, which every engine provides; an engine that
/// overrides them must read back the same segments through <see cref="ListSegments"/>, the report stream and the
/// digest read either way.</summary>
internal partial interface IStorageSession
{
    /// <summary>Inserts a new event with its segments (in order) and returns the engine's id for it: as
    /// <see cref="InsertEvent"/> then <see cref="InsertSegments"/>.</summary>
    long InsertRatedEvent(EventRow row, IReadOnlyList<SegmentRow> segments)
    {
        var id = InsertEvent(row);
        InsertSegments(id, segments);
        return id;
    }

    /// <summary>Rewrites a stored event (by <c>row.Id</c>) and replaces all its segments with
    /// <paramref name="segments"/>: as <see cref="UpdateEvent"/>, <see cref="DeleteSegments"/>, then
    /// <see cref="InsertSegments"/>.</summary>
    void RewriteRatedEvent(EventRow row, IReadOnlyList<SegmentRow> segments)
    {
        UpdateEvent(row);
        DeleteSegments(row.Id);
        InsertSegments(row.Id, segments);
    }
}
