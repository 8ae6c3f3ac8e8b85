namespace Allocations.Rating;

/// <summary>Receives the segments the rater produces. Implemented by structs so that the rater is specialized per
/// sink and rating without segments costs nothing.</summary>
internal interface ISegmentSink
{
    void Add(in SegmentNs segment);
}

/// <summary>Discards segments: for callers that want the amount only.</summary>
internal struct NoSegments : ISegmentSink
{
    public readonly void Add(in SegmentNs segment)
    {
    }
}

/// <summary>Appends segments to a list (the original API of <see cref="Rater"/>).</summary>
internal readonly struct ListSink(List<SegmentNs> list) : ISegmentSink
{
    public void Add(in SegmentNs segment) => list.Add(segment);
}

/// <summary>A reusable, growable array of segments: after it has grown to the longest event seen, rating into it
/// allocates nothing. Not thread-safe; one per writer or per thread.</summary>
internal sealed class SegmentBuffer
{
    private SegmentNs[] items = new SegmentNs[8];

    internal int Count { get; private set; }

    internal ReadOnlySpan<SegmentNs> Span => items.AsSpan(0, Count);

    internal ref readonly SegmentNs this[int index] => ref items[index];

    internal void Clear() => Count = 0;

    internal void Add(in SegmentNs segment)
    {
        if (Count == items.Length)
        {
            Array.Resize(ref items, items.Length * 2);
        }
        items[Count++] = segment;
    }

    /// <summary>Gets a sink writing into this buffer.</summary>
    internal Sink AsSink() => new(this);

    /// <summary>A struct view of the buffer for the generic rater.</summary>
    internal readonly struct Sink(SegmentBuffer buffer) : ISegmentSink
    {
        public void Add(in SegmentNs segment) => buffer.Add(segment);
    }
}
