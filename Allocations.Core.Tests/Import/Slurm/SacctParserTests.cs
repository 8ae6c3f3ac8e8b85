using Allocations.Import.Slurm;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Import.Slurm;

public class SacctParserTests
{
    private static readonly DateTimeZone Chicago = DateTimeZoneProviders.Tzdb["America/Chicago"];

    private static SacctParseResult Parse(string text, DateTimeZone? zone = null) =>
        SacctParser.Parse(new StringReader(text), zone ?? DateTimeZone.Utc);

    [Fact]
    public void Parse_RealCapture_ReadsOneLinePerJobRunAndIgnoresSteps()
    {
        var result = Parse(SlurmFixture.Capture("sacct-requested.txt"));

        Assert.Empty(result.Problems);
        Assert.Equal(13, result.Jobs.Count);
        Assert.Equal(29, result.StepLines); // .batch and .extern of 13 job runs, plus 5.0, 5.1, 5.2
        Assert.Equal(
            ["1", "2", "3", "5", "6", "7", "10", "11", "4_1", "4_2", "4_3", "10", "14"],
            result.Jobs.Select(j => j.JobId));
        Assert.Equal(
            ["1", "2", "3", "5", "6", "7", "10", "11", "12", "13", "4", "10", "14"],
            result.Jobs.Select(j => j.JobIdRaw));
    }

    [Fact]
    public void Parse_RealCapture_ReadsTimesTresAndStates()
    {
        var jobs = Parse(SlurmFixture.Capture("sacct-requested.txt")).Jobs;

        var gpu = jobs.Single(j => j.JobId == "3");
        Assert.Equal(Instant.FromUtc(2026, 11, 24, 2, 41, 21), gpu.Submit);
        Assert.Equal(Instant.FromUtc(2026, 11, 24, 2, 41, 23), gpu.Start);
        Assert.Equal(Instant.FromUtc(2026, 11, 24, 2, 41, 29), gpu.End);
        Assert.Equal(6, gpu.ElapsedSeconds);
        Assert.Equal(4, gpu.AllocCpus);
        Assert.Equal(new SacctTres(4m, 1m, 2m, 4m, 2000m), gpu.Tres);

        var cancelled = jobs.Single(j => j.JobId == "7");
        Assert.Equal("CANCELLED by 0", cancelled.State);
        Assert.Equal("CANCELLED", cancelled.BaseState);

        var running = jobs.Single(j => j.JobId == "14");
        Assert.Equal("RUNNING", running.BaseState);
        Assert.Null(running.End);

        var requeued = jobs.Where(j => j.JobIdRaw == "10").ToList();
        Assert.Equal(["REQUEUED", "COMPLETED"], requeued.Select(j => j.State));
        Assert.NotEqual(requeued[0].Submit, requeued[1].Submit);
    }

    [Fact]
    public void Parse_WideCapture_FindsFieldsByNameAndIgnoresTheRest()
    {
        var result = Parse(SlurmFixture.Capture("sacct-wide.txt"));

        Assert.Empty(result.Problems);
        Assert.Equal(13, result.Jobs.Count);
        Assert.All(result.Jobs, j => Assert.Equal("normal", j.Qos));
        Assert.Equal(2, result.Jobs.Single(j => j.JobId == "5").Tres.Cpu);
    }

    [Fact]
    public void Parse_NeverStartedJobs_HaveNoStart()
    {
        var jobs = Parse(SlurmFixture.Capture("sacct-cancelled-pending.txt")).Jobs;

        Assert.Equal(2, jobs.Count);
        Assert.All(jobs, j => Assert.Null(j.Start));
        Assert.All(jobs, j => Assert.NotNull(j.End));
    }

    [Fact]
    public void Parse_HeaderWithoutRequiredFields_ReportsThemAndReadsNothing()
    {
        var result = Parse(SlurmFixture.Capture("sacct-all-states.txt"));

        Assert.Empty(result.Jobs);
        var problem = Assert.Single(result.Problems);
        Assert.Equal(2, problem.LineNumber);
        Assert.Contains("Partition", problem.Reason);
        Assert.Contains("Submit", problem.Reason);
    }

