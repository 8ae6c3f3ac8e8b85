using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Tests.Support;
using Npgsql;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>What only the PostgreSQL engine does: open a server's database, refuse what is not its store, and say what
/// is wrong with the server without ever repeating the password.</summary>
public sealed class PostgresEngineTests
{
    [PostgresFact]
    public async Task TheServer_IsAvailableToTheSuite_AndServesAStore()
    {
        // Runs whenever PostgreSQL binaries exist; otherwise it is the one skip that prints why the second engine's
        // cases are missing from the run.
        using var t = await TestStore.CreateAsync(Engine.Postgres);
        var a = await t.CreateAllocationAsync("Physics", 10m);
        Assert.Equal(Amount.FromDecimal(10m), (await t.Store.GetAllocationAsync(TestStore.Admin, a.Id)).Total);
    }

    [PostgresFact]
    public async Task AServerThatIsNotListening_IsUnavailable_NamingTheHost()
    {
        // A port of the loopback that nothing listens on: taken and released again.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() =>
            AllocationStore.OpenPostgresAsync($"Host=127.0.0.1;Port={port};Username=nobody;Password=secret-word;Database=x;Timeout=3"));

        Assert.Contains("127.0.0.1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("cannot be reached", ex.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-word", ex.ToString(), StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task AWrongPassword_IsARefusedLogin_WithoutThePassword()
    {
        var connection = new NpgsqlConnectionStringBuilder(await PostgresServer.CreateDatabaseAsync()) { Password = "wrong-secret-word" };
        try
        {
            var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => AllocationStore.OpenPostgresAsync(connection.ConnectionString));

            Assert.Contains("refused the login", ex.Reason, StringComparison.Ordinal);
            Assert.Contains(connection.Host!, ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("wrong-secret-word", ex.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            await PostgresServer.DropDatabaseAsync(connection.ConnectionString);
        }
    }

    [PostgresFact]
    public async Task AMalformedConnectionString_IsBadInput_WithoutRepeatingIt()
    {
        var ex = await Assert.ThrowsAsync<InvalidInputException>(() => AllocationStore.OpenPostgresAsync("Host=db;Password=secret-word;Frobnicate=1"));

        Assert.Equal("connectionString", ex.Field);
        Assert.DoesNotContain("secret-word", ex.Message, StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task ADatabaseOfAnotherApplication_IsRefused_AndLeftAsItWas()
    {
        var connection = await PostgresServer.CreateDatabaseAsync(migrated: false);
        try
        {
            TestStore.RawOn(connection, "", "CREATE TABLE invoices (id BIGINT PRIMARY KEY, total BIGINT); INSERT INTO invoices VALUES (1, 100)", scalar: false);
            var before = DatabaseHash.OfPostgres(connection);

            var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => AllocationStore.OpenPostgresAsync(connection));

            Assert.Contains("another application", ex.Reason, StringComparison.Ordinal);
            Assert.Equal(before, DatabaseHash.OfPostgres(connection));
            Assert.Equal(1L, TestStore.RawOn(connection, "", "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'", scalar: true));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await PostgresServer.DropDatabaseAsync(connection);
        }
    }

    [PostgresFact]
    public async Task ANewerSchema_IsRefused_AndLeftAsItWas()
    {
        using var t = await TestStore.CreateAsync(Engine.Postgres);
        t.Store.Dispose();
        t.Raw("UPDATE allocations_schema SET version = version + 1 WHERE id = 1", scalar: false);
        var before = t.ContentHash();

        var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => t.ReopenAsync());

        Assert.Contains("newer than this library", ex.Reason, StringComparison.Ordinal);
        Assert.Equal(before, t.ContentHash());
        t.Raw("UPDATE allocations_schema SET version = version - 1 WHERE id = 1", scalar: false);
        await t.ReopenAsync();
    }

    [PostgresFact]
    public async Task StoresOpeningAnEmptyDatabaseAtOnce_AllSucceed_AndTheSchemaIsCreatedOnce()
    {
        var connection = await PostgresServer.CreateDatabaseAsync(migrated: false);
        try
        {
            var stores = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => AllocationStore.OpenPostgresAsync(connection))));
            foreach (var store in stores)
            {
                store.Dispose();
            }

            Assert.Equal(1L, TestStore.RawOn(connection, "", "SELECT COUNT(*) FROM allocations_schema", scalar: true));
            using var again = await AllocationStore.OpenPostgresAsync(connection);
            var org = await again.CreateOrganizationAsync(Principal.System, "Lab", "admin");
            Assert.True(org.Id.Value > 0);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await PostgresServer.DropDatabaseAsync(connection);
        }
    }

    [PostgresFact]
    public async Task FigureDeltas_AddUp_AndASumPastTheRangeFailsTheWriteNamingTheAllocation_LeavingTheRow()
    {
        using var t = await TestStore.CreateAsync(Engine.Postgres);
        var a = await t.CreateAllocationAsync("A", 100m);
        var id = a.Id.Value;
        var engine = t.Store.Engine;
        await engine.WriteAsync(s => s.AddFigures(id, 1, 2, 3, 4) && s.AddFigures(id, 10, 20, 30, 40), CancellationToken.None);
        Task<Allocations.Storage.AllocationRow?> Read() => engine.ReadAsync(s => s.GetAllocation(id), CancellationToken.None);
        var row = (await Read())!;
        Assert.Equal((11L, 22L, 33L, 44L), (row.OwnUsed, row.OwnEstimated, row.Used, row.Estimated));

        var refusals = new (string Case, (long, long, long, long)[] Deltas)[]
        {
            ("Used + Estimated past the largest amount", [(0, 0, long.MaxValue - 33 - 44, 0), (0, 0, 0, 1)]),
            ("Used past the range", [(0, 0, long.MaxValue - 10, 0)]),
            ("Estimated below the range", [(0, 0, 0, -45), (0, 0, 0, long.MinValue)]),
        };
        foreach (var (name, deltas) in refusals)
        {
            var ex = await Assert.ThrowsAsync<InvalidInputException>(() => engine.WriteAsync(
                s => deltas.All(d => s.AddFigures(id, d.Item1, d.Item2, d.Item3, d.Item4)),
                CancellationToken.None));
            Assert.Contains(a.Id.ToString(), ex.Message, StringComparison.Ordinal);
            row = (await Read())!;
            Assert.True((11L, 22L, 33L, 44L) == (row.OwnUsed, row.OwnEstimated, row.Used, row.Estimated), name);
        }
    }
}
