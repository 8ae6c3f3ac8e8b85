namespace Allocations.Sample.Commands;

/// <summary>Prints rows as an aligned text table: text columns left-aligned, numbers right-aligned.</summary>
internal sealed class TextTable
{
    private readonly string[] headers;
    private readonly bool[] rightAligned;
    private readonly List<string[]> rows = [];

    internal TextTable(params string[] headers)
    {
        this.headers = headers;
        rightAligned = new bool[headers.Length];
    }

    /// <summary>Marks columns (by header) whose values are numbers.</summary>
    internal TextTable Right(params string[] columns)
    {
        foreach (var column in columns)
        {
            rightAligned[Array.IndexOf(headers, column)] = true;
        }
        return this;
    }

    internal void Add(params string?[] values) => rows.Add(values.Select(v => v ?? "").ToArray());

    internal void Separator() => rows.Add([]);

    internal void Write(TextWriter writer)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Where(r => r.Length > i).Select(r => r[i].Length).DefaultIfEmpty(0).Max())).ToArray();
        string Line(string[] values) => string.Join("  ", values.Select((v, i) => rightAligned[i] ? v.PadLeft(widths[i]) : v.PadRight(widths[i]))).TrimEnd();
        writer.WriteLine(Line(headers));
        var rule = string.Join("  ", widths.Select(w => new string('-', w)));
        writer.WriteLine(rule);
        foreach (var row in rows)
        {
            writer.WriteLine(row.Length == 0 ? rule : Line(row));
        }
    }
}
