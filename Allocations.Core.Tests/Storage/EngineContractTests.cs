using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>The rules of the engine contract that callers rely on, held by the SQLite engine.</summary>
public sealed class EngineContractTests
{
    [Theory]
    [InlineData(2, 2)] // SQLITE_INTERNAL
    [InlineData(20, 20)] // SQLITE_MISMATCH
    [InlineData(21, 21)] // SQLITE_MISUSE
    [InlineData(25, 25)] // SQLITE_RANGE
    [InlineData(99, 99)] // a code this library does not know
    public void Translate_AnErrorNoStateOfTheFileExplains_IsAnInternalError_WithoutSqlitesText(int code, int extended)
    {
        var ex = Assert.IsType<InternalErrorException>(SqliteStorageEngine.Translate("x.db", new SqliteException("bad parameter or other API misuse: usage_events", code, extended)));
        Assert.Equal("x.db", ex.Location);
        Assert.Contains($"SQLite error {code}", ex.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("usage_events", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("misuse", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)] // SQLITE_ERROR: a table missing or changed in an edited file
    [InlineData(7)] // SQLITE_NOMEM
    [InlineData(17)] // SQLITE_SCHEMA
    public void Translate_AnErrorTheStoreOrTheMachineExplains_IsStoreUnavailable(int code)
    {
        Assert.IsType<StoreUnavailableException>(SqliteStorageEngine.Translate("x.db", new SqliteException("native", code, code)));
    }

    [Fact]
    public async Task LockAllocations_OutOfIdOrder_IsAnInternalError_AndRollsBack()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 10m);
        var b = await t.CreateAllocationAsync("B", 10m);
        var before = t.ContentHash();

        var ex = await Assert.ThrowsAsync<InternalErrorException>(() => t.Store.Engine.WriteAsync(
            async session =>
            {
                session.SetTotal(a.Id.Value, 0);
                await session.LockAllocationsAsync([b.Id.Value, a.Id.Value]);
                return 0;
            },
            CancellationToken.None).AsTask());

        Assert.Contains("ascending id order", ex.Detail, StringComparison.Ordinal);
        Assert.Equal(before, t.ContentHash());
        Assert.Equal(Amount.FromDecimal(10m), (await t.Store.GetAllocationAsync(TestStore.Admin, a.Id)).Total);
    }

    [Fact]
    public async Task LockAllocations_InAscendingOrder_LetsTheTransactionCommit()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 10m);
        var b = await t.CreateAllocationAsync("B", 10m);

        await t.Store.Engine.WriteAsync(
            async session =>
            {
                await session.LockAllocationsAsync([a.Id.Value, b.Id.Value]);
                await session.LockImporterAsync(t.Organization.Value, "slurm", "cluster");
                session.SetTotal(b.Id.Value, 3_000_000);
                return 0;
            },
            CancellationToken.None);

        Assert.Equal(Amount.FromDecimal(3m), (await t.Store.GetAllocationAsync(TestStore.Admin, b.Id)).Total);
    }

    [Fact]
    public async Task Factory_OpensTheStoreAFacadeCreated_AndReadsIt()
    {
        using var t = await TestStore.CreateAsync();
        var a = await t.CreateAllocationAsync("A", 10m);
        var path = t.Path;
        using var engine = await SqliteStorageEngineFactory.Instance.OpenAsync(new StorageSettings(path, DurableWrites: true, BusyTimeoutMs: 1000), CancellationToken.None);

        var name = await engine.ReadAsync(session => session.GetAllocation(a.Id.Value)?.Name, CancellationToken.None);

        Assert.Equal("A", name);
        Assert.Equal(path, engine.Location);
    }
}
