using Allocations.Reporting;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Allocations.Tests.Reporting;

public class ProportionalSplitTests
{
    [Property(MaxTest = 500)]
    public bool Pieces_OfAnyPartition_AddUpToTheAmountExactly(long amount, long start, PositiveInt length, int[] cuts)
    {
        amount %= 1_000_000_000_000_000L;
        start %= 1_000_000_000_000_000L;
        var end = start + length.Get;
        var edges = cuts.Select(c => start + (long)(unchecked((uint)c) % (ulong)(length.Get + 1))).Append(start).Append(end).Distinct().Order().ToList();
        long sum = 0;
        for (var i = 0; i + 1 < edges.Count; i++)
        {
            sum += ProportionalSplit.Piece(amount, start, end, edges[i], edges[i + 1]);
        }
        return sum == amount;
    }

    [Property(MaxTest = 500)]
    public bool Piece_IsWithinOneMillionthOfTheExactProportion(NonNegativeInt amount, PositiveInt length, NonNegativeInt a, NonNegativeInt b)
    {
        var lo = Math.Min(a.Get, b.Get) % (length.Get + 1);
        var hi = Math.Max(lo, Math.Max(a.Get, b.Get) % (length.Get + 1));
        var piece = ProportionalSplit.Piece(amount.Get, 0, length.Get, lo, hi);
        var exact = (decimal)amount.Get * (hi - lo) / length.Get;
        return Math.Abs(piece - exact) <= 1m;
    }

    [Fact]
    public void Piece_OfTwoHalves_RoundsHalfToEvenAtTheCutAndStillAddsUp()
    {
        // 3 micros over [0, 2): the part up to 1 is 1.5, rounded half to even to 2.
        Assert.Equal(2, ProportionalSplit.Piece(3, 0, 2, 0, 1));
        Assert.Equal(1, ProportionalSplit.Piece(3, 0, 2, 1, 2));
    }

    [Fact]
    public void Piece_OfAZeroLengthInterval_IsWholeWhereItsInstantLies()
    {
        Assert.Equal(7, ProportionalSplit.Piece(7, 10, 10, 10, 11));
        Assert.Equal(0, ProportionalSplit.Piece(7, 10, 10, 5, 10));
    }
}
