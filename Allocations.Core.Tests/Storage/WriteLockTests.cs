using System.Diagnostics;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;
using static Allocations.Tests.Support.RawSqlite;

namespace Allocations.Tests.Storage;

/// <summary>Who takes SQLite's write lock, and for how long a store waits for it: another connection holds
/// <c>BEGIN IMMEDIATE</c> (as a process in the middle of a long batch does) while the store opens, reads and writes.</summary>
public sealed class WriteLockTests : IDisposable
{
    private readonly string directory = TestStore.NewDirectory();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task Open_ACurrentSchema_WhileAnotherWriterHoldsTheLock_OpensAndReadsWithoutWaiting()
    {
        var path = await CreateStoreAsync("current.db");
        using var writer = HoldWriteLock(path);
        var stopwatch = Stopwatch.StartNew();
        using var store = await AllocationStore.OpenAsync(path, new AllocationStoreOptions { BusyTimeout = Duration.Zero });
        var organizations = await store.ListOrganizationsAsync(Principal.System);
        stopwatch.Stop();
        Assert.Equal("Lab", Assert.Single(organizations).Name);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromMilliseconds(900), $"open and read took {stopwatch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Open_AnOlderSchema_WhileAnotherWriterHoldsTheLock_FailsAsBusy_AndUpgradesOnceReleased()
    {
        var path = Path.Combine(directory, "v1.db");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "TestData", "allocations.v1.sqlite3fixture"), path);
        Execute(path, "PRAGMA journal_mode = WAL");
        var options = new AllocationStoreOptions { BusyTimeout = Duration.FromMilliseconds(100) };
        using (HoldWriteLock(path))
        {
            var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => AllocationStore.OpenAsync(path, options));
            Assert.Contains("locked by another writer", ex.Reason, StringComparison.Ordinal);
            Assert.Equal(1L, Scalar(path, "PRAGMA user_version"));
        }
        using var store = await AllocationStore.OpenAsync(path, options);
        Assert.Equal(2, (await store.ListAllocationsAsync(Principal.User("fixture-admin"), new OrganizationId(1))).Count);
        Assert.Equal((long)Migrations.Latest, Scalar(path, "PRAGMA user_version"));
    }

    /// <summary>Several openers race the upgrade of one old file: the version is read again under the write lock, so
    /// each migration runs once and every opener ends on the latest schema with the data intact.</summary>
    [Fact]
    public async Task Open_SeveralOpenersRacingAnUpgrade_AllOpen_AndTheDataIsUpgradedOnce()
    {
        for (var round = 0; round < 5; round++)
        {
            var path = Path.Combine(directory, $"race-{round}.db");
            File.Copy(Path.Combine(AppContext.BaseDirectory, "TestData", "allocations.v1.sqlite3fixture"), path);
            Execute(path, "PRAGMA journal_mode = WAL");
            using var start = new Barrier(4);
            var opens = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                start.SignalAndWait();
                return AllocationStore.OpenAsync(path);
            })).ToList();
            var stores = await Task.WhenAll(opens);
            foreach (var store in stores)
            {
                var allocations = await store.ListAllocationsAsync(Principal.User("fixture-admin"), new OrganizationId(1));
                Assert.Equal(["Physics", "Physics/Alice"], allocations.Select(a => a.Name));
                Assert.True((await store.VerifyAsync(Principal.User("fixture-admin"), new OrganizationId(1))).IsClean);
                store.Dispose();
            }
            Assert.Equal((long)Migrations.Latest, Scalar(path, "PRAGMA user_version"));
        }
    }

    [Fact]
    public async Task Write_WithBusyTimeoutZero_WhileAnotherWriterHoldsTheLock_FailsAtOnce()
    {
        var elapsed = await TimeRefusedWriteAsync(Duration.Zero);
        Assert.True(elapsed < TimeSpan.FromMilliseconds(400), $"a zero busy timeout waited {elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task Write_WithBusyTimeout200ms_WhileAnotherWriterHoldsTheLock_FailsAfterAbout200ms()
    {
        var elapsed = await TimeRefusedWriteAsync(Duration.FromMilliseconds(200));
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(190), $"a 200 ms busy timeout gave up after {elapsed.TotalMilliseconds:F0} ms");
        Assert.True(elapsed < TimeSpan.FromMilliseconds(700), $"a 200 ms busy timeout waited {elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task Write_WhileTheStoreHoldsTheLock_KeepsOtherWritersOut()
    {
        var path = await CreateStoreAsync("held.db");
        using var store = await AllocationStore.OpenAsync(path);
        using var other = Connect(path);
        var outcome = await store.Engine.WriteAsync(_ =>
        {
            using (var timeout = other.CreateCommand())
            {
                timeout.CommandText = "PRAGMA busy_timeout = 0";
                timeout.ExecuteNonQuery();
            }
            // One statement per command: Microsoft.Data.Sqlite's ExecuteNonQuery drops the error of a later statement.
            using var command = other.CreateCommand();
            command.CommandText = "BEGIN IMMEDIATE";
            command.CommandTimeout = 1;
            var ex = Record.Exception(() => command.ExecuteNonQuery());
            return ex is SqliteException { SqliteErrorCode: 5 };
        }, CancellationToken.None);
        Assert.True(outcome, "another connection could take the write lock while the store's write transaction was open");
    }

    /// <summary>Times one write refused because another connection holds the write lock; the store has written
    /// before, so its connection and statements are warm and only the wait is measured.</summary>
    private async Task<TimeSpan> TimeRefusedWriteAsync(Duration busyTimeout)
    {
        var path = await CreateStoreAsync($"busy-{busyTimeout.TotalMilliseconds}.db");
        using var store = await AllocationStore.OpenAsync(path, new AllocationStoreOptions { BusyTimeout = busyTimeout });
        await store.AddOrganizationAdminAsync(TestStore.Admin, new OrganizationId(1), "warm-up");
        using var writer = HoldWriteLock(path);
        var stopwatch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.AddOrganizationAdminAsync(TestStore.Admin, new OrganizationId(1), "blocked"));
        stopwatch.Stop();
        Assert.Contains("locked by another writer", ex.Reason, StringComparison.Ordinal);
        writer.Dispose();
        Assert.DoesNotContain("blocked", await store.ListOrganizationAdminsAsync(TestStore.Admin, new OrganizationId(1)));
        return stopwatch.Elapsed;
    }

    private async Task<string> CreateStoreAsync(string name)
    {
        var path = Path.Combine(directory, name);
        using (var store = await AllocationStore.OpenAsync(path))
        {
            await store.CreateOrganizationAsync(Principal.System, "Lab", TestStore.Admin.Id);
        }
        return path;
    }

    /// <summary>A second connection inside <c>BEGIN IMMEDIATE</c>: it holds the write lock until disposed.</summary>
    private static SqliteConnection HoldWriteLock(string path)
    {
        var connection = Connect(path);
        using var command = connection.CreateCommand();
        command.CommandText = "BEGIN IMMEDIATE";
        command.ExecuteNonQuery();
        return connection;
    }

    private static SqliteConnection Connect(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        return connection;
    }

}
