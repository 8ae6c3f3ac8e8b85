using System.Globalization;
using NodaTime;
using NodaTime.Text;
using NodaTime.TimeZones;

namespace Allocations.Import.Slurm;

/// <summary>The trackable resources of one job line (<c>AllocTRES</c>), as parsed.</summary>
/// <param name="Cpu">cpu=, or null when absent.</param>
/// <param name="Node">node=, or null when absent.</param>
/// <param name="Gpu">gres/gpu= (or the sum of typed gres/gpu:TYPE= when the plain entry is absent), or null.</param>
/// <param name="Billing">billing=, or null when absent.</param>
/// <param name="MemMiB">mem= in MiB (K, M, G, T, P suffixes; no suffix is MiB), or null when absent.</param>
internal readonly record struct SacctTres(decimal? Cpu, decimal? Node, decimal? Gpu, decimal? Billing, decimal? MemMiB);

/// <summary>One job allocation line of sacct output (never a step), with its times resolved to instants.</summary>
internal sealed record SacctJob(
    int LineNumber,
    string JobId,
    string JobIdRaw,
    string? Cluster,
    string Account,
    string Partition,
    string User,
    string State,
    string? Qos,
    Instant? Submit,
    Instant? Start,
    bool StartExact,
    Instant? End,
    bool EndExact,
    long? ElapsedSeconds,
    int? AllocCpus,
    int? NNodes,
    SacctTres Tres)
{
    /// <summary>Gets the state's first word, upper-cased: <c>CANCELLED by 0</c> → <c>CANCELLED</c>, <c>CANCELLED+</c>
    /// → <c>CANCELLED</c>.</summary>
    public string BaseState => SacctParser.BaseState(State);
}

/// <summary>A line the parser could not use, with why.</summary>
internal readonly record struct SacctProblem(int LineNumber, string Reason);

/// <summary>What the parser read: the job lines, the problems, and how many step lines it ignored.</summary>
internal sealed record SacctParseResult(IReadOnlyList<SacctJob> Jobs, IReadOnlyList<SacctProblem> Problems, int StepLines, int LinesRead);

/// <summary>Parses <c>sacct --parsable2</c> output: a header line naming the fields (any order; extra fields are
/// ignored), then one line per job or step, fields separated by <c>|</c>.</summary>
/// <remarks>
/// <para>Steps (a JobID or JobIDRaw with a dot: <c>.batch</c>, <c>.extern</c>, <c>.0</c>) are ignored: a job's
/// usage is its allocation line, so nothing is counted twice. Array tasks (<c>4_1</c>) and heterogeneous job
/// components (<c>7+0</c>) are jobs with their own JobIDRaw.</para>
/// <para>Times are either epoch seconds (<c>SLURM_TIME_FORMAT=%s</c>) or local <c>yyyy-MM-ddTHH:mm:ss</c> read in
/// the cluster's zone: an ambiguous local time (the repeated hour when clocks go back) takes the earlier instant
/// (the offset in force before the change); a skipped local time (the hour that does not exist when clocks go
/// forward) is shifted forward by the length of the gap. Such times are marked inexact so the caller can prefer
/// the other end and <c>ElapsedRaw</c>. <c>Unknown</c>, <c>None</c> and empty mean no time.</para>
/// <para>A malformed line is reported with its line number and skipped; parsing never stops early. Lines before
/// the header that start with <c>$</c> or <c>#</c> (a captured command, a comment) and blank lines are ignored.</para>
/// </remarks>
internal static class SacctParser
{
    private static readonly LocalDateTimePattern LocalPattern = LocalDateTimePattern.CreateWithInvariantCulture("uuuu-MM-dd'T'HH:mm:ss");

    /// <summary>The resolver for local times: earlier of two for ambiguous, shift forward for skipped.</summary>
    internal static readonly ZoneLocalMappingResolver Resolver =
        Resolvers.CreateMappingResolver(Resolvers.ReturnEarlier, Resolvers.ReturnForwardShifted);

    internal static readonly string[] RequiredFields = ["JobIDRaw", "Account", "Partition", "State", "Submit", "Start", "End"];

