using System.Collections.Concurrent;
using System.Data;
using System.Reflection;
using Dapper;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Allocations.Storage;

/// <summary>The one place rows become values: every read checks that each value read straight from a table column
/// holds the type the schema declares for it, then maps the row.</summary>
/// <remarks>
/// SQLite stores whatever a writer gives it: a row edited behind the library's back can hold <c>'lots'</c> in an
/// INTEGER column or text in a BLOB one. Microsoft.Data.Sqlite would turn such text into 0 without a word, and Dapper
/// would throw a raw <see cref="DataException"/>. Here a value whose SQLite type differs from its column's declared
/// affinity (INTEGER, TEXT, BLOB, REAL) fails the read with <see cref="StoredRowException"/>, naming the table, the
/// row and the column, which the engine turns into <see cref="Exceptions.StoreUnavailableException"/>. A conversion
/// Dapper or a reader cannot make (an integer too large for an <c>int</c>) fails the same way. Computed columns
/// (COUNT, SUM, COALESCE) have no declared type and are not checked here; verification checks the stored rows.
/// </remarks>
internal static class StoredRows
{
    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> ParameterProperties = new();

    /// <summary>Runs a query and maps every row (buffered).</summary>
    internal static List<T> Query<T>(SqliteConnection connection, SqliteTransaction transaction, string sql, object? parameters, CancellationToken cancellationToken)
    {
        var rows = new List<T>();
        foreach (var row in Stream<T>(connection, transaction, sql, parameters, cancellationToken))
        {
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>Runs a query and maps its one row; default when there is none.</summary>
    /// <exception cref="InvalidOperationException">The query returned more than one row.</exception>
    internal static T? Single<T>(SqliteConnection connection, SqliteTransaction transaction, string sql, object? parameters, CancellationToken cancellationToken)
    {
        using var enumerator = Stream<T>(connection, transaction, sql, parameters, cancellationToken).GetEnumerator();
        if (!enumerator.MoveNext())
        {
            return default;
        }
        var row = enumerator.Current;
        if (enumerator.MoveNext())
        {
            throw new InvalidOperationException("the query returned more than one row");
        }
        return row;
    }

    /// <summary>Runs a query and maps its rows one at a time, as the caller reads them.</summary>
    internal static IEnumerable<T> Stream<T>(SqliteConnection connection, SqliteTransaction transaction, string sql, object? parameters, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        Bind(command, parameters);
        cancellationToken.ThrowIfCancellationRequested();
        using var reader = command.ExecuteReader();
        Func<System.Data.Common.DbDataReader, T>? parse = null;
        var check = new RowCheck();
        while (reader.Read())
        {
            check.Verify(reader);
            T row;
            try
            {
                parse ??= IsSimple(typeof(T)) ? static r => Scalar<T>(r.GetValue(0)) : reader.GetRowParser<T>();
                row = parse(reader);
            }
            catch (Exception ex) when (ex is DataException or InvalidCastException or FormatException or OverflowException)
            {
                throw check.Unreadable(reader, ex);
            }
            yield return row;
        }
    }

    /// <summary>Whether rows map to a single value (a string, a number, a blob) rather than to a record or tuple: Dapper's
    /// typed row parser cannot return those.</summary>
    private static bool IsSimple(Type type)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        return underlying.IsPrimitive || underlying.IsEnum || underlying == typeof(string) || underlying == typeof(byte[]) || underlying == typeof(decimal);
    }

    /// <summary>A single value converted as Dapper converts one (SQLite integers are 64-bit; a narrower target is
    /// converted, checked).</summary>
    private static T Scalar<T>(object? value)
    {
        if (value is null or DBNull)
        {
            return default!;
        }
        if (value is T same)
        {
            return same;
        }
        var target = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return (T)(target.IsEnum ? Enum.ToObject(target, value) : Convert.ChangeType(value, target, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Checks one row read by a hand-written mapper (see <see cref="SqliteSession"/>'s readers), then maps it.</summary>
    internal static T Map<T>(SqliteDataReader reader, Func<SqliteDataReader, T> map) => new RowCheck().Map(reader, map);

    /// <summary>Binds the members of an anonymous parameter object (or a <see cref="DynamicParameters"/>) by name.</summary>
    private static void Bind(SqliteCommand command, object? parameters)
    {
        switch (parameters)
        {
            case null:
                return;
            case DynamicParameters dynamic:
                foreach (var name in dynamic.ParameterNames)
                {
                    command.Parameters.AddWithValue("@" + name, Value(dynamic.Get<object?>(name)));
                }
                return;
            default:
                foreach (var property in ParameterProperties.GetOrAdd(parameters.GetType(), static t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)))
                {
                    command.Parameters.AddWithValue("@" + property.Name, Value(property.GetValue(parameters)));
                }
                return;
        }

        static object Value(object? value) => value switch
        {
            null => DBNull.Value,
            Enum e => Convert.ChangeType(e, Enum.GetUnderlyingType(e.GetType()), System.Globalization.CultureInfo.InvariantCulture),
            _ => value,
        };
    }

    /// <summary>The declared affinity of each column of one statement, read at its first row, and the check of each
    /// row; one instance serves all rows of a result.</summary>
    internal sealed class RowCheck
    {
        private int[]? expected; // the SQLite type each column must hold (0 when the column is computed and not checked)

        internal void Verify(SqliteDataReader reader)
        {
            var stmt = reader.Handle!;
            expected ??= ExpectedTypes(stmt, reader.FieldCount);
            for (var i = 0; i < expected.Length; i++)
            {
                if (expected[i] == 0)
                {
                    continue;
                }
                var actual = raw.sqlite3_column_type(stmt, i);
                if (actual != raw.SQLITE_NULL && actual != expected[i])
                {
                    throw new StoredRowException(
                        Table(stmt, i),
                        Row(stmt, i),
                        $"column {raw.sqlite3_column_origin_name(stmt, i).utf8_to_string()} holds {TypeName(actual)} where the schema declares {TypeName(expected[i])}");
                }
            }
        }

        /// <summary>Checks the current row, then maps it; a conversion the mapper cannot make fails like a mismatched
        /// type.</summary>
        internal T Map<T>(SqliteDataReader reader, Func<SqliteDataReader, T> map)
        {
            Verify(reader);
            try
            {
                return map(reader);
            }
            catch (Exception ex) when (ex is InvalidCastException or FormatException or OverflowException)
            {
                throw Unreadable(reader, ex);
            }
        }

        internal StoredRowException Unreadable(SqliteDataReader reader, Exception ex)
        {
            var stmt = reader.Handle!;
            var column = Enumerable.Range(0, reader.FieldCount).FirstOrDefault(i => raw.sqlite3_column_table_name(stmt, i).utf8_to_string() is not null, 0);
            return new StoredRowException(Table(stmt, column), Row(stmt, column), $"a value cannot be read ({ex.Message})", ex);
        }

        private static int[] ExpectedTypes(sqlite3_stmt stmt, int count)
        {
            var types = new int[count];
            for (var i = 0; i < count; i++)
            {
                types[i] = AffinityOf(raw.sqlite3_column_decltype(stmt, i).utf8_to_string());
            }
            return types;
        }

        /// <summary>SQLite's affinity rules (datatype3.html, 3.1) for the types this schema declares; NUMERIC and
        /// computed columns are not checked.</summary>
        internal static int AffinityOf(string? declared)
        {
            if (declared is null)
            {
                return 0;
            }
            var upper = declared.ToUpperInvariant();
            if (upper.Contains("INT", StringComparison.Ordinal))
            {
                return raw.SQLITE_INTEGER;
            }
            if (upper.Contains("CHAR", StringComparison.Ordinal) || upper.Contains("CLOB", StringComparison.Ordinal) || upper.Contains("TEXT", StringComparison.Ordinal))
            {
                return raw.SQLITE_TEXT;
            }
            if (upper.Contains("BLOB", StringComparison.Ordinal))
            {
                return raw.SQLITE_BLOB;
            }
            if (upper.Contains("REAL", StringComparison.Ordinal) || upper.Contains("FLOA", StringComparison.Ordinal) || upper.Contains("DOUB", StringComparison.Ordinal))
            {
                return raw.SQLITE_FLOAT;
            }
            return 0;
        }
    }

    /// <summary>The values of a statement's current row read straight from SQLite, each checked to hold the type its
    /// column declares, for the large reads (the allocation table, a report's segments), where a call through
    /// <see cref="SqliteDataReader"/> per value costs several times the value itself.</summary>
    /// <remarks>The caller names the type it reads from each column; that the query's columns are declared so is
    /// checked once, when the reader is made (a mismatch is a library bug, not damage). Then every value costs two
    /// calls into SQLite: its type, then the value. A value of another type, or a NULL where the caller reads a
    /// non-null one, fails with <see cref="StoredRowException"/> naming the table, the row and the column, as
    /// <see cref="RowCheck"/> does.</remarks>
    internal sealed class ValueReader
    {
        private readonly sqlite3_stmt stmt;

        internal ValueReader(SqliteDataReader reader, ReadOnlySpan<int> declared)
        {
            stmt = reader.Handle!;
            if (raw.sqlite3_column_count(stmt) != declared.Length)
            {
                throw new InvalidOperationException($"the query has {raw.sqlite3_column_count(stmt)} columns, not {declared.Length}");
            }
            for (var i = 0; i < declared.Length; i++)
            {
                var decl = raw.sqlite3_column_decltype(stmt, i).utf8_to_string();
                if (RowCheck.AffinityOf(decl) != declared[i])
                {
                    throw new InvalidOperationException($"column {i} of the query is declared {decl ?? "(computed)"}, not {TypeName(declared[i])}");
                }
            }
        }

        internal long Int64(int column)
        {
            var type = raw.sqlite3_column_type(stmt, column);
            if (type != raw.SQLITE_INTEGER)
            {
                throw Mismatch(column, type, raw.SQLITE_INTEGER);
            }
            return raw.sqlite3_column_int64(stmt, column);
        }

        internal long? NullableInt64(int column)
        {
            var type = raw.sqlite3_column_type(stmt, column);
            if (type == raw.SQLITE_INTEGER)
            {
                return raw.sqlite3_column_int64(stmt, column);
            }
            return type == raw.SQLITE_NULL ? null : throw Mismatch(column, type, raw.SQLITE_INTEGER);
        }

        /// <summary>An integer that must fit an <see cref="int"/> (a status, a sequence number).</summary>
        internal int Int32(int column)
        {
            var value = Int64(column);
            return value is >= int.MinValue and <= int.MaxValue
                ? (int)value
                : throw new StoredRowException(Table(stmt, column), Row(stmt, column), $"column {Origin(column)} holds {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}, past the range of its values");
        }

        internal string Text(int column)
        {
            var type = raw.sqlite3_column_type(stmt, column);
            if (type != raw.SQLITE_TEXT)
            {
                throw Mismatch(column, type, raw.SQLITE_TEXT);
            }
            return raw.sqlite3_column_text(stmt, column).utf8_to_string();
        }

        internal string? NullableText(int column)
        {
            var type = raw.sqlite3_column_type(stmt, column);
            if (type == raw.SQLITE_TEXT)
            {
                return raw.sqlite3_column_text(stmt, column).utf8_to_string();
            }
            return type == raw.SQLITE_NULL ? null : throw Mismatch(column, type, raw.SQLITE_TEXT);
        }

        private string Origin(int column) => raw.sqlite3_column_origin_name(stmt, column).utf8_to_string() ?? column.ToString(System.Globalization.CultureInfo.InvariantCulture);

        private StoredRowException Mismatch(int column, int actual, int expected) =>
            new(Table(stmt, column), Row(stmt, column), $"column {Origin(column)} holds {TypeName(actual)} where the schema declares {TypeName(expected)}");
    }

    private static string Table(sqlite3_stmt stmt, int column) =>
        raw.sqlite3_column_table_name(stmt, column).utf8_to_string() ?? "(a computed result)";

    /// <summary>Names the row by the columns of its table that identify it: <c>id</c>, else the <c>…_id</c> and
    /// <c>seq</c> columns in the result.</summary>
    private static string Row(sqlite3_stmt stmt, int column)
    {
        var table = raw.sqlite3_column_table_name(stmt, column).utf8_to_string();
        var keys = new List<string>();
        var count = raw.sqlite3_column_count(stmt);
        for (var pass = 0; pass < 2 && keys.Count == 0; pass++)
        {
            for (var i = 0; i < count; i++)
            {
                var origin = raw.sqlite3_column_origin_name(stmt, i).utf8_to_string();
                if (origin is null || raw.sqlite3_column_table_name(stmt, i).utf8_to_string() != table || raw.sqlite3_column_type(stmt, i) != raw.SQLITE_INTEGER)
                {
                    continue;
                }
                var identifies = pass == 0 ? origin == "id" : origin.EndsWith("_id", StringComparison.Ordinal) || origin == "seq";
                if (identifies)
                {
                    keys.Add(pass == 0
                        ? raw.sqlite3_column_int64(stmt, i).ToString(System.Globalization.CultureInfo.InvariantCulture)
                        : $"{origin} {raw.sqlite3_column_int64(stmt, i).ToString(System.Globalization.CultureInfo.InvariantCulture)}");
                }
            }
        }
        if (keys.Count == 0)
        {
            // A join that reads no key of this table (a report's segments): name the row it belongs to.
            for (var i = 0; i < count; i++)
            {
                var other = raw.sqlite3_column_table_name(stmt, i).utf8_to_string();
                if (other is not null && other != table && raw.sqlite3_column_origin_name(stmt, i).utf8_to_string() == "id" && raw.sqlite3_column_type(stmt, i) == raw.SQLITE_INTEGER)
                {
                    keys.Add($"of {other} id {raw.sqlite3_column_int64(stmt, i).ToString(System.Globalization.CultureInfo.InvariantCulture)}");
                }
            }
        }
        return keys.Count == 0 ? "(unidentified)" : string.Join(", ", keys);
    }

    internal static string TypeName(int sqliteType) => sqliteType switch
    {
        raw.SQLITE_INTEGER => "an integer",
        raw.SQLITE_FLOAT => "a real number",
        raw.SQLITE_TEXT => "text",
        raw.SQLITE_BLOB => "a blob",
        _ => "null",
    };
}

/// <summary>A stored row that cannot be read as the schema says; the engine reports it as
/// <see cref="Exceptions.StoreUnavailableException"/> naming the store.</summary>
internal sealed class StoredRowException(string table, string row, string problem, Exception? innerException = null)
    : Exception($"table {table}, row {row}: {problem} (the row was changed outside the library; VerifyAsync lists every such row)", innerException)
{
    internal string Table { get; } = table;

    internal string Row { get; } = row;
}
