using System.Diagnostics;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Storage;
using Allocations.Tests.Reliability;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Allocations.Tests.Storage;

/// <summary>SQLite's errors become messages that send an operator to what is really wrong.</summary>
public sealed class ErrorTranslationTests
{
    /// <summary>SQLite's own result codes (sqlite.org/rescode.html), as SqliteException carries them.</summary>
    [Theory]
    [InlineData(10, 10 | (19 << 8), "-shm could not grow: the disk")] // SQLITE_IOERR_SHMSIZE
    [InlineData(10, 10 | (21 << 8), "-shm could not grow: the disk")] // SQLITE_IOERR_SHMMAP
    [InlineData(13, 13, "the disk is full")] // SQLITE_FULL
    [InlineData(10, 10 | (3 << 8), "disk is not full")] // SQLITE_IOERR_WRITE
    [InlineData(11, 11, "damaged")] // SQLITE_CORRUPT
    public void Translate_NamesWhatIsWrong(int code, int extended, string expected)
    {
        var path = Path.Combine(TestStore.NewDirectory(), "a.db");
        var ex = Assert.IsType<StoreUnavailableException>(SqliteStorageEngine.Translate(path, new SqliteException("native message", code, extended)));
        Assert.Contains(expected, ex.Reason, StringComparison.Ordinal);
        if (code == 10 && extended != (10 | (3 << 8)))
        {
            Assert.DoesNotContain("damaged", ex.Reason, StringComparison.Ordinal);
        }
    }

    /// <summary>A writable store in a directory its user may not write: SQLite cannot create the -wal and -shm files
    /// beside it. Root ignores directory permissions, so the store is opened by the sample tool in a child process
    /// running as the unprivileged user <c>nobody</c> (when the tests run as root) or as the test's own user.</summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Open_AWritableFileInAReadOnlyDirectory_SaysTheDirectoryIsNotWritable_NamingIt()
    {
        var directory = Path.Combine(TestStore.NewDirectory(), "locked");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "store.db");
        using (var store = await AllocationStore.OpenAsync(path))
        {
            await store.CreateOrganizationAsync(Principal.System, "Lab", "boss");
        }
        SqliteConnection.ClearAllPools();
        Assert.False(File.Exists(path + "-wal"), "a cleanly closed store leaves no -wal behind");
        var before = File.ReadAllBytes(path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        try
        {
            var (exit, output) = RunSampleDemo(path);
            Assert.NotEqual(0, exit);
            Assert.Contains($"the directory '{directory}' is not writable", output, StringComparison.Ordinal);
            Assert.Contains("store.db-wal", output, StringComparison.Ordinal);
            Assert.DoesNotContain("check the file's permissions", output, StringComparison.Ordinal);
            Assert.Equal(before, File.ReadAllBytes(path));
        }
        finally
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static (int Exit, string Output) RunSampleDemo(string path)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var asRoot = Environment.UserName == "root";
        var info = new ProcessStartInfo(asRoot ? "setpriv" : dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        if (asRoot)
        {
            foreach (var arg in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", dotnet })
            {
                info.ArgumentList.Add(arg);
            }
            info.Environment["HOME"] = Path.GetTempPath();
            info.Environment["DOTNET_CLI_HOME"] = Path.GetTempPath();
        }
        foreach (var arg in new[] { Allocations.Tests.Tool.ToolProcess.ToolAssembly(), "demo", "--db", path })
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "the sample did not finish");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
