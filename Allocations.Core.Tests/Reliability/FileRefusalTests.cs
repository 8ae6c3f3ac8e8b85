using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;
using Xunit;
using static Allocations.Tests.Support.RawSqlite;

namespace Allocations.Tests.Reliability;

/// <summary>Files that are not (or no longer, or not yet) an Allocations database are refused with a clear message and
/// never modified; an older schema is upgraded on open.</summary>
public sealed class FileRefusalTests : IDisposable
{
    private readonly string directory = TestStore.NewDirectory();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            File.SetAttributes(file, FileAttributes.Normal);
        }
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task TruncatedToHalfItsPages_IsRefused_AndNotModified()
    {
        var path = await WriteValidStoreAsync("half.db");
        var length = new FileInfo(path).Length;
        Assert.True(length > 8192, "the store should span several pages");
        Truncate(path, length / 2);
        var ex = await AssertRefusedUnchangedAsync(path);
        Assert.Contains("truncated", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TruncatedInsideTheHeader_IsRefused_AndNotModified()
    {
        var path = await WriteValidStoreAsync("stub.db");
        Truncate(path, 60);
        var ex = await AssertRefusedUnchangedAsync(path);
        Assert.Contains("not a SQLite database", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RandomBytes_AreRefused_AndNotModified()
    {
        var path = Path.Combine(directory, "random.db");
        File.WriteAllBytes(path, Bytes(seed: 1, 16_384));
        var ex = await AssertRefusedUnchangedAsync(path);
        Assert.Contains("not a SQLite database", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidHeaderFollowedByRandomPages_IsRefused_AndNotModified()
    {
        var path = await WriteValidStoreAsync("garbled.db");
        var bytes = File.ReadAllBytes(path);
        Bytes(seed: 2, bytes.Length - 100).CopyTo(bytes, 100);
        File.WriteAllBytes(path, bytes);
        var ex = await AssertRefusedUnchangedAsync(path);
        Assert.Contains("damaged", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnotherApplicationsSqliteFile_IsRefused_AndNotModified()
    {
        var path = Path.Combine(directory, "other.db");
        Execute(path, "CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO contacts (name) VALUES ('Ada');");
        var ex = await AssertRefusedUnchangedAsync(path);
        Assert.Contains("another application", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnotherApplicationsFileInWalMode_StillOpenThere_IsRefused_AndNotModified()
    {
        var path = Path.Combine(directory, "other-wal.db");
        using var other = new SqliteConnection($"Data Source={path};Pooling=False");
        other.Open();
        using (var command = other.CreateCommand())
        {
            command.CommandText = "PRAGMA journal_mode = WAL; CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('hello');";
            command.ExecuteNonQuery();
        }
        var wal = File.ReadAllBytes(path + "-wal");
        Assert.NotEmpty(wal);
        var ex = await AssertRefusedUnchangedAsync(path);
        Assert.Contains("another application", ex.Reason, StringComparison.Ordinal);
        Assert.Equal(wal, File.ReadAllBytes(path + "-wal"));
    }

    [Fact]
    public async Task NewerSchemaOnlyInTheWal_IsRefused_AndNotModified()
    {
        var path = await WriteValidStoreAsync("newer-in-wal.db");
        using var newer = new SqliteConnection($"Data Source={path};Pooling=False");
        newer.Open();
        using (var command = newer.CreateCommand())
        {
            command.CommandText = $"PRAGMA journal_mode = WAL; PRAGMA user_version = {Migrations.Latest + 1}; CREATE TABLE future (x);";
            command.ExecuteNonQuery();
        }
        var wal = File.ReadAllBytes(path + "-wal");
        var ex = await AssertRefusedUnchangedAsync(path);
        Assert.Contains("is newer", ex.Reason, StringComparison.Ordinal);
        Assert.Equal(wal, File.ReadAllBytes(path + "-wal"));
    }

    [Fact]
    public async Task SqliteFileWithAForeignApplicationId_IsRefused_AndNotModified()
    {
        var path = Path.Combine(directory, "foreign-id.db");
        Execute(path, $"PRAGMA application_id = {0x47504B47}; PRAGMA user_version = 1; CREATE TABLE t (x);"); // GeoPackage's "GPKG"
        var ex = await AssertRefusedUnchangedAsync(path);
        Assert.Contains("0x47504B47", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DatabaseFromANewerSchema_IsRefused_AndNotModified()
    {
        var path = await WriteValidStoreAsync("newer.db");
        Execute(path, $"PRAGMA user_version = {Migrations.Latest + 1}");
        Assert.Equal(SqliteStorageEngine.ApplicationId, (int)Scalar(path, "PRAGMA application_id"));
        var ex = await AssertRefusedUnchangedAsync(path);
        Assert.Contains($"schema version {Migrations.Latest + 1} is newer", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadOnlyFile_IsRefusedWithAClearMessage_AndNotModified()
    {
        var path = await WriteValidStoreAsync("readonly.db");
        File.SetAttributes(path, FileAttributes.ReadOnly);
        var ex = await AssertRefusedUnchangedAsync(path);
        Assert.Contains("read-only", ex.Reason, StringComparison.Ordinal);
    }

    /// <summary>A host app creates the store and keeps it open; a second opener (a cron importer, a second store
    /// object) arrives before any checkpoint, when the schema, application id and version are still only in the WAL.</summary>
    [Fact]
    public async Task NewStoreStillOpenElsewhere_OpensAgain_BeforeAnyCheckpoint()
    {
        var path = Path.Combine(directory, "fresh.db");
        using var first = await AllocationStore.OpenAsync(path);
        using var pin = Pin(path);
        var org = await first.CreateOrganizationAsync(Principal.System, "Early", "boss");
        Assert.True(new FileInfo(path + "-wal").Length > 0, "the first store's writes should still be in the WAL");
        using var second = await AllocationStore.OpenAsync(path);
        await second.CreateAllocationAsync(Principal.User("boss"), org.Id, new NewAllocation("Seen", UnitCode.Usd, Amount.Zero));
        Assert.Single(await first.ListAllocationsAsync(Principal.User("boss"), org.Id));
    }

    /// <summary>The same with the creator killed before its first checkpoint: the file must open after the crash.</summary>
    [Fact]
    public async Task NewStoreCopiedBeforeAnyCheckpoint_OpensFromItsWal()
    {
        var path = Path.Combine(directory, "fresh.db");
        var copy = Path.Combine(directory, "crashed-fresh.db");
        using (var first = await AllocationStore.OpenAsync(path))
        using (Pin(path))
        {
            await first.CreateOrganizationAsync(Principal.System, "Early", "boss");
            File.Copy(path, copy);
            File.Copy(path + "-wal", copy + "-wal");
        }
        using var reopened = await AllocationStore.OpenAsync(copy);
        Assert.Single(await reopened.ListUnitsAsync(Principal.User("boss"), new OrganizationId(1)));
    }

    /// <summary>A process killed while checkpointing leaves the main file with page 1 (and its larger page count)
    /// already copied from the WAL but later pages not yet written; the WAL still holds everything, so SQLite recovers.
    /// Such a file must open with all its data, not be refused as truncated.</summary>
    [Fact]
    public async Task KilledMidCheckpoint_HeaderAheadOfTheFile_OpensFromTheWal()
    {
        var copy = Path.Combine(directory, "mid-checkpoint.db");
        await LeaveMidCheckpointAsync(copy);
        await AssertMidCheckpointCopyOpensAsync(copy);
    }

    /// <summary>The same file opened through a symbolic link: SQLite keeps the WAL beside the link's target, and the
    /// header probe must look for it there (not for <c>link-wal</c>), or it refuses the file as truncated.</summary>
    [Fact]
    public async Task KilledMidCheckpoint_OpenedThroughASymlink_OpensFromTheWalBesideTheTarget()
    {
        var copy = Path.Combine(directory, "mid-checkpoint.db");
        await LeaveMidCheckpointAsync(copy);
        var linkDirectory = Path.Combine(directory, "links");
        Directory.CreateDirectory(linkDirectory);
        var link = Path.Combine(linkDirectory, "store.db");
        File.CreateSymbolicLink(link, copy);
        Assert.False(File.Exists(link + "-wal"));
        await AssertMidCheckpointCopyOpensAsync(link);
    }

    /// <summary>Leaves at <paramref name="copy"/> what a process killed while checkpointing leaves: page 1 (with the
    /// larger page count) already copied from the WAL, later pages not yet written.</summary>
    private async Task LeaveMidCheckpointAsync(string copy)
    {
        var source = Path.Combine(directory, "live.db");
        await WriteFixtureAsync(source);
        Execute(source, "PRAGMA journal_mode = WAL");
        using (var store = await AllocationStore.OpenAsync(source))
        using (Pin(source))
        {
            var admin = Principal.User("fixture-admin");
            var parent = (await store.ListAllocationsAsync(admin, new OrganizationId(1)))[0];
            var records = Enumerable.Range(0, 300).Select(i => new UsageRecord(
                parent.Id, new SkuCode("CPU_HOUR"), Quantity.FromDecimal(1m), TestStore.November15, TestStore.November15 + Duration.FromMinutes(i), UsageStatus.Confirmed, $"grow-{i}")).ToList();
            await store.RecordBatchAsync(admin, records);
            // The pinned connection keeps the WAL from being checkpointed away: copy the pair as a crash leaves it.
            File.Copy(source, copy);
            File.Copy(source + "-wal", copy + "-wal");
        }
        SqliteConnection.ClearAllPools();
        var wal = File.ReadAllBytes(copy + "-wal");
        var pageSize = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(8, 4));
        var lastPageOne = -1;
        for (var frame = 32; frame + 24 + pageSize <= wal.Length; frame += 24 + pageSize)
        {
            if (System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(frame, 4)) == 1)
            {
                lastPageOne = frame + 24;
            }
        }
        Assert.True(lastPageOne > 0, "the WAL should hold page 1");
        var pageCount = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(lastPageOne + 28, 4));
        Assert.True(pageCount * pageSize > new FileInfo(copy).Length, "the WAL's database should be larger than the main file");
        using (var main = new FileStream(copy, FileMode.Open, FileAccess.Write))
        {
            main.Write(wal, lastPageOne, pageSize); // the checkpoint wrote page 1, then the process died
        }
    }

    private static async Task AssertMidCheckpointCopyOpensAsync(string copy)
    {
        using (var store = await AllocationStore.OpenAsync(copy))
        {
            var admin = Principal.User("fixture-admin");
            var org = new OrganizationId(1);
            var parent = (await store.ListAllocationsAsync(admin, org))[0];
            Assert.Equal(Amount.FromDecimal(30m) + Amount.FromDecimal(300 * 299 / 2m / 60m * 2m), parent.Used);
            Assert.True((await store.VerifyAsync(admin, org)).IsClean);
        }
    }

    [Fact]
    public async Task Version1Database_MadeByMigrationOne_UpgradesOnOpen_AndKeepsItsData()
    {
        var path = Path.Combine(directory, "v1.db");
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var transaction = connection.BeginTransaction();
            Migrations.Apply(connection, transaction, path, upTo: 1);
            transaction.Commit();
        }
        Assert.Equal(1L, Scalar(path, "PRAGMA user_version"));
        await AssertUpgradesAndWorksAsync(path, expectedAllocations: 0);
    }

    /// <summary>The checked-in fixture: a version-1 file with an organization, a parent, a child and events, written
    /// by the library at schema version 1 (TestData/allocations.v1.sqlite3fixture).</summary>
    [Fact]
    public async Task Version1Fixture_UpgradesOnOpen_AndKeepsItsFigures()
    {
        var path = Path.Combine(directory, "fixture.db");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "TestData", "allocations.v1.sqlite3fixture"), path);
        Assert.Equal(1L, Scalar(path, "PRAGMA user_version"));
        using (var store = await AllocationStore.OpenAsync(path))
        {
            var admin = Principal.User("fixture-admin");
            var org = new OrganizationId(1);
            var allocations = await store.ListAllocationsAsync(admin, org);
            Assert.Equal(["Physics", "Physics/Alice"], allocations.Select(a => a.Name));
            Assert.Equal(Amount.FromDecimal(1000m), allocations[0].Total);
            Assert.Equal(Amount.FromDecimal(30m), allocations[0].Used);
            Assert.Equal(Amount.FromDecimal(8m), allocations[0].Estimated);
            Assert.Equal(Amount.FromDecimal(8m), allocations[1].Estimated);
            Assert.True((await store.VerifyAsync(admin, org)).IsClean);
        }
        await AssertUpgradesAndWorksAsync(path, expectedAllocations: 2);
    }

    /// <summary>Regenerates the checked-in fixture; run by hand (with the env var set) only when it must change.</summary>
    [Fact]
    public async Task WriteVersion1Fixture_WhenAskedTo()
    {
        var target = Environment.GetEnvironmentVariable("ALLOCATIONS_WRITE_V1_FIXTURE");
        var path = Path.Combine(directory, "new-fixture.db");
        await WriteFixtureAsync(path);
        Assert.True((await Verify(path)).IsClean);
        if (!string.IsNullOrEmpty(target))
        {
            Assert.Equal(1, Migrations.Latest); // the fixture must be written at schema version 1
            File.Copy(path, target, overwrite: true);
        }
    }

    private static async Task<VerificationReport> Verify(string path)
    {
        using var store = await AllocationStore.OpenAsync(path);
        return await store.VerifyAsync(Principal.User("fixture-admin"), new OrganizationId(1));
    }

    private static async Task WriteFixtureAsync(string path)
    {
        var clock = new NodaTime.Testing.FakeClock(Instant.FromUtc(2026, 11, 20, 12, 0));
        using (var store = await AllocationStore.OpenAsync(path, new AllocationStoreOptions { Clock = clock }))
        {
            var admin = Principal.User("fixture-admin");
            var org = (await store.CreateOrganizationAsync(Principal.System, "Fixture Lab", admin.Id)).Id;
            var unit = new UnitCode("core-hours");
            var cpu = new SkuCode("CPU_HOUR");
            await store.CreateUnitAsync(admin, org, unit, 2);
            await store.CreateSkuAsync(admin, org, cpu, unit, RateBasis.PerHour);
            await store.AddRateRuleAsync(admin, org, cpu, TestStore.November1, TestStore.November15, Rate.FromDecimal(1m));
            await store.AddRateRuleAsync(admin, org, cpu, TestStore.November15, null, Rate.FromDecimal(2m));
            var parent = await store.CreateAllocationAsync(admin, org, new NewAllocation("Physics", unit, Amount.FromDecimal(1000m)));
            var child = await store.CreateAllocationAsync(admin, org, new NewAllocation("Physics/Alice", unit, Amount.FromDecimal(100m), parent.Id));
            var start = TestStore.November15 - Duration.FromHours(5);
            await store.RecordUsageAsync(admin, new UsageRecord(parent.Id, cpu, Quantity.FromDecimal(2m), start, start + Duration.FromHours(10), UsageStatus.Confirmed, "job-1"));
            await store.ReserveAsync(admin, new UsageRecord(child.Id, cpu, Quantity.FromDecimal(1m), TestStore.November15, TestStore.November15 + Duration.FromHours(4), externalKey: "job-2"));
            await store.ChangeTotalAsync(admin, parent.Id, Amount.FromDecimal(1000m), "fixture");
        }
        SqliteConnection.ClearAllPools();
        Execute(path, "PRAGMA journal_mode = DELETE"); // one self-contained file, no -wal beside it
    }

    private static async Task AssertUpgradesAndWorksAsync(string path, int expectedAllocations)
    {
        using (var store = await AllocationStore.OpenAsync(path))
        {
            var admin = Principal.User("fixture-admin");
            if (expectedAllocations == 0)
            {
                var org = await store.CreateOrganizationAsync(Principal.System, "After Upgrade", admin.Id);
                await store.CreateAllocationAsync(admin, org.Id, new NewAllocation("Works", UnitCode.Usd, Amount.FromDecimal(1m)));
                Assert.Single(await store.ListAllocationsAsync(admin, org.Id));
            }
            else
            {
                var org = new OrganizationId(1);
                var parent = (await store.ListAllocationsAsync(admin, org))[0];
                await store.ChangeTotalAsync(admin, parent.Id, Amount.FromDecimal(1200m), "after upgrade");
                Assert.Equal(expectedAllocations, (await store.ListAllocationsAsync(admin, org)).Count);
                Assert.True((await store.VerifyAsync(admin, org)).IsClean);
            }
        }
        SqliteConnection.ClearAllPools();
        Assert.Equal((long)Migrations.Latest, Scalar(path, "PRAGMA user_version"));
        Assert.Equal(SqliteStorageEngine.ApplicationId, (int)Scalar(path, "PRAGMA application_id"));
    }

    private async Task<string> WriteValidStoreAsync(string name)
    {
        var path = Path.Combine(directory, name);
        await WriteFixtureAsync(path);
        using (var store = await AllocationStore.OpenAsync(path))
        {
            var admin = Principal.User("fixture-admin");
            var org = new OrganizationId(1);
            var parent = (await store.ListAllocationsAsync(admin, org))[0];
            var records = Enumerable.Range(0, 200).Select(i => new UsageRecord(
                parent.Id, new SkuCode("CPU_HOUR"), Quantity.FromDecimal(1m), TestStore.November15, TestStore.November15 + Duration.FromMinutes(i), UsageStatus.Confirmed, $"bulk-{i}")).ToList();
            await store.RecordBatchAsync(admin, records);
        }
        SqliteConnection.ClearAllPools();
        Execute(path, "PRAGMA journal_mode = DELETE");
        return path;
    }

    /// <summary>Opening must throw <see cref="StoreUnavailableException"/> naming the file, and leave the file's bytes
    /// and the directory's contents exactly as they were.</summary>
    private async Task<StoreUnavailableException> AssertRefusedUnchangedAsync(string path)
    {
        SqliteConnection.ClearAllPools();
        var before = File.ReadAllBytes(path);
        var filesBefore = Directory.GetFiles(directory).Order().ToArray();
        var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => AllocationStore.OpenAsync(path));
        SqliteConnection.ClearAllPools();
        Assert.Equal(Path.GetFullPath(path), ex.Path);
        Assert.Contains(ex.Reason, ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(filesBefore, Directory.GetFiles(directory).Order().ToArray());
        return ex;
    }

    /// <summary>Holds a connection open on the file, so the WAL is not checkpointed and deleted when the last pooled
    /// connection closes (other tests clear the pools at any moment).</summary>
    private static SqliteConnection Pin(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_schema";
        command.ExecuteScalar();
        return connection;
    }

    private static void Truncate(string path, long length)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.SetLength(length);
    }

    private static byte[] Bytes(int seed, int count)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

}