    [Fact]
    public void Parse_NoHeader_IsReported()
    {
        var result = Parse("1|1|lab|physics|cpu|alice|COMPLETED\n");

        Assert.Empty(result.Jobs);
        Assert.Contains(result.Problems, p => p.Reason.Contains("no header", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_MalformedLines_AreReportedWithLineNumbersAndTheRestIsRead()
    {
        var text = SlurmFixture.Text(
            SlurmFixture.Line("1", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600),
            "2|2|lab|physics|cpu",
            SlurmFixture.Line("3", "COMPLETED", "yesterday", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600),
            SlurmFixture.Line("4", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, tres: "cpu=x"),
            SlurmFixture.Line("5", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600));

        var result = Parse(text);

        Assert.Equal(["1", "5"], result.Jobs.Select(j => j.JobIdRaw));
        Assert.Equal([3, 4, 5], result.Problems.Select(p => p.LineNumber));
        Assert.Contains("fields", result.Problems[0].Reason);
        Assert.Contains("Submit 'yesterday'", result.Problems[1].Reason);
        Assert.Contains("cpu='x'", result.Problems[2].Reason);
    }

    [Fact]
    public void Parse_EpochTimes_AreInstants()
    {
        var start = Instant.FromUtc(2026, 11, 24, 1, 0);
        var text = SlurmFixture.Text(SlurmFixture.Line("1", "COMPLETED", SlurmFixture.Epoch(start), SlurmFixture.Epoch(start), SlurmFixture.Epoch(start + Duration.FromHours(1)), 3600));

        var job = Assert.Single(Parse(text, Chicago).Jobs);

        Assert.Equal(start, job.Start);
        Assert.Equal(start + Duration.FromHours(1), job.End);
        Assert.True(job.StartExact);
    }

    [Fact]
    public void Parse_FieldsInAnyOrder_AreFoundByName()
    {
        var text = "End|State|JobIDRaw|Start|Submit|Partition|Account|Extra\n2026-11-24T02:00:00|COMPLETED|9|2026-11-24T01:00:00|2026-11-24T00:00:00|cpu|chem|whatever\n";

        var job = Assert.Single(Parse(text).Jobs);

        Assert.Equal("9", job.JobIdRaw);
        Assert.Equal("chem", job.Account);
        Assert.Equal(Instant.FromUtc(2026, 11, 24, 2, 0), job.End);
        Assert.Null(job.AllocCpus);
    }

    [Fact]
    public void Parse_ArrayAndHeterogeneousJobs_AreJobsAndTheirStepsAreNot()
    {
        var text = SlurmFixture.Text(
            SlurmFixture.Line("20", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, jobId: "7+0"),
            SlurmFixture.Line("21", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, jobId: "7+1"),
            SlurmFixture.Line("20.batch", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, jobId: "7+0.batch"),
            SlurmFixture.Line("22", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, jobId: "4_7"),
            SlurmFixture.Line("22.0", "COMPLETED", "2026-11-24T01:00:00", "2026-11-24T01:00:00", "2026-11-24T02:00:00", 3600, jobId: "4_7.0"));

        var result = Parse(text);

        Assert.Equal(["7+0", "7+1", "4_7"], result.Jobs.Select(j => j.JobId));
        Assert.Equal(2, result.StepLines);
    }

    [Theory]
    [InlineData("Unknown")]
    [InlineData("None")]
    [InlineData("")]
    public void ParseTime_NoTimeWords_AreNull(string text)
    {
        Assert.Equal((null, true), SacctParser.ParseTime(text, "Start", Chicago));
    }

    [Fact]
    public void ParseTime_LocalChicagoTime_IsReadInTheZone()
    {
        var (instant, exact) = SacctParser.ParseTime("2026-11-24T08:00:00", "Start", Chicago);

        Assert.Equal(Instant.FromUtc(2026, 11, 24, 14, 0), instant); // CST = UTC−6
        Assert.True(exact);
    }

    [Fact]
    public void ParseTime_AmbiguousLocalTime_TakesTheEarlierInstant()
    {
        // 2026-11-01 01:30 happens twice in Chicago: first in CDT (UTC−5), then in CST (UTC−6).
        var (instant, exact) = SacctParser.ParseTime("2026-11-01T01:30:00", "Start", Chicago);

        Assert.Equal(Instant.FromUtc(2026, 11, 1, 6, 30), instant);
        Assert.False(exact);
    }

    [Fact]
    public void ParseTime_SkippedLocalTime_IsShiftedForward()
    {
        // 2026-03-08 02:30 does not exist in Chicago: clocks jump from 02:00 CST to 03:00 CDT.
        var (instant, exact) = SacctParser.ParseTime("2026-03-08T02:30:00", "Start", Chicago);

        Assert.Equal(Instant.FromUtc(2026, 3, 8, 8, 30), instant); // 03:30 CDT
        Assert.False(exact);
    }

    [Theory]
    [InlineData("mem=1024K", 1)]
    [InlineData("mem=500M", 500)]
    [InlineData("mem=500", 500)]
    [InlineData("mem=2G", 2048)]
    [InlineData("mem=1.5G", 1536)]
    [InlineData("mem=1T", 1048576)]
    public void ParseTres_MemorySuffixes_AreBinaryMiB(string tres, double mib)
    {
        Assert.Equal((decimal)mib, SacctParser.ParseTres(tres).MemMiB);
    }

    [Fact]
    public void ParseTres_TypedGpus_AreSummedWhenThePlainCountIsAbsent()
    {
        Assert.Equal(3m, SacctParser.ParseTres("cpu=4,gres/gpu:a100=2,gres/gpu:v100=1").Gpu);
        Assert.Equal(2m, SacctParser.ParseTres("cpu=4,gres/gpu=2,gres/gpu:a100=2").Gpu);
        Assert.Null(SacctParser.ParseTres("cpu=4,mem=1G").Gpu);
        Assert.Equal(7m, SacctParser.ParseTres("billing=7,energy=5,fs/disk=100").Billing);
    }
}
