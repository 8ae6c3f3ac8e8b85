using System.Text;
using Microsoft.Data.Sqlite;

namespace Allocations.Storage;

/// <summary>A stored value whose SQLite type is not the one its column declares (written behind the library's back).</summary>
/// <param name="Table">The table.</param>
/// <param name="RowId">The row's <c>id</c>, when its table has one.</param>
/// <param name="Row">The row as text: its id, or the columns that identify it.</param>
/// <param name="Column">The column.</param>
/// <param name="Problem">What the column holds against what the schema declares.</param>
internal sealed record StoredRowDamageRow(string Table, long? RowId, string Row, string Column, string Problem);

/// <summary>The storage operation that finds type-tampered rows for verification.</summary>
internal partial interface IStorageSession
{
    /// <summary>Every stored value of one organization whose type differs from its column's declared one, by table
    /// and row; only <paramref name="table"/> when given.</summary>
    IReadOnlyList<StoredRowDamageRow> FindStoredRowDamage(long orgId, string? table = null);
}

internal sealed partial class SqliteSession
{
    // How a table's rows are tied to an organization, tried in order: its own id (organizations), an org_id column,
    // or a reference to a table that has one. A table tied by none (a global counter) belongs to no organization.
    private static readonly (string Column, string Parent)[] OrganizationLinks =
    [
        ("event_id", "usage_events"),
        ("allocation_id", "allocations"),
        ("group_id", "groups"),
        ("sku_id", "skus"),
        ("unit_id", "units"),
    ];

    /// <summary>Driven by the schema itself (every table, every column with a declared INTEGER, TEXT, BLOB or REAL
    /// type), so a table added by a later migration is checked too. Table and column names come from
    /// <c>sqlite_schema</c> and are quoted as identifiers; the organization is a parameter.</summary>
    public IReadOnlyList<StoredRowDamageRow> FindStoredRowDamage(long orgId, string? table = null)
    {
        var tables = Many<string>(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND (@table IS NULL OR name = @table) ORDER BY name",
            new { table });
        var damage = new List<StoredRowDamageRow>();
        foreach (var name in tables)
        {
            var columns = Many<(string Name, string Type)>("SELECT name, type FROM pragma_table_info(@name) ORDER BY cid", new { name });
            var scope = OrganizationScope(name, columns.Select(c => c.Name).ToHashSet(StringComparer.OrdinalIgnoreCase));
            var checkedColumns = columns.Select(c => (c.Name, Expected: ExpectedTypeName(c.Type))).Where(c => c.Expected is not null).ToList();
            if (scope is null || checkedColumns.Count == 0)
            {
                continue;
            }
            var hasId = columns.Any(c => c.Name == "id");
            var keys = hasId ? ["id"] : columns.Select(c => c.Name).Where(c => c.EndsWith("_id", StringComparison.Ordinal) || c == "seq").ToList();
            var sql = new StringBuilder("SELECT ");
            sql.Append(hasId ? "CASE typeof(\"id\") WHEN 'integer' THEN \"id\" END" : "NULL");
            foreach (var key in keys)
            {
                sql.Append(", quote(").Append(Quote(key)).Append(')');
            }
            foreach (var (column, _) in checkedColumns)
            {
                sql.Append(", typeof(").Append(Quote(column)).Append(')');
            }
            sql.Append(" FROM ").Append(Quote(name)).Append(" WHERE (").Append(scope).Append(") AND (");
            sql.Append(string.Join(" OR ", checkedColumns.Select(c => $"typeof({Quote(c.Name)}) NOT IN ('{c.Expected}', 'null')")));
            sql.Append(')');
            if (keys.Count > 0)
            {
                sql.Append(" ORDER BY ").Append(string.Join(", ", keys.Select(Quote))); // some tables are WITHOUT ROWID
            }
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql.ToString();
            command.Parameters.AddWithValue("@org", orgId);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                long? rowId = reader.IsDBNull(0) ? null : reader.GetInt64(0);
                var row = hasId
                    ? reader.GetString(1)
                    : string.Join(", ", keys.Select((k, i) => $"{k} {reader.GetString(1 + i)}"));
                for (var i = 0; i < checkedColumns.Count; i++)
                {
                    var stored = reader.GetString(1 + keys.Count + i);
                    var (column, expected) = checkedColumns[i];
                    if (stored != expected && stored != "null")
                    {
                        damage.Add(new StoredRowDamageRow(name, rowId, row, column, $"holds {Article(stored)} where the schema declares {Article(expected!)}"));
                    }
                }
            }
        }
        return damage;
    }

    private static string? OrganizationScope(string table, HashSet<string> columns)
    {
        if (table == "organizations")
        {
            return "\"id\" = @org";
        }
        if (columns.Contains("org_id"))
        {
            return "\"org_id\" = @org";
        }
        var links = OrganizationLinks.Where(l => columns.Contains(l.Column)).Select(l => $"{Quote(l.Column)} IN (SELECT \"id\" FROM {Quote(l.Parent)} WHERE \"org_id\" = @org)").ToList();
        return links.Count == 0 ? null : string.Join(" OR ", links);
    }

    /// <summary>The <c>typeof()</c> name a column's declared type admits (SQLite's affinity rules); null when the
    /// declared type admits anything (no type, NUMERIC).</summary>
    private static string? ExpectedTypeName(string declared)
    {
        var upper = declared.ToUpperInvariant();
        return upper.Contains("INT", StringComparison.Ordinal) ? "integer"
            : upper.Contains("CHAR", StringComparison.Ordinal) || upper.Contains("CLOB", StringComparison.Ordinal) || upper.Contains("TEXT", StringComparison.Ordinal) ? "text"
            : upper.Contains("BLOB", StringComparison.Ordinal) ? "blob"
            : upper.Contains("REAL", StringComparison.Ordinal) || upper.Contains("FLOA", StringComparison.Ordinal) || upper.Contains("DOUB", StringComparison.Ordinal) ? "real"
            : null;
    }

    private static string Article(string typeName) => typeName switch
    {
        "integer" => "an integer",
        "real" => "a real number",
        "text" => "text",
        "blob" => "a blob",
        _ => typeName,
    };

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
