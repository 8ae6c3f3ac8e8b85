using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Allocations.Tests.Support;

/// <summary>Hashes the content of every table of a SQLite file (schema and rows, in a stable order).</summary>
public static class DatabaseHash
{
    /// <param name="path">The file.</param>
    /// <param name="exceptTables">Tables left out (schema and rows).</param>
    public static string Of(string path, params string[] exceptTables)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        var text = new StringBuilder();
        var tables = new List<string>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT name, sql FROM sqlite_schema WHERE type = 'table' ORDER BY name";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                if (exceptTables.Contains(reader.GetString(0)))
                {
                    continue;
                }
                tables.Add(reader.GetString(0));
                text.Append(reader.GetString(1)).Append('\n');
            }
        }
        foreach (var table in tables)
        {
            using var command = connection.CreateCommand();
            // Table names come from sqlite_schema of our own test database, never from input.
            command.CommandText = $"SELECT * FROM \"{table}\" ORDER BY 1, 2";
            using var reader = command.ExecuteReader();
            text.Append("## ").Append(table).Append('\n');
            while (reader.Read())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    text.Append(reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)).Append('|');
                }
                text.Append('\n');
            }
        }
        foreach (var pragma in new[] { "user_version", "application_id" })
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA " + pragma;
            text.Append(pragma).Append('=').Append(command.ExecuteScalar()).Append('\n');
        }
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>Hashes every row of every table of a PostgreSQL database's public schema, in a stable order.</summary>
    public static string OfPostgres(string connectionString)
    {
        using var connection = new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        connection.Open();
        var tables = new List<string>();
        using (var command = new Npgsql.NpgsqlCommand("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", connection))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }
        var text = new StringBuilder();
        foreach (var table in tables)
        {
            // Table names come from pg_tables of the test's own database, never from input.
            using var command = new Npgsql.NpgsqlCommand($"SELECT COALESCE(string_agg(t::text, '|' ORDER BY t::text), '') FROM \"{table}\" t", connection);
            text.Append(table).Append(':').Append((string)command.ExecuteScalar()!).Append('\n');
        }
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
