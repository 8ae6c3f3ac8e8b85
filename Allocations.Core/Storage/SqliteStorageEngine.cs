using System.Buffers.Binary;
using System.Diagnostics;
using Allocations.Diagnostics;
using Allocations.Exceptions;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Allocations.Storage;

/// <summary>The SQLite engine: one database file (or one private in-memory database), WAL, foreign keys on,
/// writes serialized in-process by a gate and across processes by SQLite's write lock with a busy timeout.</summary>
/// <remarks>
/// Writes are group-committed: concurrent write calls queue at the <see cref="WriteGate"/>, and the caller that finds
/// no group running drains the calls waiting at that moment into one transaction, each in a savepoint of its own,
/// with one durable commit for all of them (see <see cref="RunWriteGroupAsync"/>). A call's outcome is its own: one
/// that fails is rolled back alone and its caller gets its error. Reads of a file store take their own connection
/// and snapshot and never wait at the gate.
/// </remarks>
internal sealed class SqliteStorageEngine : IStorageEngine
{
    /// <summary>The file's application id, "ALLC": marks a SQLite file as an Allocations database.</summary>
    internal const int ApplicationId = 0x414C4C43;

    internal const string MemoryPath = ":memory:";

    /// <summary>Taking the write lock faster than this is not worth a log line (it normally takes microseconds).</summary>
    private const double LockWaitLogMs = 10;

    /// <summary>At most this many calls share one write transaction and its commit.</summary>
    internal const int MaxCallsPerGroup = 64;

    /// <summary>Gets or sets how long the calls after a group's first may run before no further call joins it: the
    /// first caller's wait stays bounded. 20 ms; tests that must have every queued call in one group raise it.</summary>
    internal TimeSpan MaxGroupWork { get; set; } = TimeSpan.FromMilliseconds(20);

    private readonly string connectionString;
    private readonly WriteGate gate;
    private readonly SqliteConnection? memoryConnection;
    private readonly bool durableFull;
    private readonly int busyTimeoutMs;
    private bool disposed;
    // Set once the store is open (see AllocationStore.AttachHost): nothing on the way to creating the file touches the
    // logging assembly, so a first open reaches the disk as early as it did without logging.
    private ILogger? log;

    // File stores write through one long-lived connection with its compiled statements (see StatementCache); the
    // write gate serializes its use. An in-memory store has one connection for everything, gated likewise.
    private SqliteConnection? writeConnection;
    private StatementCache? statements;

    // Write groups so far (see GroupStatistics); written by the one leader at a time, read by anyone.
    private long groupCommits;
    private long groupCalls;
    private long groupLargest;
    private long groupCommitTicks;
    private long groupWorkTicks;

    private SqliteStorageEngine(string location, string connectionString, SqliteConnection? memoryConnection, bool durableFull, int busyTimeoutMs)
    {
        Location = location;
        this.connectionString = connectionString;
        this.memoryConnection = memoryConnection;
        this.durableFull = durableFull;
        this.busyTimeoutMs = busyTimeoutMs;
        gate = new WriteGate(RunGroupAsync);
    }

    public string Location { get; }

    /// <summary>Gets the schema migrations the open applied (committed), with how long each took, for the store to log.</summary>
    internal List<(int Version, long ElapsedMs)> AppliedMigrations { get; } = [];

    IReadOnlyList<(int Version, long ElapsedMs)> IStorageEngine.AppliedMigrations => AppliedMigrations;

    /// <summary>Gets or sets the page cache of each connection opened from now on, in KiB (SQLite's
    /// <c>cache_size</c>); the factory sets it right after the open.</summary>
    internal int PageCacheKiB { get; set; } = 2048;

    /// <summary>Sets where lock waits are logged.</summary>
    public ILogger Logger
    {
        set => log = value;
    }

