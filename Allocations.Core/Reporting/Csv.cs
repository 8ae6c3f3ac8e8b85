using System.Globalization;
using Allocations.Domain;
using NodaTime;
using NodaTime.Text;

namespace Allocations.Reporting;

/// <summary>RFC 4180 output: fields separated by commas, records ended by CRLF, a field quoted when it holds a comma,
/// a quote, CR or LF, with quotes doubled inside. Numbers and instants in invariant, ISO-8601 form.</summary>
internal static class Csv
{
    internal const string NewLine = "\r\n";

    internal static string Instant(Instant value) => InstantPattern.ExtendedIso.Format(value);

    internal static string Date(LocalDate value) => LocalDatePattern.Iso.Format(value);

    internal static string Amount(Amount value) => value.ToDecimal().ToString(CultureInfo.InvariantCulture);

    internal static string Quantity(Quantity value) => value.ToDecimal().ToString(CultureInfo.InvariantCulture);

    internal static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    internal static async Task WriteRecordAsync(TextWriter writer, IReadOnlyList<string?> fields, CancellationToken cancellationToken)
    {
        var line = new System.Text.StringBuilder();
        for (var i = 0; i < fields.Count; i++)
        {
            if (i > 0)
            {
                line.Append(',');
            }
            AppendField(line, fields[i]);
        }
        line.Append(NewLine);
        await writer.WriteAsync(line, cancellationToken).ConfigureAwait(false);
    }

    private static void AppendField(System.Text.StringBuilder line, string? field)
    {
        if (string.IsNullOrEmpty(field))
        {
            return;
        }
        if (field.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            line.Append(field);
            return;
        }
        line.Append('"').Append(field.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }
}
