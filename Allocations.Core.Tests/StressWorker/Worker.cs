using System.Globalization;
using Allocations.Domain;
using Allocations.Exceptions;
using NodaTime;

namespace Allocations.StressWorker;

/// <summary>A worker process for the reliability tests (not for users): races reservations from several threads
/// (<c>race</c>), records keyed batches until it is killed (<c>crash</c>), or makes keyed calls from many concurrent
/// callers, some of them failing, until it is killed (<c>group</c>). It writes
/// one line per acknowledged write to stdout, so the test can check the database against what was acknowledged.</summary>
/// <remarks>
/// Both modes take <c>--db FILE</c> (or a PostgreSQL connection string <c>Host=…</c>) <c>--org ID --actor USER --sku CODE</c> and address allocations by name: a parent
/// <c>P</c> and children <c>C0</c>, <c>C1</c>, … . Output lines (amounts in millionths):
/// <list type="bullet">
/// <item><c>hold ALLOC ID AMOUNT</c>, <c>release ALLOC ID AMOUNT</c>, <c>confirm ALLOC ID AMOUNT</c>, <c>refused</c>,
/// <c>shared KEY ALLOC ID AMOUNT</c>, <c>recorded KEY ALLOC ID AMOUNT DISPOSITION</c> (race);</item>
/// <item>race prints <c>ready</c> and waits for a line on stdin before it starts;</item>
/// <item>create (only <c>--db</c>) opens or creates the file and one organization: <c>open</c>, <c>created</c>;</item>
/// <item><c>open</c>, then <c>committed BATCH</c> after each batch returns (crash);</item>
/// <item><c>open</c>, then per call, once it has returned: <c>ack KEY</c> for a hold or a batch of three
/// (<see cref="GroupCall"/>), <c>refused KEY</c> for a hold that did not fit, <c>failed KEY</c> for a batch that
/// conflicted as it must; and every 25 calls <c>groups COMMITS CALLS</c>, the store's write groups so far (group);</item>
/// <item><c>busy MESSAGE</c> for <see cref="StoreUnavailableException"/>, <c>error TYPE MESSAGE</c> for anything
/// else (exit code 3).</item>
/// </list>
/// </remarks>
internal static class Worker
{
    /// <summary>The instant every generated event starts at.</summary>
    internal static readonly Instant EventStart = Instant.FromUtc(2026, 11, 16, 0, 0);

    private static readonly object OutputLock = new();

    internal static async Task<int> RunAsync(string[] args)
    {
        var mode = args.Length > 0 ? args[0] : "";
        var path = Required(args, "--db");
        if (mode == "create")
        {
            return await CreateAsync(path);
        }
        var org = new OrganizationId(long.Parse(Required(args, "--org"), CultureInfo.InvariantCulture));
        var actor = Principal.User(Required(args, "--actor"));
        var sku = new SkuCode(Required(args, "--sku"));
        var seed = int.Parse(Value(args, "--seed") ?? "1", CultureInfo.InvariantCulture);
        // Not durable unless asked (--durable): a killed worker process loses nothing either way; a crashed server
        // loses nothing only with durable writes.
        var options = new AllocationStoreOptions { DurableWrites = args.Contains("--durable") };
        if (Value(args, "--busy-ms") is { } busy)
        {
            options.BusyTimeout = Duration.FromMilliseconds(long.Parse(busy, CultureInfo.InvariantCulture));
        }
        try
        {
            using var store = await OpenAsync(path, options);
            var byName = (await store.ListAllocationsAsync(actor, org)).ToDictionary(a => a.Name, a => a.Id);
            return mode switch
            {
                "race" => await RaceAsync(store, actor, sku, byName, seed, Int(args, "--threads", 4), Int(args, "--ops", 100), Int(args, "--keys", 40)),
                "crash" => await CrashAsync(store, actor, sku, byName, seed, Int(args, "--batches", 60), Int(args, "--size", 25)),
                "group" => await GroupAsync(store, actor, sku, byName, seed, Int(args, "--callers", 8), Int(args, "--calls", 1000)),
                _ => throw new ArgumentException($"unknown mode '{mode}' (race, crash or group)"),
            };
        }
        catch (StoreUnavailableException ex)
        {
            Emit($"busy {ex.Message}");
            return 3;
        }
        catch (Exception ex)
        {
            Emit($"error {ex.GetType().Name} {ex.Message.ReplaceLineEndings(" ")}");
            return 3;
        }
    }

    /// <summary>The content of shared key <paramref name="key"/>: the same in every process, so submitting it twice
    /// must count once.</summary>
    internal static (string Allocation, long QuantityMicros) SharedContent(int key) => ($"C{key % 3}", (1 + (key % 7)) * 1_000_000L);

    /// <summary>The content of shared recording <paramref name="key"/>: a Confirmed charge both processes submit.</summary>
    internal static (string Allocation, long QuantityMicros) RecordedContent(int key) => (key % 4 == 3 ? "P" : $"C{key % 4}", (1 + (key % 5)) * 1_000_000L);

