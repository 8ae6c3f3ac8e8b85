using Allocations.Domain;
using NodaTime;
using NodaTime.Testing;

namespace Allocations.Tests.Support;

/// <summary>A store in a fresh temporary SQLite file with one organization, a core-hours unit and a CPU SKU whose
/// rate changes mid-month; deleted on dispose.</summary>
public sealed class TestStore : IDisposable
{
    public static readonly Instant November1 = Instant.FromUtc(2026, 11, 1, 0, 0);
    public static readonly Instant November15 = Instant.FromUtc(2026, 11, 15, 0, 0);
    public static readonly Principal Admin = Principal.User("admin");
    public static readonly SkuCode Cpu = new("CPU_HOUR");
    public static readonly SkuCode Gpu = new("GPU_HOUR");
    public static readonly SkuCode License = new("LICENSE");
    public static readonly UnitCode CoreHours = new("core-hours");

    private TestStore(string directory, AllocationStore store, FakeClock clock, OrganizationId organization, Engine engine = Engine.Sqlite, string? connectionString = null)
    {
        Engine = engine;
        ConnectionString = connectionString;
        Directory = directory;
        Store = store;
        Clock = clock;
        Organization = organization;
    }

    public string Directory { get; }

    private bool keepDatabase;

    /// <summary>Gets the engine the store runs on.</summary>
    public Engine Engine { get; }

    /// <summary>Gets the PostgreSQL connection string of the test's own database; null on SQLite.</summary>
    public string? ConnectionString { get; }

    public string Path => System.IO.Path.Combine(Directory, "allocations.db");

    public AllocationStore Store { get; private set; }

    public FakeClock Clock { get; }

    public OrganizationId Organization { get; }

    public static string NewDirectory()
    {
        var directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "alloc-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        return directory;
    }

    /// <summary>Creates the store: CPU_HOUR (PerHour) at 1 until Nov 15 then 2; GPU_HOUR (PerHour) at 4; LICENSE
    /// (PerUnit) at 10 then 20; all in core-hours.</summary>
    public static async Task<TestStore> CreateAsync(Engine engine = Engine.Sqlite, bool keepDatabase = false)
    {
        var directory = NewDirectory();
        var clock = new FakeClock(Instant.FromUtc(2026, 11, 20, 12, 0));
        var connectionString = engine == Engine.Postgres ? await PostgresServer.CreateDatabaseAsync() : null;
        var store = connectionString is null
            ? await AllocationStore.OpenAsync(System.IO.Path.Combine(directory, "allocations.db"), new AllocationStoreOptions { Clock = clock })
            : await AllocationStore.OpenPostgresAsync(connectionString, new AllocationStoreOptions { Clock = clock });
        var org = await store.CreateOrganizationAsync(Principal.System, "Lab", Admin.Id);
        await store.CreateUnitAsync(Admin, org.Id, CoreHours, 2);
        await store.CreateSkuAsync(Admin, org.Id, Cpu, CoreHours, RateBasis.PerHour);
        await store.AddRateRuleAsync(Admin, org.Id, Cpu, November1, November15, Rate.FromDecimal(1m));
        await store.AddRateRuleAsync(Admin, org.Id, Cpu, November15, null, Rate.FromDecimal(2m));
        await store.CreateSkuAsync(Admin, org.Id, Gpu, CoreHours, RateBasis.PerHour);
        await store.AddRateRuleAsync(Admin, org.Id, Gpu, November1, null, Rate.FromDecimal(4m));
        await store.CreateSkuAsync(Admin, org.Id, License, CoreHours, RateBasis.PerUnit);
        await store.AddRateRuleAsync(Admin, org.Id, License, November1, November15, Rate.FromDecimal(10m));
        await store.AddRateRuleAsync(Admin, org.Id, License, November15, null, Rate.FromDecimal(20m));
        return new TestStore(directory, store, clock, org.Id, engine, connectionString) { keepDatabase = keepDatabase };
    }

    public Task<Allocation> CreateAllocationAsync(string name, decimal total, Allocation? parent = null) =>
        Store.CreateAllocationAsync(Admin, Organization, new NewAllocation(name, CoreHours, Amount.FromDecimal(total), parent?.Id));

    public static UsageRecord Cpu1(Allocation allocation, decimal cores, Instant start, Instant end, UsageStatus status = UsageStatus.Confirmed, string? key = null) =>
        new(allocation.Id, Cpu, Quantity.FromDecimal(cores), start, end, status, key);

    public async Task ReopenAsync()
    {
        Store.Dispose();
        Store = ConnectionString is null
            ? await AllocationStore.OpenAsync(Path, new AllocationStoreOptions { Clock = Clock })
            : await AllocationStore.OpenPostgresAsync(ConnectionString, new AllocationStoreOptions { Clock = Clock });
    }

    /// <summary>Opens a second store on the same database (another process would).</summary>
    public Task<AllocationStore> OpenAnotherAsync(AllocationStoreOptions? options = null) =>
        ConnectionString is null
            ? AllocationStore.OpenAsync(Path, options ?? new AllocationStoreOptions { Clock = Clock })
            : AllocationStore.OpenPostgresAsync(ConnectionString, options ?? new AllocationStoreOptions { Clock = Clock });

    /// <summary>Runs a statement behind the library's back, on whichever engine the store runs (parameters named
    /// <c>@name</c>), and returns the rows it changed or, for a query, its first value.</summary>
    public object? Raw(string sql, bool scalar, params (string Name, object Value)[] parameters) =>
        RawOn(ConnectionString, Path, sql, scalar, parameters);

    /// <summary>Runs a statement behind the library's back on a PostgreSQL database (when
    /// <paramref name="connectionString"/> is given) or a SQLite file.</summary>
    public static object? RawOn(string? connectionString, string path, string sql, bool scalar, params (string Name, object Value)[] parameters)
    {
        if (connectionString is null)
        {
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue("@" + name, value);
            }
            return scalar ? command.ExecuteScalar() : command.ExecuteNonQuery();
        }
        using var pg = new Npgsql.NpgsqlConnection(connectionString);
        pg.Open();
        using var pgCommand = new Npgsql.NpgsqlCommand(sql, pg);
        foreach (var (name, value) in parameters)
        {
            pgCommand.Parameters.AddWithValue(name, value);
        }
        return scalar ? pgCommand.ExecuteScalar() : pgCommand.ExecuteNonQuery();
    }

    /// <summary>A hash of every row of every table, to prove that a refused call changed nothing.</summary>
    public string ContentHash() => ConnectionString is null ? DatabaseHash.Of(Path) : DatabaseHash.OfPostgres(ConnectionString);

    /// <summary>The same hash without the journal's tables: the state a batch and the same calls one by one both reach
    /// (their journals differ by design: one entry per call).</summary>
    public string ContentHashWithoutJournal() => DatabaseHash.Of(Path, "journal", "journal_heads", "journal_sequence", "journal_parts");

    public void Dispose()
    {
        Store.Dispose();
        if (ConnectionString is not null && !keepDatabase)
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
            PostgresServer.DropDatabaseAsync(ConnectionString).GetAwaiter().GetResult();
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open elsewhere in the test process; the OS temp cleaner takes it later.
        }
    }
}