    /// <summary>Opens (creating when missing) and upgrades a store. A file that is not an Allocations database, or
    /// comes from a newer schema, is refused before anything writes to it.</summary>
    internal static SqliteStorageEngine Open(string path, bool durableFull, int busyMs)
    {
        if (path == MemoryPath)
        {
            var memory = new SqliteConnection("Data Source=:memory:;Foreign Keys=True");
            memory.Open();
            var engine = new SqliteStorageEngine(MemoryPath, memory.ConnectionString, memory, durableFull, busyMs);
            engine.Initialize(memory);
            return engine;
        }

        string fullPath;
        try
        {
            fullPath = System.IO.Path.GetFullPath(path);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new InvalidInputException("path", path, "it is not a valid file path", ex);
        }
        InspectExistingFile(fullPath);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            ForeignKeys = true,
            Pooling = true,
            // Microsoft.Data.Sqlite's own retry of a busy statement, in whole seconds (0 would mean forever). The write
            // lock, where the busy timeout matters, is taken on the handle and so waits only SQLite's busy_timeout.
            DefaultTimeout = Math.Max(1, (int)((busyMs + 999L) / 1000)),
        };
        var fileEngine = new SqliteStorageEngine(fullPath, builder.ToString(), null, durableFull, busyMs);
        try
        {
            using var connection = fileEngine.OpenConnection();
            fileEngine.Initialize(connection);
        }
        catch (SqliteException ex)
        {
            SqliteConnection.ClearAllPools();
            throw Translate(fullPath, ex);
        }
        return fileEngine;
    }

    /// <summary>Reads the 100-byte SQLite header directly, so a foreign, damaged or newer file is refused without
    /// SQLite ever opening it for writing.</summary>
    private static void InspectExistingFile(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }
        // SQLite follows a symbolic link and keeps its -wal and -shm files beside the link's final target; the probe
        // looks there too. Messages keep naming the path the caller gave.
        var fullPath = RealPath(path);
        // Checked here because SQLite would open a read-only file for writing anyway when the process may override
        // its permissions (root), and would otherwise fail only at the first write.
        if ((File.GetAttributes(fullPath) & FileAttributes.ReadOnly) != 0)
        {
            throw new StoreUnavailableException(path, "the file is read-only (check its permissions); the store needs to write to it");
        }
        byte[] header = new byte[100];
        long length;
        try
        {
            using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            length = stream.Length;
            if (length == 0)
            {
                return;
            }
            stream.ReadExactly(header, 0, (int)Math.Min(100, length));
        }
        catch (IOException ex)
        {
            throw new StoreUnavailableException(path, "the file cannot be read", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new StoreUnavailableException(path, "the file cannot be read (permission denied)", ex);
        }

        if (length < 100 || !header.AsSpan(0, 16).SequenceEqual("SQLite format 3\0"u8))
        {
            throw new StoreUnavailableException(path, "it is not a SQLite database (the file header does not match)");
        }
        var pageSizeRaw = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(16, 2));
        long pageSize = pageSizeRaw == 1 ? 65536 : pageSizeRaw;
        var pageCount = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(28, 4));
        var changeCounter = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(24, 4));
        var validFor = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(92, 4));
        // With a write-ahead log beside it the header may be ahead of the file (a process killed while checkpointing
        // copies page 1 first); SQLite recovers that from the log, and reports real damage itself.
        if (changeCounter == validFor && pageCount > 0 && length < pageSize * pageCount && !HasWriteAheadLog(fullPath))
        {
            throw new StoreUnavailableException(path, $"the file is truncated ({length} bytes, the header says {pageSize * pageCount})");
        }
        var userVersion = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(60, 4));
        var applicationId = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(68, 4));
        if (applicationId != ApplicationId || HasWriteAheadLog(fullPath))
        {
            // The newest page 1 may still be in the log (a store open elsewhere, being created right now, or a process
            // that died before its first checkpoint): ask SQLite, read-only, for one consistent answer.
            (applicationId, userVersion, var tables) = ReadThroughSqlite(path, fullPath);
            if (applicationId == 0 && userVersion == 0 && tables == 0)
            {
                return; // an empty SQLite file, such as one left by an interrupted first open: ours to initialize
            }
        }
        if (applicationId != ApplicationId)
        {
            throw new StoreUnavailableException(path, $"it is a SQLite database of another application (application_id 0x{applicationId:X8})");
        }
        if (userVersion > Migrations.Latest)
        {
            throw new StoreUnavailableException(
                fullPath,
                $"its schema version {userVersion} is newer than this library's {Migrations.Latest}; upgrade the library");
        }
    }

    private static string RealPath(string path)
    {
        try
        {
            return File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path;
        }
        catch (IOException ex)
        {
            throw new StoreUnavailableException(path, "its symbolic link cannot be followed", ex);
        }
    }

    private static bool HasWriteAheadLog(string fullPath)
    {
        var wal = new FileInfo(fullPath + "-wal");
        return wal.Exists && wal.Length > 0;
    }

    /// <summary>Reads the application id, schema version and table count through SQLite, writing nothing to the
    /// database file.</summary>
    /// <remarks>A read-only connection is tried first. It cannot recover the write-ahead log a killed writer left
    /// (SQLite answers SQLITE_READONLY), so then a read-write connection that only reads is used, with the checkpoint
    /// SQLite would run when it closes turned off: recovery rebuilds only the log's index (the -shm file).</remarks>
    private static (int ApplicationId, int UserVersion, long Tables) ReadThroughSqlite(string path, string fullPath)
    {
        try
        {
            return Probe(fullPath, SqliteOpenMode.ReadOnly);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 8)
        {
            try
            {
                return Probe(fullPath, SqliteOpenMode.ReadWrite);
            }
            catch (SqliteException inner)
            {
                throw new StoreUnavailableException(path, "the file is damaged or not a database", inner);
            }
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException(path, "the file is damaged or not a database", ex);
        }
    }

    private static (int ApplicationId, int UserVersion, long Tables) Probe(string fullPath, SqliteOpenMode mode)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = fullPath, Mode = mode, Pooling = false };
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        if (mode != SqliteOpenMode.ReadOnly)
        {
            SQLitePCL.raw.sqlite3_db_config(connection.Handle, SQLitePCL.raw.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, out _);
        }
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), (SELECT COUNT(*) FROM sqlite_schema)";
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt32(0), reader.GetInt32(1), reader.GetInt64(2));
    }

    private void Initialize(SqliteConnection connection)
    {
        if (memoryConnection is null)
        {
            using var wal = connection.CreateCommand();
            wal.CommandText = "PRAGMA journal_mode=WAL";
            var mode = wal.ExecuteScalar() as string;
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new StoreUnavailableException(Location, $"write-ahead logging could not be enabled (journal_mode is '{mode}')");
            }
        }
        // A current schema needs no write lock: a store opens (and reads) while another process holds a long write.
        if (IsCurrent(connection))
        {
            return;
        }
        // Migrations may rebuild tables (SQLite's documented procedure: create, copy, drop, rename), which needs
        // foreign-key enforcement off for the transaction; the result is checked before it commits. Migrations.Apply
        // reads the version again under the write lock, so of two openers racing an upgrade the second finds it done.
        Pragma(connection, "PRAGMA foreign_keys = OFF");
        try
        {
            ExecuteOnHandle(connection, "BEGIN IMMEDIATE");
            try
            {
                Migrations.Apply(connection, null, Location, applied: AppliedMigrations);
                using (var check = connection.CreateCommand())
                {
                    check.CommandText = "PRAGMA foreign_key_check";
                    using var reader = check.ExecuteReader();
                    if (reader.Read())
                    {
                        throw new StoreUnavailableException(Location, $"the schema upgrade left a broken reference in table '{reader.GetString(0)}'");
                    }
                }
                ExecuteOnHandle(connection, "COMMIT");
            }
            catch
            {
                if (SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle) == 0)
                {
                    SQLitePCL.raw.sqlite3_exec(connection.Handle, "ROLLBACK");
                }
                throw;
            }
        }
        finally
        {
            Pragma(connection, "PRAGMA foreign_keys = ON");
        }
    }

    /// <summary>Whether the file already is an Allocations database at the latest schema version, read without a
    /// transaction of our own (a read takes no write lock).</summary>
    private static bool IsCurrent(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version)";
        using var reader = command.ExecuteReader();
        reader.Read();
        return reader.GetInt64(0) == ApplicationId && reader.GetInt64(1) == Migrations.Latest;
    }

    /// <summary>Runs a statement directly on SQLite's handle: only SQLite's own <c>busy_timeout</c> governs how long it
    /// waits for a lock. (Microsoft.Data.Sqlite retries a busy statement itself until its command timeout, which is in
    /// whole seconds, so through it no wait for the write lock could be shorter than a second.)</summary>
    private static void ExecuteOnHandle(SqliteConnection connection, string sql)
    {
        var rc = SQLitePCL.raw.sqlite3_exec(connection.Handle, sql);
        SqliteException.ThrowExceptionForRC(rc, connection.Handle);
    }

    /// <summary>A statement that takes the write lock and changes nothing: any UPDATE acquires SQLite's write lock
    /// before it looks at a row, and this one matches none.</summary>
    private const string TakeWriteLock = "UPDATE catalogue_version SET version = version WHERE 0";

    private static void Pragma(SqliteConnection connection, string pragma)
    {
        using var command = connection.CreateCommand();
        command.CommandText = pragma;
        command.ExecuteNonQuery();
    }

    private SqliteConnection OpenConnection()
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var pragmas = connection.CreateCommand();
        pragmas.CommandText = $"PRAGMA busy_timeout = {busyTimeoutMs}; PRAGMA synchronous = {(durableFull ? "FULL" : "NORMAL")}; PRAGMA cache_size = -{PageCacheKiB};";
        pragmas.ExecuteNonQuery();
        return connection;
    }

    public ValueTask<T> ReadAsync<T>(Func<IStorageSession, ValueTask<T>> work, CancellationToken cancellationToken) =>
        memoryConnection is null ? ReadFileAsync(work, cancellationToken) : GatedAsync(work, isRead: true, cancellationToken);

    public ValueTask<T> WriteAsync<T>(Func<IStorageSession, ValueTask<T>> work, CancellationToken cancellationToken) =>
        GatedAsync(work, isRead: false, cancellationToken);

    /// <summary>Gets what the write groups of this engine have done so far: commits, the calls they carried, time.</summary>
    internal WriteGroupStatistics GroupStatistics => new(
        Interlocked.Read(ref groupCommits),
        Interlocked.Read(ref groupCalls),
        Interlocked.Read(ref groupLargest),
        Stopwatch.GetElapsedTime(0, Interlocked.Read(ref groupCommitTicks)),
        Stopwatch.GetElapsedTime(0, Interlocked.Read(ref groupWorkTicks)));

    /// <summary>Gets how many calls wait at the write gate behind the group now running.</summary>
    internal int WaitingCalls => gate.Waiting;

    private async ValueTask<T> GatedAsync<T>(Func<IStorageSession, ValueTask<T>> work, bool isRead, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(disposed, this);
        var call = new GatedCall<T>(work, isRead, cancellationToken);
        await gate.EnterAsync(call).ConfigureAwait(false);
        return call.Result;
    }

    /// <summary>A read of a file store: its own pooled connection and snapshot, never behind the write gate.</summary>
    private async ValueTask<T> ReadFileAsync<T>(Func<IStorageSession, ValueTask<T>> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(disposed, this);
        List<Action>? committed;
        T result;
        try
        {
            using var connection = OpenConnection();
            using var transaction = connection.BeginTransaction(deferred: true);
            using var session = new SqliteSession(connection, transaction, cancellationToken);
            result = await work(session).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            transaction.Commit();
            committed = session.TakeCommitted();
        }
        catch (Exception ex) when (ex is SqliteException or OverflowException or StoredRowException)
        {
            throw TranslateFailure(ex, 0);
        }
        RunCommitted(committed);
        return result;
    }

    /// <summary>Runs one group of the gate, whose first call is <paramref name="first"/>: a read of an in-memory store
    /// alone, or writes, drained from the gate into one transaction (see the class remarks).</summary>
    /// <remarks>Every call taken is completed, whatever happens: a bug here must not leave a caller waiting.</remarks>
    private async ValueTask RunGroupAsync(GatedCall first)
    {
        var taken = new List<GatedCall> { first };
        try
        {
            if (first.IsRead)
            {
                await RunMemoryReadAsync(first).ConfigureAwait(false);
            }
            else
            {
                await RunWriteGroupAsync(first, taken).ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // any failure must reach every caller of the group, as theirs
        catch (Exception ex)
#pragma warning restore CA1031
        {
            foreach (var call in taken)
            {
                call.Fail(ex);
            }
        }
        finally
        {
            foreach (var call in taken)
            {
                call.Signal.TrySetResult(true);
            }
        }
    }

    private async ValueTask RunMemoryReadAsync(GatedCall call)
    {
        if (!CanStart(call))
        {
            return;
        }
        try
        {
            statements ??= new StatementCache(memoryConnection!);
            using var transaction = memoryConnection!.BeginTransaction(deferred: true);
            using var session = new SqliteSession(memoryConnection, transaction, call.CancellationToken) { Statements = statements };
            await call.RunAsync(session).ConfigureAwait(false);
            call.CancellationToken.ThrowIfCancellationRequested();
            transaction.Commit();
            call.Committed = session.TakeCommitted();
        }
#pragma warning disable CA1031 // the caller gets it, translated
        catch (Exception ex)
#pragma warning restore CA1031
        {
            call.Fail(TranslateFailure(ex, 0));
            return;
        }
        RunCommitted(call);
    }

    /// <summary>Whether a call taken from the gate may start: not when it was cancelled or the engine disposed
    /// while it waited (then it fails without running). Logs how long it waited for other callers' groups.</summary>
    private bool CanStart(GatedCall call)
    {
        if (call.CancellationToken.IsCancellationRequested)
        {
            call.Fail(new OperationCanceledException(call.CancellationToken));
            return false;
        }
        if (disposed)
        {
            call.Fail(new ObjectDisposedException(GetType().FullName));
            return false;
        }
        if (call.Waited && log is not null)
        {
            Log.WriteGateWait(log, (long)Stopwatch.GetElapsedTime(call.QueuedAt).TotalMilliseconds, Location);
        }
        return true;
    }

    /// <summary>One write group: one transaction, the first call run in it directly, every further call queued by
    /// then in a savepoint of its own, and one commit.</summary>
    /// <remarks>
    /// <para>The transaction starts deferred and takes the write lock at once on the handle, so the busy timeout is
    /// honoured to the millisecond (<c>BEGIN IMMEDIATE</c> through Microsoft.Data.Sqlite waits at least a second).
    /// When the lock cannot be had, only the first call fails; the calls behind it then wait for the lock themselves.</para>
    /// <para>A call that throws, or whose token is cancelled by the end of its work, is undone alone: the first call
    /// by rolling back the transaction (the group ends there; nothing else is in it yet), a later one by rolling back
    /// to its savepoint. It gets its own error; the others go on. After such a rollback the session forgets what it
    /// remembered of its own writes (the journal tail, admin answers), so the next call reads them afresh.</para>
    /// <para>More calls join while the group has fewer than <see cref="MaxCallsPerGroup"/> and the calls after the
    /// first have run for less than <see cref="MaxGroupWork"/> (so they delay the first caller's commit by about that
    /// at most), and only calls already waiting: a group never waits to fill up.</para>
    /// <para>Every caller of the group returns only after the commit is durable; when the commit (or SQLite, by
    /// rolling the transaction back on an I/O error) loses the group, every call of it fails with that error. What
    /// calls registered with <see cref="IStorageSession.OnCommitted"/> runs after the commit, in call order.</para>
    /// </remarks>
    private async ValueTask RunWriteGroupAsync(GatedCall first, List<GatedCall> taken)
    {
        if (!CanStart(first))
        {
            return;
        }
        SqliteConnection connection;
        SqliteTransaction? transaction = null;
        var lockStart = 0L;
        try
        {
            connection = memoryConnection ?? (writeConnection ??= OpenConnection());
            statements ??= new StatementCache(connection);
            lockStart = Stopwatch.GetTimestamp();
            transaction = connection.BeginTransaction(deferred: true);
            if (memoryConnection is null)
            {
                ExecuteOnHandle(connection, TakeWriteLock);
                if (log is not null && Stopwatch.GetElapsedTime(lockStart) is { TotalMilliseconds: >= LockWaitLogMs } waited)
                {
                    Log.WriteLockWait(log, (long)waited.TotalMilliseconds, Location);
                }
            }
        }
        catch (SqliteException ex)
        {
            transaction?.Dispose();
            first.Fail(TranslateFailure(ex, lockStart));
            DropWriteConnection(); // start the next write on a fresh connection, whatever state SQLite left
            return;
        }

        var members = new List<GatedCall>();
        using (transaction)
        using (var session = new SqliteSession(connection, transaction, first.CancellationToken) { Statements = statements })
        {
            var joinedSince = 0L;
            var call = first;
            var inSavepoint = false;
            while (call is not null)
            {
                var workStart = Stopwatch.GetTimestamp();
                var failure = await RunCallAsync(call, session, connection, inSavepoint).ConfigureAwait(false);
                Interlocked.Add(ref groupWorkTicks, Stopwatch.GetTimestamp() - workStart);
                if (failure is null)
                {
                    call.Committed = session.TakeCommitted();
                    members.Add(call);
                }
                else
                {
                    var error = TranslateFailure(failure, lockStart);
                    call.Fail(error);
                    if (!inSavepoint || !TryRollBackToSavepoint(connection))
                    {
                        // The first call, or a transaction SQLite has already rolled back (or cannot roll back to the
                        // savepoint): nothing of the group stays, and every call that ran in it fails with this error.
                        foreach (var member in members)
                        {
                            member.Fail(error);
                        }
                        RollBack(connection, transaction);
                        if (failure is SqliteException)
                        {
                            DropWriteConnection(); // start the next write on a fresh connection, whatever state SQLite left
                        }
                        return;
                    }
                    session.ForgetRolledBackCall();
                }
                if (!inSavepoint)
                {
                    inSavepoint = true;
                    joinedSince = Stopwatch.GetTimestamp();
                }
                call = taken.Count < MaxCallsPerGroup && Stopwatch.GetElapsedTime(joinedSince) < MaxGroupWork ? TakeNext(taken) : null;
            }

            if (members.Count == 0)
            {
                RollBack(connection, transaction);
                return;
            }
            var commitStart = Stopwatch.GetTimestamp();
            try
            {
                transaction.Commit();
            }
            catch (SqliteException ex)
            {
                var error = TranslateFailure(ex, lockStart);
                foreach (var member in members)
                {
                    member.Fail(error);
                }
                DropWriteConnection();
                return;
            }
            Interlocked.Add(ref groupCommitTicks, Stopwatch.GetTimestamp() - commitStart);
            Interlocked.Increment(ref groupCommits);
            Interlocked.Add(ref groupCalls, members.Count);
            if (members.Count > Interlocked.Read(ref groupLargest))
            {
                Interlocked.Exchange(ref groupLargest, members.Count);
            }
        }
        foreach (var member in members)
        {
            RunCommitted(member);
        }
    }

    /// <summary>Takes the next waiting write into the group (adding it to <paramref name="taken"/>), skipping any that
    /// may not start; null when none waits.</summary>
    private GatedCall? TakeNext(List<GatedCall> taken)
    {
        while (gate.TryTakeNextWrite() is { } next)
        {
            taken.Add(next);
            if (CanStart(next))
            {
                return next;
            }
        }
        return null;
    }

    /// <summary>Runs one call of a group, in a savepoint when it is not the first; returns what it failed with.</summary>
    private static async ValueTask<Exception?> RunCallAsync(GatedCall call, SqliteSession session, SqliteConnection connection, bool inSavepoint)
    {
        session.BeginCall(call.CancellationToken);
        try
        {
            if (inSavepoint)
            {
                ExecuteOnHandle(connection, "SAVEPOINT group_call");
            }
            await call.RunAsync(session).ConfigureAwait(false);
            call.CancellationToken.ThrowIfCancellationRequested();
            session.EndCall();
            if (inSavepoint)
            {
                ExecuteOnHandle(connection, "RELEASE group_call");
            }
            return null;
        }
#pragma warning disable CA1031 // the call's own error, for its caller alone
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ex;
        }
    }

    /// <summary>Undoes the failed call's savepoint; false when the transaction is gone (SQLite rolls a transaction
    /// back itself on some I/O errors) or the rollback failed.</summary>
    private static bool TryRollBackToSavepoint(SqliteConnection connection)
    {
        if (SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle) != 0)
        {
            return false;
        }
        return SQLitePCL.raw.sqlite3_exec(connection.Handle, "ROLLBACK TO group_call") == SQLitePCL.raw.SQLITE_OK
            && SQLitePCL.raw.sqlite3_exec(connection.Handle, "RELEASE group_call") == SQLitePCL.raw.SQLITE_OK;
    }

    private static void RollBack(SqliteConnection connection, SqliteTransaction transaction)
    {
        if (SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle) == 0)
        {
            try
            {
                transaction.Rollback();
            }
            catch (SqliteException)
            {
                // The connection is dropped by the caller, or the next group finds out.
            }
        }
    }

    /// <summary>Runs what a committed call registered with <see cref="IStorageSession.OnCommitted"/>.</summary>
    private static void RunCommitted(GatedCall call)
    {
        try
        {
            RunCommitted(call.Committed);
        }
#pragma warning disable CA1031 // a bug in a cache fill fails that call, not the callers after it
        catch (Exception ex)
#pragma warning restore CA1031
        {
            call.Fail(ex);
        }
        call.Committed = null;
    }

    private static void RunCommitted(List<Action>? actions)
    {
        if (actions is null)
        {
            return;
        }
        foreach (var action in actions)
        {
            action();
        }
    }

    /// <summary>What a unit of work failed with, as its caller gets it: no <see cref="SqliteException"/>, overflow or
    /// damaged-row error passes the engine.</summary>
    private Exception TranslateFailure(Exception ex, long lockStart)
    {
        switch (ex)
        {
            case SqliteException sqlite:
                if (sqlite.SqliteErrorCode is 5 or 6 && log is not null)
                {
                    Log.WriteLockTimeout(log, lockStart == 0 ? 0 : (long)Stopwatch.GetElapsedTime(lockStart).TotalMilliseconds, Location, busyTimeoutMs);
                }
                return Translate(Location, sqlite);
            case OverflowException:
                // Writes refuse what would overflow a figure or a report sum; only a file written before they did (or
                // edited behind the library's back) can hold such figures.
                return new StoreUnavailableException(Location, "a stored figure or usage sum is past the amount range (written before such writes were refused, or edited outside the library); delete or correct the events that caused it", ex);
            case StoredRowException stored:
                return new StoreUnavailableException(Location, stored.Message, stored);
            default:
                return ex;
        }
    }

    /// <summary>The storage boundary: no <see cref="SqliteException"/> passes it. Each message names what an operator
    /// must fix: the disk, the directory, the file, or another writer.</summary>
    internal static AllocationsException Translate(string location, SqliteException ex)
    {
        var directory = location == MemoryPath ? location : System.IO.Path.GetDirectoryName(location) ?? location;
        var name = System.IO.Path.GetFileName(location);
        return (ex.SqliteErrorCode, ex.SqliteExtendedErrorCode) switch
        {
            (5 or 6, _) => new StoreUnavailableException(location, "the database stayed locked by another writer past the busy timeout; try again", ex),
            (8, SqliteReadOnlyDirectory) or (14, SqliteCantOpenDirectory) or (8, SqliteReadOnlyCantInit) when !CanCreateIn(directory) =>
                new StoreUnavailableException(location, $"the directory '{directory}' is not writable: SQLite must create the files {name}-wal and {name}-shm beside the database; make the directory writable for this user", ex),
            (8, SqliteReadOnlyCantInit) => new StoreUnavailableException(location, $"the shared-memory file {name}-shm cannot be written (check its permissions, and the directory's)", ex),
            (8, _) => new StoreUnavailableException(location, "the database is read-only (check the file's permissions)", ex),
            (10, SqliteIoErrShmSize or SqliteIoErrShmMap) => new StoreUnavailableException(location, $"the shared-memory file {name}-shm could not grow: the disk (or the file system holding it) is full", ex),
            (10, SqliteIoErrWrite or SqliteIoErrFsync or SqliteIoErrTruncate) => new StoreUnavailableException(location, "writing to the disk failed: check that the disk is not full and has no I/O errors", ex),
            (10, _) => new StoreUnavailableException(location, $"an I/O error occurred reading or writing the database (SQLite extended code {ex.SqliteExtendedErrorCode}); check the disk", ex),
            (11 or 26, _) => new StoreUnavailableException(location, "the database file is damaged or not a database", ex),
            (13, _) => new StoreUnavailableException(location, "the disk is full", ex),
            (14, _) => new StoreUnavailableException(location, "the database file cannot be opened", ex),
            (19, _) => new ConflictException($"the change conflicts with stored data (SQLite constraint error {ex.SqliteExtendedErrorCode})", []),
            // What the file, the schema or the machine can cause: a table missing or changed (an edited file), no
            // permission, no memory, an interrupted or aborted statement, a blob too large, no large-file support.
            // SQLite's own text (table, column and index names, values) never reaches a caller: only the error codes.
            (1 or 3 or 4 or 7 or 9 or 15 or 17 or 18 or 22 or 23, _) =>
                new StoreUnavailableException(location, $"SQLite error {ex.SqliteErrorCode} (extended {ex.SqliteExtendedErrorCode})", ex),
            // Anything else no state of the file explains (SQLite's internal error, a misused handle, a datatype
            // mismatch, a bind index out of range, a code this library does not know): a bug of the library.
            _ => new InternalErrorException(location, $"SQLite error {ex.SqliteErrorCode} (extended {ex.SqliteExtendedErrorCode})", ex),
        };
    }

    // SQLite's extended result codes (sqlite.org/rescode.html).
    private const int SqliteReadOnlyCantInit = 8 | (5 << 8);
    private const int SqliteReadOnlyDirectory = 8 | (6 << 8);
    private const int SqliteCantOpenDirectory = 14 | (2 << 8);
    private const int SqliteIoErrWrite = 10 | (3 << 8);
    private const int SqliteIoErrFsync = 10 | (4 << 8);
    private const int SqliteIoErrTruncate = 10 | (6 << 8);
    private const int SqliteIoErrShmSize = 10 | (19 << 8);
    private const int SqliteIoErrShmMap = 10 | (21 << 8);

    /// <summary>Whether this process may create a file in <paramref name="directory"/>: tried with a uniquely named
    /// file that is deleted at once. Used only to word an error.</summary>
    private static bool CanCreateIn(string directory)
    {
        var probe = System.IO.Path.Combine(directory, $".allocations-probe-{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose))
            {
            }
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private void DropWriteConnection()
    {
        statements?.Dispose();
        statements = null;
        writeConnection?.Dispose();
        writeConnection = null;
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }
        disposed = true;
        DropWriteConnection();
        if (memoryConnection is not null)
        {
            memoryConnection.Dispose();
        }
        else
        {
            using var connection = new SqliteConnection(connectionString);
            SqliteConnection.ClearPool(connection);
        }
    }
}
