namespace Allocations.Storage;

/// <summary>The queue in front of an engine's one write connection: calls wait here in arrival order, and whichever
/// caller finds no one leading runs the calls queued at that moment as one group (see
/// <see cref="SqliteStorageEngine"/>), then hands the lead to the next waiting caller.</summary>
/// <remarks>
/// <para>Invariant: while the queue holds a call, exactly one caller leads (<see cref="leading"/>). A leader runs one
/// group (its own call first, then calls already queued, never waiting for more), completes the members, and then
/// either promotes the oldest waiting call to lead the next group or, with the queue empty, stops leading. So no
/// thread runs other callers' groups forever, and the next group's work runs on its own caller's flow.</para>
/// <para>A call cancelled while it waits is marked and skipped: it never runs, and its caller gets
/// <see cref="OperationCanceledException"/>. Once taken into a group it completes or fails as one unit.</para>
/// <para>Thread-safe: every change of the queue and of a call's <see cref="GatedCall.State"/> is made under one lock.</para>
/// </remarks>
internal sealed class WriteGate
{
    private readonly Lock sync = new();
    private readonly Queue<GatedCall> queue = new();
    private readonly Func<GatedCall, ValueTask> runGroup;
    private bool leading;

    /// <summary>Creates a gate.</summary>
    /// <param name="runGroup">Runs one group whose first call is given (already taken); it takes further calls with
    /// <see cref="TryTakeNextWrite"/> and completes every call it took.</param>
    internal WriteGate(Func<GatedCall, ValueTask> runGroup)
    {
        this.runGroup = runGroup;
    }

    /// <summary>Gets how many calls wait in the queue (cancelled ones not yet skipped included).</summary>
    internal int Waiting
    {
        get
        {
            lock (sync)
            {
                return queue.Count;
            }
        }
    }

    /// <summary>Queues <paramref name="call"/> and returns once it has run (in some group) or was cancelled; the
    /// call's outcome is then in the call.</summary>
    internal async ValueTask EnterAsync(GatedCall call)
    {
        bool lead;
        lock (sync)
        {
            queue.Enqueue(call);
            lead = !leading;
            leading = true;
            if (lead)
            {
                call.State = GatedCallState.Promoted;
            }
        }
        if (!lead)
        {
            call.Waited = true;
            call.Gate = this;
            using var registration = call.CancellationToken.CanBeCanceled
                ? call.CancellationToken.UnsafeRegister(static state => ((GatedCall)state!).Gate!.Cancel((GatedCall)state!), call)
                : default;
            if (await call.Signal.Task.ConfigureAwait(false))
            {
                return; // it ran in another caller's group, or was cancelled
            }
        }
        await LeadAsync().ConfigureAwait(false);
    }

    /// <summary>Takes the next queued call for the running group if it is a write; null when the queue holds none
    /// (cancelled calls are skipped) or its head is a read, which runs on its own.</summary>
    internal GatedCall? TryTakeNextWrite()
    {
        lock (sync)
        {
            while (queue.TryPeek(out var next))
            {
                if (next.State == GatedCallState.Cancelled)
                {
                    queue.Dequeue();
                    continue;
                }
                if (next.IsRead)
                {
                    return null;
                }
                queue.Dequeue();
                next.State = GatedCallState.Taken;
                return next;
            }
            return null;
        }
    }

    /// <summary>Runs the group led by the call at the head of the queue (promoted), then passes the lead on.</summary>
    private async ValueTask LeadAsync()
    {
        GatedCall first;
        lock (sync)
        {
            first = queue.Dequeue();
            first.State = GatedCallState.Taken;
        }
        try
        {
            await runGroup(first).ConfigureAwait(false);
        }
        finally
        {
            PassTheLead();
        }
    }

    private void PassTheLead()
    {
        GatedCall? next = null;
        lock (sync)
        {
            while (queue.TryPeek(out var head) && head.State == GatedCallState.Cancelled)
            {
                queue.Dequeue();
            }
            if (queue.TryPeek(out var waiting))
            {
                waiting.State = GatedCallState.Promoted;
                next = waiting;
            }
            else
            {
                leading = false;
            }
        }
        next?.Signal.TrySetResult(false);
    }

    private void Cancel(GatedCall call)
    {
        lock (sync)
        {
            if (call.State != GatedCallState.Queued)
            {
                return;
            }
            call.State = GatedCallState.Cancelled;
        }
        call.Fail(new OperationCanceledException(call.CancellationToken));
        call.Signal.TrySetResult(true);
    }
}

