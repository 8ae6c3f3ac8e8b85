using Allocations.Domain;
using Allocations.Import.Slurm;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Import.Slurm;

public class SlurmJobMapperTests
{
    private static readonly Instant Now = Instant.FromUtc(2026, 11, 24, 12, 0);

    private static MappedJob Map(string line, string zone = "America/Chicago", RateBasis basis = RateBasis.PerHour)
    {
        var mapping = SlurmFixture.Mapping(zone);
        var job = Assert.Single(SacctParser.Parse(new StringReader(SlurmFixture.Text(line)), mapping.TimeZone).Jobs);
        return SlurmJobMapper.Map(job, mapping, Now, (_, _, _, _) => (new AllocationId(1), basis, null));
    }

    private static Interval IntervalOf(MappedJob mapped) => new(mapped.Record!.Start, mapped.Record.End);

    [Fact]
    public void Map_JobSpanningFallBack_LastsItsElapsedTime()
    {
        // 00:30 CDT (05:30Z) to the second 01:30 (CST, 07:30Z): two hours, though the local times differ by one.
        var mapped = Map(SlurmFixture.Line("1", "COMPLETED", "2026-11-01T00:00:00", "2026-11-01T00:30:00", "2026-11-01T01:30:00", 7200));

        Assert.Equal(new Interval(Instant.FromUtc(2026, 11, 1, 5, 30), Instant.FromUtc(2026, 11, 1, 7, 30)), IntervalOf(mapped));
        Assert.Equal(UsageStatus.Confirmed, mapped.Record!.Status);
    }

    [Fact]
    public void Map_AmbiguousStartWithExactEnd_IsPlacedBackFromTheEnd()
    {
        // Start 01:30 is ambiguous; the end 03:00 CST (09:00Z) is not; 5400 s says the start was the second 01:30.
        var mapped = Map(SlurmFixture.Line("1", "COMPLETED", "2026-11-01T00:00:00", "2026-11-01T01:30:00", "2026-11-01T03:00:00", 5400));

        Assert.Equal(new Interval(Instant.FromUtc(2026, 11, 1, 7, 30), Instant.FromUtc(2026, 11, 1, 9, 0)), IntervalOf(mapped));
    }

    [Fact]
    public void Map_JobSpanningSpringForward_LastsItsElapsedTime()
    {
        // 01:30 CST (07:30Z) to 03:30 CDT (08:30Z): one hour.
        var mapped = Map(SlurmFixture.Line("1", "COMPLETED", "2026-03-08T01:00:00", "2026-03-08T01:30:00", "2026-03-08T03:30:00", 3600));

        Assert.Equal(new Interval(Instant.FromUtc(2026, 3, 8, 7, 30), Instant.FromUtc(2026, 3, 8, 8, 30)), IntervalOf(mapped));
    }

    [Fact]
    public void Map_RunningJob_IsEstimatedOverTheElapsedRawSacctMeasured()
    {
        var mapped = Map(SlurmFixture.Line("1", "RUNNING", "2026-11-24T04:00:00", "2026-11-24T05:00:00", "Unknown", 60, cpus: 3));

        Assert.Equal(UsageStatus.Estimated, mapped.Record!.Status);
        Assert.Equal(new Interval(Instant.FromUtc(2026, 11, 24, 11, 0), Instant.FromUtc(2026, 11, 24, 11, 1)), IntervalOf(mapped));
        Assert.Equal(Quantity.FromDecimal(3m), mapped.Record.Quantity);
    }

    [Fact]
    public void Map_RunningJobWithoutElapsedRaw_IsEstimatedUpToTheSnapshot()
    {
        var line = SlurmFixture.Line("1", "RUNNING", "2026-11-24T04:00:00", "2026-11-24T05:00:00", "Unknown", 60, cpus: 3).Replace("|Unknown|60|", "|Unknown||", StringComparison.Ordinal);

        var mapped = Map(line);

        Assert.Equal(new Interval(Instant.FromUtc(2026, 11, 24, 11, 0), Now), IntervalOf(mapped));
    }

    [Fact]
    public void Map_Key_IsClusterRawIdAndSubmitInstant()
    {
        var mapped = Map(SlurmFixture.Line("12", "COMPLETED", "2026-11-24T04:00:00", "2026-11-24T05:00:00", "2026-11-24T06:00:00", 3600, jobId: "4_1"), zone: "UTC");

        Assert.Equal($"slurm:lab:12:{Instant.FromUtc(2026, 11, 24, 4, 0).ToUnixTimeSeconds()}", mapped.Record!.ExternalKey);
        Assert.Equal("4_1", mapped.Record.Attributes!["jobId"]);
    }

    [Fact]
    public void Map_PerUnitSku_QuantityIsLevelTimesHours()
    {
        var mapped = Map(SlurmFixture.Line("1", "COMPLETED", "2026-11-24T04:00:00", "2026-11-24T05:00:00", "2026-11-24T06:30:00", 5400, cpus: 2), basis: RateBasis.PerUnit);

        Assert.Equal(Quantity.FromDecimal(3m), mapped.Record!.Quantity);
    }

    [Fact]
    public void Map_MissingQuantitySource_IsReported()
    {
        var mapping = SlurmMapping.Parse(SlurmFixture.MappingJson(extraSkus: ", \"CPU_HOUR\": \"billing\""));
        var job = Assert.Single(SacctParser.Parse(
            new StringReader(SlurmFixture.Text(SlurmFixture.Line("1", "COMPLETED", "2026-11-24T04:00:00", "2026-11-24T05:00:00", "2026-11-24T06:00:00", 3600, tres: "cpu=1,node=1"))),
            mapping.TimeZone).Jobs);

        var mapped = SlurmJobMapper.Map(job, mapping, Now, (_, _, _, _) => (new AllocationId(1), RateBasis.PerHour, null));

        Assert.Null(mapped.Record);
        Assert.Equal(SlurmSkipReason.NoQuantity, mapped.Skip!.Reason);
        Assert.Equal(2, mapped.Skip.LineNumber);
    }
}
