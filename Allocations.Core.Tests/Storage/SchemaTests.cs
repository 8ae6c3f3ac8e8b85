using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Allocations.Tests.Storage;

public class SchemaTests
{
    private static long Pragma(string path, string name)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA " + name;
        return Convert.ToInt64(cmd.ExecuteScalar());
    }

    [Fact]
    public async Task Open_MissingFile_CreatesItAtTheLatestVersionInWalMode()
    {
        var path = Path.Combine(TestStore.NewDirectory(), "new.db");
        using (var store = await AllocationStore.OpenAsync(path))
        {
            Assert.Equal(Path.GetFullPath(path), store.Location);
        }
        Assert.Equal(Migrations.Latest, Pragma(path, "user_version"));
        Assert.Equal(SqliteStorageEngine.ApplicationId, Pragma(path, "application_id"));
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string)cmd.ExecuteScalar()!);
    }

    [Fact]
    public async Task Open_ExistingStore_KeepsItsData()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("Kept", 5m);
        await t.ReopenAsync();
        Assert.Equal("Kept", (await t.Store.GetAllocationAsync(TestStore.Admin, a.Id)).Name);
    }

    [Fact]
    public async Task Open_ASecondStoreOnANewFile_WhileTheFirstIsOpen_SeesTheSameStore()
    {
        var path = Path.Combine(TestStore.NewDirectory(), "shared.db");
        using var first = await AllocationStore.OpenAsync(path);
        var org = await first.CreateOrganizationAsync(Principal.System, "Shared", "admin");
        using var second = await AllocationStore.OpenAsync(path);
        Assert.Equal(org.Name, Assert.Single(await second.ListOrganizationsAsync(Principal.System)).Name);
    }

    [Fact]
    public async Task Open_EmptyFile_IsInitialized()
    {
        var path = Path.Combine(TestStore.NewDirectory(), "empty.db");
        File.WriteAllBytes(path, []);
        using var store = await AllocationStore.OpenAsync(path);
        Assert.Equal(Migrations.Latest, Pragma(path, "user_version"));
    }

    [Fact]
    public async Task Open_RandomBytes_IsRefusedAndLeftUntouched()
    {
        var path = Path.Combine(TestStore.NewDirectory(), "random.db");
        var bytes = new byte[8192];
        new Random(42).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => AllocationStore.OpenAsync(path));
        Assert.Contains("not a SQLite database", ex.Message);
        Assert.Equal(bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task Open_AnotherApplicationsDatabase_IsRefusedAndLeftUntouched()
    {
        var path = Path.Combine(TestStore.NewDirectory(), "other.db");
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('x');";
            cmd.ExecuteNonQuery();
        }
        var before = File.ReadAllBytes(path);
        var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => AllocationStore.OpenAsync(path));
        Assert.Contains("another application", ex.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.False(File.Exists(path + "-wal"));
    }

    [Fact]
    public async Task Open_NewerSchema_IsRefusedAndLeftUntouched()
    {
        var path = Path.Combine(TestStore.NewDirectory(), "newer.db");
        using (await AllocationStore.OpenAsync(path))
        {
        }
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"PRAGMA user_version = {Migrations.Latest + 1}; PRAGMA wal_checkpoint(TRUNCATE);";
            cmd.ExecuteNonQuery();
        }
        var before = File.ReadAllBytes(path);
        var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => AllocationStore.OpenAsync(path));
        Assert.Contains("newer", ex.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task Open_TruncatedFile_IsRefusedAndLeftUntouched()
    {
        var source = Path.Combine(TestStore.NewDirectory(), "full.db");
        using (var store = await AllocationStore.OpenAsync(source))
        {
            await store.CreateOrganizationAsync(Principal.System, "Org", "admin");
        }
        using (var c = new SqliteConnection($"Data Source={source};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;";
            cmd.ExecuteNonQuery();
        }
        var full = File.ReadAllBytes(source);
        var path = Path.Combine(TestStore.NewDirectory(), "truncated.db");
        var cut = full[..(full.Length / 2)];
        File.WriteAllBytes(path, cut);
        var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => AllocationStore.OpenAsync(path));
        Assert.Contains("truncated", ex.Message);
        Assert.Equal(cut, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task InMemoryStore_Works_AndPathIsRequiredForFiles()
    {
        using var store = await AllocationStore.OpenInMemoryAsync();
        var org = await store.CreateOrganizationAsync(Principal.System, "Mem", "admin");
        Assert.Single(await store.ListOrganizationsAsync(Principal.System));
        Assert.Equal(":memory:", store.Location);
        Assert.Equal("path", Assert.Throws<InvalidInputException>(() => { _ = AllocationStore.OpenAsync(" "); }).Field);
        Assert.NotEqual(default, org.Id);
    }

    [Fact]
    public void SqlLivesOnlyInStorage()
    {
        var root = FindRepositoryRoot();
        var offenders = Directory.EnumerateFiles(Path.Combine(root, "Allocations.Core"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}Storage{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Where(f => System.Text.RegularExpressions.Regex.IsMatch(File.ReadAllText(f), @"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b"))
            .ToList();
        Assert.Empty(offenders);
    }

    internal static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Allocations.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }
}