/// <summary>Where a call stands in the gate.</summary>
internal enum GatedCallState
{
    /// <summary>Waiting in the queue.</summary>
    Queued,

    /// <summary>At the head of the queue and told to lead the next group.</summary>
    Promoted,

    /// <summary>Taken into a group: it runs, then completes or fails.</summary>
    Taken,

    /// <summary>Cancelled while waiting; it never runs.</summary>
    Cancelled,
}

/// <summary>One unit of work waiting for, or running in, the gate.</summary>
internal abstract class GatedCall
{
    private readonly ExecutionContext? context;

    protected GatedCall(bool isRead, CancellationToken cancellationToken)
    {
        IsRead = isRead;
        CancellationToken = cancellationToken;
        context = ExecutionContext.Capture();
        QueuedAt = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    /// <summary>Gets whether this is a read (on an in-memory store, where reads share the one connection): it runs
    /// alone, never in a group of writes.</summary>
    internal bool IsRead { get; }

    internal CancellationToken CancellationToken { get; }

    /// <summary>Gets when the call was queued (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    internal long QueuedAt { get; }

    /// <summary>Gets or sets whether the call had to wait for another caller's group before it ran.</summary>
    internal bool Waited { get; set; }

    internal GatedCallState State { get; set; }

    internal WriteGate? Gate { get; set; }

    /// <summary>Gets the signal a waiting caller awaits: true once the call has completed or failed, false when it
    /// is to lead the next group.</summary>
    internal TaskCompletionSource<bool> Signal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets the error the call failed with; null while it has not failed.</summary>
    internal Exception? Error { get; private set; }

    /// <summary>Gets the actions the call registered to run once its transaction has committed.</summary>
    internal List<Action>? Committed { get; set; }

    /// <summary>Runs the work on <paramref name="session"/> in the caller's execution context (so activities and
    /// logging scopes of the caller apply, whichever thread leads the group), keeping its result.</summary>
    internal ValueTask RunAsync(IStorageSession session)
    {
        if (context is null || ReferenceEquals(context, ExecutionContext.Capture()))
        {
            return InvokeAsync(session);
        }
        ValueTask pending = default;
        ExecutionContext.Run(context, _ => pending = InvokeAsync(session), null);
        return pending;
    }

    /// <summary>Records that the call failed; its caller gets <paramref name="error"/>.</summary>
    internal void Fail(Exception error) => Error ??= error;

    protected abstract ValueTask InvokeAsync(IStorageSession session);
}

/// <summary>A gated call that returns a value.</summary>
/// <typeparam name="T">The work's result.</typeparam>
internal sealed class GatedCall<T> : GatedCall
{
    private readonly Func<IStorageSession, ValueTask<T>> work;
    private T? result;

    internal GatedCall(Func<IStorageSession, ValueTask<T>> work, bool isRead, CancellationToken cancellationToken)
        : base(isRead, cancellationToken)
    {
        this.work = work;
    }

    /// <summary>Gets the result, or throws the call's error.</summary>
    internal T Result
    {
        get
        {
            if (Error is { } error)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
            }
            return result!;
        }
    }

    protected override ValueTask InvokeAsync(IStorageSession session)
    {
        var pending = work(session);
        if (pending.IsCompletedSuccessfully)
        {
            result = pending.Result;
            return ValueTask.CompletedTask;
        }
        return AwaitAsync(pending);
    }

    private async ValueTask AwaitAsync(ValueTask<T> pending) => result = await pending.ConfigureAwait(false);
}

/// <summary>What an engine's write groups have done since it opened.</summary>
/// <param name="Commits">Write transactions committed.</param>
/// <param name="Calls">Write calls those commits carried (failed calls not counted).</param>
/// <param name="LargestGroup">The most calls one commit carried.</param>
/// <param name="CommitTime">Time spent in the commits (for a durable store, mostly the flush to disk).</param>
/// <param name="WorkTime">Time spent running the calls' work, successful or not.</param>
internal readonly record struct WriteGroupStatistics(long Commits, long Calls, long LargestGroup, TimeSpan CommitTime, TimeSpan WorkTime)
{
    /// <summary>Gets the mean calls per commit; 0 before the first commit.</summary>
    internal double CallsPerCommit => Commits == 0 ? 0 : (double)Calls / Commits;
}
