using Allocations.Access;
using Allocations.Alerts;
using Allocations.Domain;
using Allocations.Journal;
using Allocations.Recording;
using Allocations.Storage;
using NodaTime;

namespace Allocations;

/// <summary>One transaction of one call: who acts, when, the storage session, the journal and the access rule with
/// what it has already decided. Services receive it and never open a transaction of their own.</summary>
internal sealed class UnitOfWork
{
    private readonly IClock clock;
    private readonly CatalogueCache catalogue;
    private long? nowNs;
    private JournalWriter? journal;
    private AccessRule? access;

    internal UnitOfWork(IStorageSession session, Principal actor, IClock clock, CatalogueCache catalogue)
    {
        Session = session;
        Actor = actor;
        this.clock = clock;
        this.catalogue = catalogue;
    }

    internal IStorageSession Session { get; }

    internal Principal Actor { get; }

    internal CancellationToken CancellationToken => Session.CancellationToken;

    /// <summary>Gets the call's instant in the store's encoding: read from the clock once, when first needed (a clock
    /// outside the supported range is refused then, naming <c>Clock</c>).</summary>
    internal long NowNs => nowNs ??= InstantCodec.ToNs(clock.GetCurrentInstant(), "Clock");

    /// <summary>Gets the journal of the transaction, chained to each organization's head.</summary>
    internal JournalWriter Journal => journal ??= new JournalWriter(Session, Actor, NowNs) { Causes = Causes };

    /// <summary>Gets what moved each allocation's figures in this call, for the alerts it records.</summary>
    internal AlertCauses Causes { get; } = new();

    /// <summary>Gets the access rule for the actor, remembering its answers for the transaction.</summary>
    internal AccessRule Access => access ??= new AccessRule(Session, Actor);

    /// <summary>A usage writer for this transaction, sharing its access rule and the store's compiled catalogue.</summary>
    /// <param name="source">The key scope to record in: null for the actor's own, or the importer's.</param>
    internal UsageWriter Writer(string? source = null) => new(Session, Actor, NowNs, source) { Catalogue = catalogue, Access = Access, Causes = Causes };

    /// <summary>Begins a write call: forgets figure changes no call owns (a session shared by several calls).</summary>
    internal UnitOfWork BeginWrite()
    {
        _ = Session.TakeFigureChanges();
        return this;
    }

    /// <summary>Ends a write call's work, in its transaction: records the alerts of the thresholds it crossed.</summary>
    internal T EndWrite<T>(T result)
    {
        AlertService.Record(this);
        return result;
    }

    /// <summary>Locks allocations (each once, in ascending id order, as the contract asks) before their figures are
    /// read to be changed.</summary>
    internal ValueTask LockAsync(params ReadOnlySpan<long?> allocationIds) => Session.LockAllocationsAsync(Ordered(allocationIds), withParents: false);

    /// <summary>Locks allocations and their parents (which the engine finds), before their figures are read.</summary>
    internal ValueTask LockWithParentsAsync(params ReadOnlySpan<long?> allocationIds) => Session.LockAllocationsAsync(Ordered(allocationIds), withParents: true);

    /// <summary>Ends a write: the figures and totals it changed go into their history at the call's instant (the
    /// figures as of an instant read it), whatever the write was.</summary>
    internal void Finish()
    {
        if (Session.FiguresChanged)
        {
            Session.RecordFigureHistory(NowNs);
        }
    }

    private static long[] Ordered(ReadOnlySpan<long?> allocationIds)
    {
        var ids = new SortedSet<long>();
        foreach (var id in allocationIds)
        {
            if (id is { } value)
            {
                ids.Add(value);
            }
        }
        return [.. ids];
    }
}

/// <summary>Opens units of work on a store's engine: the one place a call's transaction, actor and clock meet.</summary>
internal sealed class Transactions(IStorageEngine engine, IClock clock, CatalogueCache catalogue)
{
    internal IStorageEngine Engine => engine;

    internal IClock Clock => clock;

    internal Task<T> Read<T>(Principal actor, Func<UnitOfWork, T> work, CancellationToken cancellationToken) =>
        engine.ReadAsync(session => ValueTask.FromResult(work(new UnitOfWork(session, actor, clock, catalogue))), cancellationToken).AsTask();

    internal Task<T> ReadAsync<T>(Principal actor, Func<UnitOfWork, ValueTask<T>> work, CancellationToken cancellationToken) =>
        engine.ReadAsync(session => work(new UnitOfWork(session, actor, clock, catalogue)), cancellationToken).AsTask();

    /// <summary>Runs a write call. Every write call ends by recording the alerts of the thresholds it crossed (see
    /// <see cref="AlertService.Record"/>), so no writer records them itself.</summary>
    internal Task<T> Write<T>(Principal actor, Func<UnitOfWork, T> work, CancellationToken cancellationToken) =>
        engine.WriteAsync(
            session =>
            {
                var uow = new UnitOfWork(session, actor, clock, catalogue).BeginWrite();
                var result = work(uow);
                uow.Finish();
                return ValueTask.FromResult(uow.EndWrite(result));
            },
            cancellationToken).AsTask();

    /// <summary>Runs a write call whose work awaits; see <see cref="Write"/>.</summary>
    internal Task<T> WriteAsync<T>(Principal actor, Func<UnitOfWork, ValueTask<T>> work, CancellationToken cancellationToken) =>
        engine.WriteAsync(
            async session =>
            {
                var uow = new UnitOfWork(session, actor, clock, catalogue).BeginWrite();
                var result = await work(uow).ConfigureAwait(false);
                uow.Finish();
                return uow.EndWrite(result);
            },
            cancellationToken).AsTask();
}
