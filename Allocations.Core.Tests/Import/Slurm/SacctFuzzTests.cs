using Allocations.Domain;
using Allocations.Import.Slurm;
using Allocations.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NodaTime;
using Xunit;
using static Allocations.Tests.Import.Slurm.SlurmFixture;

namespace Allocations.Tests.Import.Slurm;

/// <summary>One line of a real capture, mutated: no line can make the parser, the mapper or a sync throw; the line is
/// reported with its number and the rest imports.</summary>
public class SacctFuzzTests
{
    private static readonly string[] Captures =
        ["sacct-requested.txt", "sacct-requested-X.txt", "sacct-requeued.txt", "sacct-wide.txt", "sacct-cancelled-pending.txt"]; // sacct-all-states.txt lacks Partition: no line of it can be read

    private static readonly string Huge = "79228162514264337593543950335";

    private static readonly string[] Nasty =
    [
        "", " ", Huge, Huge + "P", Huge + "K", "-1", "0", "1", "1.5", "2147483647", "2147483648", "9223372036854775808",
        "99999999999999999999999999999999", "4294967295", "1.7976931348623157E+308", "NaN", "1e9", "Unknown", "None", "N/A",
        "9999-12-31T23:59:59", "0001-01-01T00:00:00", "2200-12-31T23:59:59", "1900-01-01T00:00:00", "7258118400", "7258118401",
        "2026-02-30T00:00:00", "2026-03-08T02:30:00", "RUNNING", "PENDING", "COMPLETED", "CANCELLED by 0", "REQUEUED", "lic", "gpu", "cpu",
        "physics", "chem", "lab", "LAB", "a.b", "\0", "\uD800", "|", new string('x', 5000), new string('9', 401),
        $"mem={Huge}P", $"billing={Huge}", $"cpu={Huge},node={Huge}", $"gres/gpu:a={Huge},gres/gpu:b={Huge}", $"gres/gpu={Huge}",
        "cpu=1,cpu=2", "=", "mem=", "mem=12Q", "billing=1,cpu=1,mem=1.5.5G,node=1", "gres/gpu:a100=1,gres/gpu:v100=2",
    ];

    private static readonly Lazy<(string Name, string[] Lines)[]> Texts = new(() =>
        Captures.Select(name => (name, Capture(name).Split('\n'))).ToArray());

    /// <summary>A capture with one field of one data line replaced (or the line cut, or a character inserted).</summary>
    private static Gen<(string Name, int LineNumber, string Text)> Mutations() =>
        from file in Gen.Choose(0, Captures.Length - 1)
        let lines = Texts.Value[file].Lines
        let header = Array.FindIndex(lines, l => !l.StartsWith('$') && l.Contains("JobIDRaw", StringComparison.Ordinal))
        from index in Gen.Choose(header + 1, Math.Max(header + 1, lines.Length - 2))
        from kind in Gen.Choose(0, 9)
        from field in Gen.Choose(0, 60)
        from nasty in Gen.Elements(Nasty)
        from random in ArbMap.Default.GeneratorFor<string>()
        from cut in Gen.Choose(0, 400)
        select (Texts.Value[file].Name, index + 1, Mutate(lines, index, kind, field, nasty, (random ?? "").Replace("\n", "", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal), cut));

    private static string Mutate(string[] lines, int index, int kind, int field, string nasty, string random, int cut)
    {
        var copy = (string[])lines.Clone();
        var fields = copy[index].Split('|');
        var at = field % fields.Length;
        switch (kind)
        {
            case 8:
                copy[index] = copy[index][..Math.Min(cut, copy[index].Length)];
                break;
            case 9:
                fields[at] = random.Length > 0 ? fields[at] + random : fields[at] + "|";
                copy[index] = string.Join('|', fields);
                break;
            default:
                fields[at] = kind == 7 ? random : nasty;
                copy[index] = string.Join('|', fields);
                break;
        }
        return string.Join('\n', copy);
    }

    [Property(MaxTest = 3000)]
    public Property ParseAndMap_NeverThrow_AndLeaveTheOtherLinesAlone() => Prop.ForAll(Arb.From(Mutations()), m =>
    {
        var original = SacctParser.Parse(new StringReader(Capture(m.Name)), DateTimeZoneProviders.Tzdb["UTC"]);
        var parsed = SacctParser.Parse(new StringReader(m.Text), DateTimeZoneProviders.Tzdb["UTC"]);
        var mapping = SlurmMapping.Parse(MappingJson(extraSkus: ", \"LICENSE\": \"billing\", \"CPU_HOUR\": \"mem\""));
        foreach (var basis in new[] { RateBasis.PerHour, RateBasis.PerUnit })
        {
            foreach (var job in parsed.Jobs)
            {
                var mapped = SlurmJobMapper.Map(job, mapping, CaptureTime, (_, _, _, _) => (new AllocationId(1), basis, null));
                Assert.True(mapped.Record is not null || mapped.Skip is not null || mapped.NotStarted);
                Assert.True(mapped.Skip is null || mapped.Skip.LineNumber == job.LineNumber);
            }
        }
        // Only the mutated line can change: every other job line still parses to the same job.
        var others = original.Jobs.Where(j => j.LineNumber != m.LineNumber).ToList();
        var kept = parsed.Jobs.Where(j => j.LineNumber != m.LineNumber).ToList();
        Assert.Equal(others.Select(j => (j.LineNumber, j.JobIdRaw, j.End)), kept.Select(j => (j.LineNumber, j.JobIdRaw, j.End)));
        Assert.All(parsed.Problems, p => Assert.Equal(m.LineNumber, p.LineNumber));
    });

    [Property(MaxTest = 40)]
    public Property Sync_OfAMutatedCapture_CompletesAndImportsTheOtherLines() => Prop.ForAll(Arb.From(Mutations()), m =>
    {
        var mapping = SlurmMapping.Parse(MappingJson(extraSkus: ", \"LICENSE\": \"billing\""));
        var baseline = Baseline(m.Name, mapping);
        var (t, _, _) = CreateAsync().GetAwaiter().GetResult();
        using (t)
        {
            var report = SyncAsync(t, m.Text, mapping).GetAwaiter().GetResult();

            Assert.Equal(SlurmSyncOutcome.Completed, report.Outcome);
            Assert.All(report.Skipped.Where(s => s.IsFailure), s => Assert.Equal(m.LineNumber, s.LineNumber));
            // One mutated line can lose at most its own job and, by taking another job's key, one more.
            Assert.InRange(report.Recorded, baseline - 2, baseline + 1);
            Assert.True((t.Store.VerifyAsync(TestStore.Admin, t.Organization).GetAwaiter().GetResult()).IsClean);
        }
    });

    private static readonly Dictionary<string, int> Baselines = [];

    private static int Baseline(string name, SlurmMapping mapping)
    {
        lock (Baselines)
        {
            if (!Baselines.TryGetValue(name, out var recorded))
            {
                var (t, _, _) = CreateAsync().GetAwaiter().GetResult();
                using (t)
                {
                    recorded = SyncAsync(t, Capture(name), mapping).GetAwaiter().GetResult().Recorded;
                }
                Baselines[name] = recorded;
            }
            return recorded;
        }
    }
}