    /// <summary>The content of item <paramref name="item"/> of crash batch <paramref name="batch"/>.</summary>
    internal static (string Allocation, long QuantityMicros, string Key) CrashItem(int batch, int item) =>
        ((batch + item) % 4 == 3 ? "P" : $"C{(batch + item) % 4}", (1 + ((batch * 31) + (item * 7)) % 50) * 1_000_000L + item, $"crash-{batch}-{item}");

    private static async Task<int> RaceAsync(AllocationStore store, Principal actor, SkuCode sku, Dictionary<string, AllocationId> byName, int seed, int threads, int ops, int keys)
    {
        var names = byName.Keys.Order(StringComparer.Ordinal).ToArray();
        // Start together with the other worker: say ready, then wait for the test's "go" line.
        Emit("ready");
        await Console.In.ReadLineAsync();
        var failed = 0;
        var workers = Enumerable.Range(0, threads).Select(thread => Task.Run(async () =>
        {
            var random = new Random(seed * 1000 + thread);
            var holds = new List<(string Allocation, UsageEvent Event)>();
            for (var i = 0; i < ops; i++)
            {
                try
                {
                    var roll = random.Next(100);
                    if (roll < 45 || holds.Count == 0)
                    {
                        var name = names[random.Next(names.Length)];
                        var quantity = random.Next(1, 31) * 1_000_000L;
                        var result = await store.ReserveAsync(actor, Record(byName[name], sku, quantity, null));
                        if (result.Event is { } hold)
                        {
                            holds.Add((name, hold));
                            Emit($"hold {name} {hold.Id.Value} {hold.Amount.Micros}");
                        }
                        else
                        {
                            Emit("refused");
                        }
                    }
                    else if (roll < 60)
                    {
                        var key = random.Next(keys);
                        var (name, quantity) = SharedContent(key);
                        var result = await store.ReserveAsync(actor, Record(byName[name], sku, quantity, $"shared-{key}"));
                        Emit(result.Event is { } e ? $"shared {key} {name} {e.Id.Value} {e.Amount.Micros}" : "refused");
                    }
                    else if (roll < 72)
                    {
                        var key = random.Next(keys);
                        var (name, quantity) = RecordedContent(key);
                        var result = await store.RecordUsageAsync(actor, Confirmed(Record(byName[name], sku, quantity, $"recorded-{key}")));
                        Emit($"recorded {key} {name} {result.Event.Id.Value} {result.Event.Amount.Micros} {result.Disposition}");
                    }
                    else
                    {
                        var index = random.Next(holds.Count);
                        var (name, hold) = holds[index];
                        holds.RemoveAt(index);
                        if (roll < 88)
                        {
                            var released = await store.ReleaseAsync(actor, hold.Id);
                            Emit($"release {name} {released.Id.Value} {released.Amount.Micros}");
                        }
                        else
                        {
                            var confirmed = (await store.ConfirmAsync(actor, hold.Id)).Event;
                            Emit($"confirm {name} {confirmed.Id.Value} {confirmed.Amount.Micros}");
                        }
                    }
                }
                catch (StoreUnavailableException ex)
                {
                    Emit($"busy {ex.Message.ReplaceLineEndings(" ")}");
                    Interlocked.Increment(ref failed);
                }
                catch (Exception ex)
                {
                    Emit($"error {ex.GetType().Name} {ex.Message.ReplaceLineEndings(" ")}");
                    Interlocked.Increment(ref failed);
                    return;
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        return failed == 0 ? 0 : 3;
    }

    private static UsageRecord Confirmed(UsageRecord r) =>
        new(r.Allocation, r.Sku, r.Quantity, r.Start, r.End, UsageStatus.Confirmed, r.ExternalKey, r.Attributes);

    private static async Task<int> CrashAsync(AllocationStore store, Principal actor, SkuCode sku, Dictionary<string, AllocationId> byName, int seed, int batches, int size)
    {
        Emit("open");
        var order = Enumerable.Range(0, batches).ToArray();
        new Random(seed).Shuffle(order);
        foreach (var batch in order)
        {
            var records = Enumerable.Range(0, size).Select(item =>
            {
                var (name, quantity, key) = CrashItem(batch, item);
                return Confirmed(Record(byName[name], sku, quantity, key));
            }).ToList();
            await store.RecordBatchAsync(actor, records);
            Emit($"committed {batch}");
        }
        return 0;
    }

    /// <summary>The key group mode uses for the anchor, a Confirmed event of one unit on <c>C0</c> that the test records
    /// first: a poisoned batch conflicts with it.</summary>
    internal const string AnchorKey = "anchor";

    /// <summary>Call <paramref name="call"/> of caller <paramref name="caller"/> in group mode run
    /// <paramref name="seed"/>: a keyed hold (kind 0), a keyed batch of three Confirmed events (kind 1, keys KEY-0..2),
    /// or a poisoned batch (kind 2): a new event under KEY-0, then the anchor's key with other content, which must
    /// fail the batch and leave nothing of it.</summary>
    internal static (int Kind, string Key) GroupCall(int seed, int caller, int call) =>
        (((call * 7) + caller) % 10) switch
        {
            < 4 => (0, $"hold-{seed}-{caller}-{call}"),
            < 8 => (1, $"batch-{seed}-{caller}-{call}"),
            _ => (2, $"poison-{seed}-{caller}-{call}"),
        };

    /// <summary>Where item <paramref name="item"/> of a group-mode call goes and its quantity in whole units (the
    /// amount, at rate 1): a hold is item 0.</summary>
    internal static (string Allocation, int Units) GroupItem(int caller, int call, int item) =>
        (item == 2 ? "P" : $"C{(caller + item) % 3}", 1 + ((call + item + caller) % 5));

    private static async Task<int> GroupAsync(AllocationStore store, Principal actor, SkuCode sku, Dictionary<string, AllocationId> byName, int seed, int callers, int calls)
    {
        Emit("open");
        var done = 0;
        UsageRecord Item(int caller, int call, int item, string key, UsageStatus status)
        {
            var (name, units) = GroupItem(caller, call, item);
            return new UsageRecord(byName[name], sku, Quantity.FromMicros(units * 1_000_000L), EventStart, EventStart + Duration.FromHours(1), status, key);
        }
        var workers = Enumerable.Range(0, callers).Select(caller => Task.Run(async () =>
        {
            for (var call = 0; call < calls; call++)
            {
                var (kind, key) = GroupCall(seed, caller, call);
                switch (kind)
                {
                    case 0:
                        var hold = await store.ReserveAsync(actor, Item(caller, call, 0, key, UsageStatus.Estimated));
                        Emit(hold.Reserved ? $"ack {key}" : $"refused {key}");
                        break;
                    case 1:
                        await store.RecordBatchAsync(actor, [.. Enumerable.Range(0, 3).Select(item => Item(caller, call, item, $"{key}-{item}", UsageStatus.Confirmed))]);
                        Emit($"ack {key}");
                        break;
                    default:
                        try
                        {
                            await store.RecordBatchAsync(actor, [
                                Item(caller, call, 0, $"{key}-0", UsageStatus.Confirmed),
                                new UsageRecord(byName["C0"], sku, Quantity.FromMicros(2_000_000), EventStart, EventStart + Duration.FromHours(1), UsageStatus.Confirmed, AnchorKey),
                            ]);
                            Emit($"error the poisoned batch {key} was stored");
                        }
                        catch (ConflictException)
                        {
                            Emit($"failed {key}");
                        }
                        break;
                }
                if (Interlocked.Increment(ref done) % 25 == 0)
                {
                    var groups = ((Storage.SqliteStorageEngine)store.Engine).GroupStatistics;
                    Emit($"groups {groups.Commits} {groups.Calls}");
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        return 0;
    }

    /// <summary>Creates (or finds) a store with one organization, for kills during the very first open.</summary>
    private static async Task<int> CreateAsync(string path)
    {
        try
        {
            Emit("opening"); // the test times its kill from here, not from process start-up
            using var store = await OpenAsync(path, new AllocationStoreOptions { DurableWrites = false });
            Emit("open");
            try
            {
                await store.CreateOrganizationAsync(Principal.System, "Created", "creator");
            }
            catch (ConflictException)
            {
                // created by an earlier run
            }
            Emit("created");
            return 0;
        }
        catch (Exception ex)
        {
            Emit($"error {ex.GetType().Name} {ex.Message.ReplaceLineEndings(" ")}");
            return 3;
        }
    }

    /// <summary>Opens a file, or a PostgreSQL database when <paramref name="location"/> is a connection string.</summary>
    private static Task<AllocationStore> OpenAsync(string location, AllocationStoreOptions options) =>
        location.Contains("Host=", StringComparison.OrdinalIgnoreCase)
            ? AllocationStore.OpenPostgresAsync(location, options)
            : AllocationStore.OpenAsync(location, options);

    private static UsageRecord Record(AllocationId allocation, SkuCode sku, long quantityMicros, string? key) =>
        new(allocation, sku, Quantity.FromMicros(quantityMicros), EventStart, EventStart + Duration.FromHours(1), UsageStatus.Estimated, key);

    private static void Emit(string line)
    {
        lock (OutputLock)
        {
            Console.Out.WriteLine(line);
            Console.Out.Flush();
        }
    }

    private static string Required(string[] args, string name) =>
        Value(args, name) ?? throw new ArgumentException($"{name} is required");

    private static string? Value(string[] args, string name)
    {
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (string.Equals(args[i], name, StringComparison.Ordinal))
            {
                return args[i + 1];
            }
        }
        return null;
    }

    private static int Int(string[] args, string name, int fallback) =>
        Value(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;
}
