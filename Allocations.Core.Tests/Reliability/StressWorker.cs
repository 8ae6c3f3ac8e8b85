using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using Allocations.Domain;
using Allocations.Tests.Support;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace Allocations.Tests.Reliability;

/// <summary>Runs the test-only worker program (StressWorker/) in another OS process and collects its output lines.</summary>
internal sealed class StressWorker : IDisposable
{
    internal static readonly Principal Admin = Principal.User("stress-admin");
    internal static readonly SkuCode Sku = new("TOKENS");
    private readonly Process process;
    private readonly BlockingCollection<string> lines = new();
    private readonly List<string> all = [];
    private readonly StringWriter errors = new();

    private StressWorker(Process process)
    {
        this.process = process;
    }

    internal IReadOnlyList<string> Lines
    {
        get
        {
            while (lines.TryTake(out var line))
            {
                all.Add(line);
            }
            return all;
        }
    }

    internal string Errors => errors.ToString();

    /// <summary>The built worker assembly: its path is stamped into this assembly at build time.</summary>
    internal static string WorkerAssembly()
    {
        var stamped = typeof(StressWorker).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "StressWorkerAssembly").Value!;
        var path = Path.GetFullPath(stamped);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"the stress worker is not built at {path}; build the test project first", path);
        }
        return path;
    }

    internal static StressWorker Start(string database, OrganizationId org, string mode, params string[] options)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var info = new ProcessStartInfo(dotnet)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var common = mode == "create"
            ? new[] { WorkerAssembly(), mode, "--db", database }
            : [WorkerAssembly(), mode, "--db", database, "--org", org.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), "--actor", Admin.Id, "--sku", Sku.Value];
        foreach (var arg in common.Concat(options))
        {
            info.ArgumentList.Add(arg);
        }
        var process = new Process { StartInfo = info };
        var worker = new StressWorker(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                worker.lines.Add(line);
            }
            else
            {
                worker.lines.CompleteAdding();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lock (worker.errors)
                {
                    worker.errors.WriteLine(line);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return worker;
    }

    /// <summary>Waits for a line starting with <paramref name="prefix"/>; false when the process ended first.</summary>
    internal bool WaitForLine(string prefix, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (!lines.TryTake(out var line, 100))
            {
                if (lines.IsCompleted)
                {
                    return false;
                }
                continue;
            }
            all.Add(line);
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Sends SIGKILL (on Unix, <see cref="Process.Kill()"/> is SIGKILL) and waits until the process is gone.</summary>
    internal void KillHard()
    {
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // It already exited.
        }
        process.WaitForExit();
    }

    /// <summary>Releases a race worker that printed <c>ready</c>.</summary>
    internal void Go()
    {
        process.StandardInput.WriteLine("go");
        process.StandardInput.Flush();
    }

    internal int WaitForExit(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout))
        {
            KillHard();
            throw new TimeoutException($"the stress worker did not finish within {timeout}; output so far:\n{string.Join('\n', Lines.TakeLast(20))}");
        }
        process.WaitForExit(); // drains the output
        return process.ExitCode;
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            KillHard();
        }
        process.Dispose();
    }

    /// <summary>Whether a worker's <c>--db</c> is a PostgreSQL connection string rather than a file.</summary>
    internal static bool IsServer(string location) => location.Contains("Host=", StringComparison.OrdinalIgnoreCase);

    /// <summary>Opens the file, or the PostgreSQL database of a connection string.</summary>
    internal static Task<AllocationStore> OpenAsync(string location, AllocationStoreOptions? options = null) =>
        IsServer(location) ? AllocationStore.OpenPostgresAsync(location, options) : AllocationStore.OpenAsync(location, options);

    /// <summary>The external keys of every stored event, read behind the library's back.</summary>
    internal static List<string> ExternalKeys(string location)
    {
        var keys = new List<string>();
        if (IsServer(location))
        {
            using var pg = new Npgsql.NpgsqlConnection(location);
            pg.Open();
            using var pgCommand = new Npgsql.NpgsqlCommand("SELECT external_key FROM usage_events WHERE external_key IS NOT NULL", pg);
            using var pgReader = pgCommand.ExecuteReader();
            while (pgReader.Read())
            {
                keys.Add(pgReader.GetString(0));
            }
            return keys;
        }
        using (var connection = new SqliteConnection($"Data Source={location};Mode=ReadOnly;Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT external_key FROM usage_events WHERE external_key IS NOT NULL";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                keys.Add(reader.GetString(0));
            }
        }
        SqliteConnection.ClearAllPools();
        return keys;
    }

    /// <summary>Creates a store (a file, or a PostgreSQL database) with a parent <c>P</c> and children <c>C0..</c>, a
    /// PerUnit SKU at rate 1 (an event's amount is its quantity), and returns the organization.</summary>
    internal static async Task<OrganizationId> CreateDatabaseAsync(string path, long parentTotal, long[] childTotals)
    {
        using (var store = await OpenAsync(path))
        {
            var org = (await store.CreateOrganizationAsync(Principal.System, "Stress", Admin.Id)).Id;
            var unit = new UnitCode("tokens");
            await store.CreateUnitAsync(Admin, org, unit, 0);
            await store.CreateSkuAsync(Admin, org, Sku, unit, RateBasis.PerUnit);
            await store.AddRateRuleAsync(Admin, org, Sku, TestStore.November1, null, Rate.FromDecimal(1m));
            var parent = await store.CreateAllocationAsync(Admin, org, new NewAllocation("P", unit, Amount.FromMicros(parentTotal)));
            for (var i = 0; i < childTotals.Length; i++)
            {
                await store.CreateAllocationAsync(Admin, org, new NewAllocation($"C{i}", unit, Amount.FromMicros(childTotals[i]), parent.Id));
            }
            SqliteConnection.ClearAllPools();
            return org;
        }
    }
}
