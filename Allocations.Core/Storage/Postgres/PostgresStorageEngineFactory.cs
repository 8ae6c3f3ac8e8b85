using Allocations.Exceptions;
using Npgsql;

namespace Allocations.Storage.Postgres;

/// <summary>Opens PostgreSQL stores from a connection string (key=value or a <c>postgres://</c> URI) or from a data
/// source the host built.</summary>
internal sealed class PostgresStorageEngineFactory : IStorageEngineFactory
{
    internal static readonly PostgresStorageEngineFactory Instance = new();

    public ValueTask<IStorageEngine> OpenAsync(StorageSettings settings, CancellationToken cancellationToken) =>
        OpenAsync(CreateDataSource(settings.Location), ownsDataSource: true, settings, cancellationToken);

    internal static async ValueTask<IStorageEngine> OpenAsync(NpgsqlDataSource dataSource, bool ownsDataSource, StorageSettings settings, CancellationToken cancellationToken) =>
        await PostgresStorageEngine.OpenAsync(dataSource, ownsDataSource, settings, cancellationToken).ConfigureAwait(false);

    /// <summary>Whether <paramref name="location"/> is a PostgreSQL URI rather than a file path.</summary>
    internal static bool IsUri(string location) =>
        location.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || location.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase);

    /// <summary>Builds a data source with prepared statements kept per connection and no reset of a pooled connection
    /// (unless the connection string sets them). A malformed connection string is
    /// refused naming its field, without repeating it (it may hold a password).</summary>
    internal static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(IsUri(connectionString) ? FromUri(connectionString) : connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new InvalidInputException("connectionString", "(not shown)", $"it is not a valid PostgreSQL connection string: {ex.Message.Split('\n')[0]}", ex);
        }
        if (string.IsNullOrEmpty(builder.Host))
        {
            throw new InvalidInputException("connectionString", "(not shown)", "it names no Host");
        }
        if (builder.MaxAutoPrepare == 0)
        {
            builder.MaxAutoPrepare = 64;
        }
        // The store leaves nothing on a connection past its transaction (its settings are SET LOCAL, its advisory locks
        // transaction-scoped): a connection back in the pool needs no reset statements before its next transaction.
        if (!builder.ConnectionString.Contains("No Reset On Close", StringComparison.OrdinalIgnoreCase) && !builder.ConnectionString.Contains("NoResetOnClose", StringComparison.OrdinalIgnoreCase))
        {
            builder.NoResetOnClose = true;
        }
        return new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
    }

    /// <summary>A <c>postgres://user:password@host:port/database?key=value</c> URI as a key=value connection string.</summary>
    internal static string FromUri(string uri)
    {
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || string.IsNullOrEmpty(parsed.Host))
        {
            throw new FormatException("the URI has no host");
        }
        var builder = new NpgsqlConnectionStringBuilder { Host = parsed.Host.Trim('[', ']') };
        if (parsed.Port > 0)
        {
            builder.Port = parsed.Port;
        }
        if (parsed.UserInfo.Length > 0)
        {
            var parts = parsed.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2)
            {
                builder.Password = Uri.UnescapeDataString(parts[1]);
            }
        }
        var database = Uri.UnescapeDataString(parsed.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            builder.Database = database;
        }
        foreach (var pair in parsed.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]).Replace('_', ' ');
            builder[key] = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
        }
        return builder.ConnectionString;
    }
}
