using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Import.Slurm;
using NodaTime;
using Xunit;

namespace Allocations.Tests.Import.Slurm;

public class SlurmMappingTests
{
    [Fact]
    public void Parse_FullMapping_ReadsEveryField()
    {
        var mapping = SlurmMapping.Parse(SlurmFixture.MappingJson("America/Chicago", extraSkus: ", \"CPU_HOUR\": \"billing\"", extraDefaults: ", \"overlapMinutes\": 90, \"lockTimeoutMinutes\": 5"));

        Assert.Equal("lab", mapping.Cluster);
        Assert.Equal("America/Chicago", mapping.TimeZone.Id);
        Assert.Equal(["Physics"], mapping.Accounts["PHYSICS"]); // accounts match ignoring case
        Assert.Equal(new SkuCode("GPU_HOUR"), mapping.Partitions["gpu"]);
        Assert.Equal(SlurmQuantitySource.Gpu, mapping.QuantitySourceFor(new SkuCode("gpu_hour")));
        Assert.Equal(SlurmQuantitySource.Billing, mapping.QuantitySourceFor(new SkuCode("CPU_HOUR")));
        Assert.Equal(SlurmQuantitySource.Cpu, mapping.QuantitySourceFor(new SkuCode("LICENSE")));
        Assert.Equal(Duration.FromMinutes(90), mapping.Overlap);
        Assert.Equal(Duration.FromMinutes(5), mapping.LockTimeout);
        Assert.Equal(Duration.FromHours(24), mapping.FirstLookback);
    }

    [Theory]
    [InlineData("""{"timeZone":"UTC","accounts":{},"partitions":{}}""", "cluster")]
    [InlineData("""{"cluster":"lab","timeZone":"Mars/Olympus","accounts":{},"partitions":{}}""", "timeZone")]
    [InlineData("""{"cluster":"lab","timeZone":"UTC","partitions":{}}""", "accounts")]
    [InlineData("""{"cluster":"lab","timeZone":"UTC","accounts":{"a":""},"partitions":{}}""", "accounts.a")]
    [InlineData("""{"cluster":"lab","timeZone":"UTC","accounts":{},"partitions":{"gpu":"bad code!"}}""", "partitions.gpu")]
    [InlineData("""{"cluster":"lab","timeZone":"UTC","accounts":{},"partitions":{},"skus":{"GPU_HOUR":"gpus"}}""", "skus.GPU_HOUR")]
    [InlineData("""{"cluster":"lab","timeZone":"UTC","accounts":{},"partitions":{},"partitons":{}}""", "partitons")]
    [InlineData("""{"cluster":"lab","timeZone":"UTC","accounts":{},"partitions":{},"defaults":{"overlapMinutes":-5}}""", "defaults.overlapMinutes")]
    [InlineData("""{"cluster":"lab","timeZone":"UTC","accounts":{"a":"A","A":"B"},"partitions":{}}""", "accounts.A")]
    [InlineData("""{"cluster":"lab",""", "json")]
    [InlineData("""{"cluster":"lab\uD800","timeZone":"UTC","accounts":{},"partitions":{}}""", "cluster")]
    [InlineData("""{"cluster":"lab","timeZone":"UTC","accounts":{"phys\uDC00":"Physics"},"partitions":{}}""", "accounts")]
    [InlineData("""{"cluster":"lab","timeZone":"UTC","accounts":{"physics":"Phys\uD800"},"partitions":{}}""", "accounts.physics")]
    public void Parse_InvalidMapping_NamesTheField(string json, string field)
    {
        var ex = Assert.Throws<InvalidInputException>(() => SlurmMapping.Parse(json));
        Assert.Equal(field, ex.Field);
    }

    [Fact]
    public void Load_MissingFile_NamesThePath()
    {
        var ex = Assert.Throws<InvalidInputException>(() => SlurmMapping.Load(Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "mapping.json")));
        Assert.Equal("path", ex.Field);
    }

    [Fact]
    public void FormatSacctTime_AmbiguousLocalTime_StartsAnHourEarlier()
    {
        var mapping = SlurmFixture.Mapping("America/Chicago");

        Assert.Equal("2026-11-24T08:00:00", mapping.FormatSacctTime(Instant.FromUtc(2026, 11, 24, 14, 0)));
        // 06:30Z is 01:30 CDT, a local time that repeats; the argument moves back to 00:30 CDT.
        Assert.Equal("2026-11-01T00:30:00", mapping.FormatSacctTime(Instant.FromUtc(2026, 11, 1, 6, 30)));
    }
}