    internal static SacctParseResult Parse(TextReader reader, DateTimeZone zone)
    {
        var jobs = new List<SacctJob>();
        var problems = new List<SacctProblem>();
        var steps = 0;
        Dictionary<string, int>? columns = null;
        int headerCount = 0;
        var lineNumber = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Length > 0 && line[^1] == '\r')
            {
                line = line[..^1];
            }
            if (line.Trim().Length == 0)
            {
                continue;
            }
            if (columns is null)
            {
                if (line.StartsWith('$') || line.StartsWith('#'))
                {
                    continue;
                }
                var names = line.Split('|');
                if (!names.Contains("JobIDRaw", StringComparer.OrdinalIgnoreCase) && !names.Contains("JobID", StringComparer.OrdinalIgnoreCase))
                {
                    problems.Add(new SacctProblem(lineNumber, "a data line before the header line (run sacct with --parsable2 and without --noheader)"));
                    continue;
                }
                columns = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
                for (var i = 0; i < names.Length; i++)
                {
                    columns.TryAdd(names[i].Trim(), i);
                }
                headerCount = names.Length;
                if (!columns.ContainsKey("JobIDRaw") && columns.TryGetValue("JobID", out var jobIdIndex))
                {
                    columns["JobIDRaw"] = jobIdIndex; // without JobIDRaw, the displayed id is the best key there is
                }
                var missing = RequiredFields.Where(f => !columns.ContainsKey(f)).ToList();
                if (missing.Count > 0)
                {
                    problems.Add(new SacctProblem(lineNumber, $"the header lacks the field(s) {string.Join(", ", missing)}; no line can be read"));
                    columns = null;
                    return new SacctParseResult(jobs, problems, steps, lineNumber + CountRest(reader));
                }
                continue;
            }

            var fields = line.Split('|');
            if (fields.Length != headerCount)
            {
                problems.Add(new SacctProblem(lineNumber, $"{fields.Length} fields where the header has {headerCount}"));
                continue;
            }
            string? Get(string name) => columns.TryGetValue(name, out var index) ? fields[index].Trim() : null;

            var raw = Get("JobIDRaw")!;
            var display = Get("JobID") ?? raw;
            if (raw.Length == 0)
            {
                problems.Add(new SacctProblem(lineNumber, "JobIDRaw is empty"));
                continue;
            }
            if (raw.Contains('.', StringComparison.Ordinal) || display.Contains('.', StringComparison.Ordinal))
            {
                steps++;
                continue;
            }
            try
            {
                jobs.Add(ParseJob(lineNumber, raw, display, Get, zone));
            }
            catch (FormatException ex)
            {
                problems.Add(new SacctProblem(lineNumber, $"job {display}: {ex.Message}"));
            }
            catch (OverflowException ex)
            {
                problems.Add(new SacctProblem(lineNumber, $"job {display}: a figure is out of range ({ex.Message})"));
            }
        }
        if (columns is null && problems.All(p => p.Reason.StartsWith("a data line", StringComparison.Ordinal)))
        {
            problems.Add(new SacctProblem(lineNumber, "no header line was found (expected sacct --parsable2 output with a header naming JobIDRaw)"));
        }
        return new SacctParseResult(jobs, problems, steps, lineNumber);
    }

    private static int CountRest(TextReader reader)
    {
        var count = 0;
        while (reader.ReadLine() is not null)
        {
            count++;
        }
        return count;
    }

    private static SacctJob ParseJob(int lineNumber, string raw, string display, Func<string, string?> get, DateTimeZone zone)
    {
        var (submit, _) = ParseTime(get("Submit"), "Submit", zone);
        var (start, startExact) = ParseTime(get("Start"), "Start", zone);
        var (end, endExact) = ParseTime(get("End"), "End", zone);
        var cluster = get("Cluster");
        return new SacctJob(
            lineNumber,
            display,
            raw,
            string.IsNullOrEmpty(cluster) ? null : cluster,
            get("Account") ?? "",
            get("Partition") ?? "",
            get("User") ?? "",
            get("State") ?? "",
            get("QOS") is { Length: > 0 } qos ? qos : null,
            submit,
            start,
            startExact,
            end,
            endExact,
            ParseLong(get("ElapsedRaw"), "ElapsedRaw"),
            (int?)ParseLong(get("AllocCPUS"), "AllocCPUS"),
            (int?)ParseLong(get("NNodes"), "NNodes"),
            ParseTres(get("AllocTRES")));
    }

    internal static string BaseState(string state)
    {
        var word = state.Split(' ', 2)[0].TrimEnd('+');
        return word.ToUpperInvariant();
    }

    /// <summary>Reads one time field: epoch seconds, or a local time in <paramref name="zone"/>.</summary>
    /// <returns>The instant (null for Unknown/None/empty) and whether the local time mapped to exactly one instant.</returns>
    internal static (Instant? Instant, bool Exact) ParseTime(string? text, string field, DateTimeZone zone)
    {
        if (string.IsNullOrEmpty(text) || text is "Unknown" or "None" or "N/A")
        {
            return (null, true);
        }
        if (text.All(char.IsAsciiDigit))
        {
            if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds == 0 || seconds > 7_258_118_400L)
            {
                throw new FormatException($"{field} '{text}' is not a usable epoch time");
            }
            return (Instant.FromUnixTimeSeconds(seconds), true);
        }
        var parsed = LocalPattern.Parse(text);
        if (!parsed.Success)
        {
            throw new FormatException($"{field} '{text}' is not a time (expected yyyy-MM-ddTHH:mm:ss or epoch seconds)");
        }
        var mapping = zone.MapLocal(parsed.Value);
        if (mapping.Count == 1)
        {
            return (mapping.Single().ToInstant(), true);
        }
        return (Resolver(mapping).ToInstant(), false);
    }

    private static long? ParseLong(string? text, string field)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > int.MaxValue)
        {
            throw new FormatException($"{field} '{text}' is not a count");
        }
        return value;
    }

    /// <summary>Parses an AllocTRES list such as <c>billing=4,cpu=4,gres/gpu=2,mem=2000M,node=1</c>.</summary>
    internal static SacctTres ParseTres(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return default;
        }
        decimal? cpu = null, node = null, gpu = null, billing = null, mem = null, typedGpu = null;
        foreach (var entry in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"AllocTRES entry '{entry}' is not name=value");
            }
            var name = entry[..eq];
            var value = entry[(eq + 1)..];
            switch (name)
            {
                case "cpu": cpu = Count(name, value); break;
                case "node": node = Count(name, value); break;
                case "billing": billing = Count(name, value); break;
                case "gres/gpu": gpu = Count(name, value); break;
                case "mem": mem = MemMiB(value); break;
                default:
                    if (name.StartsWith("gres/gpu:", StringComparison.Ordinal))
                    {
                        var typed = Count(name, value);
                        if (decimal.MaxValue - (typedGpu ?? 0) < typed)
                        {
                            throw new FormatException($"AllocTRES {name}='{value}' makes the gres/gpu total out of range");
                        }
                        typedGpu = (typedGpu ?? 0) + typed;
                    }
                    break; // energy, fs/disk, license/… are not quantity sources
            }
        }
        return new SacctTres(cpu, node, gpu ?? typedGpu, billing, mem);
    }

    private static decimal Count(string name, string value)
    {
        if (!decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var count))
        {
            throw new FormatException($"AllocTRES {name}='{value}' is not a number");
        }
        return count;
    }

    /// <summary>Slurm memory sizes are binary: K = KiB … P = PiB; a bare number is MiB (Slurm's default unit).</summary>
    private static decimal MemMiB(string value)
    {
        if (value.Length == 0)
        {
            throw new FormatException("AllocTRES mem= is empty");
        }
        var suffix = char.ToUpperInvariant(value[^1]);
        var factor = suffix switch
        {
            'K' => 1m / 1024m,
            'M' => 1m,
            'G' => 1024m,
            'T' => 1024m * 1024m,
            'P' => 1024m * 1024m * 1024m,
            _ => 0m,
        };
        var number = factor == 0m ? value : value[..^1];
        if (factor == 0m)
        {
            factor = 1m;
        }
        if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            throw new FormatException($"AllocTRES mem='{value}' is not a size");
        }
        if (factor > 1m && amount > decimal.MaxValue / factor)
        {
            throw new FormatException($"AllocTRES mem='{value}' is out of range");
        }
        return amount * factor;
    }
}
