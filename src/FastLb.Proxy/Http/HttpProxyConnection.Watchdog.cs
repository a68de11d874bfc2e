using System.IO.Pipelines;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    // The server's one heartbeat (ProxyServer, every DefaultHeartbeat) enforces every timeout of every connection:
    // keep-alive, request head, response head, body and tunnel idle. A phase arms it with Watch and progress (Touch)
    // pushes the deadline out, both plain field writes: no timer is touched per request (re-arming a per-connection
    // Timer woke the timer thread and cost a context switch per request). The heartbeat only looks; the expiry (and a
    // stop request) is posted to the connection's own loop, which cancels the pending read/flush of the phase, so the
    // loop sees IsCanceled with Expired set: no exceptions, no allocations, and never the 408/504 path on the timer thread.
    private const int TimeoutWork = 1;
    private const int StopWork = 2;

    private TimeoutPhase _deadline;
    private PipeReader? _watchReader;
    private PipeWriter? _watchWriter;
    private int _pendingWork;    // TimeoutWork | StopWork not yet run by the loop; the item is posted once per batch
    private int _duePhase;       // the phase the heartbeat saw as due
    private LoopWork? _loopWork; // made on the first post: most connections never need it

    /// <summary>True once the current phase timed out (until the next <see cref="Watch"/>).</summary>
    private bool Expired => _deadline.Expired;

    /// <summary>Starts a phase: expire after <paramref name="timeout"/> without progress; zero or less disables it.</summary>
    private void Watch(PipeReader? reader, PipeWriter? writer, TimeSpan timeout)
    {
        var ms = (long)timeout.TotalMilliseconds;
        Volatile.Write(ref _watchReader, ms > 0 ? reader : null);
        Volatile.Write(ref _watchWriter, ms > 0 ? writer : null);
        _deadline.Arm(ms, Environment.TickCount64);
    }

    /// <summary>Records progress: the phase's idle time starts again.</summary>
    private void Touch() => _deadline.Touch(Environment.TickCount64);

    /// <summary>Ends the phase; a heartbeat still due finds nothing to watch.</summary>
    private void Unwatch()
    {
        _deadline.Disarm();
        Volatile.Write(ref _watchReader, null);
        Volatile.Write(ref _watchWriter, null);
    }

    /// <summary>Called by the server's heartbeat (timer thread): posts the expiry to the loop when the phase made no progress in time.</summary>
    public void OnHeartbeat(long nowMs)
    {
        if (!_deadline.IsDue(nowMs, out var phase)) return;
        Volatile.Write(ref _duePhase, phase);
        PostToLoop(TimeoutWork);
    }

    /// <summary>Runs <paramref name="work"/> on the connection's loop; one post covers every bit set before it runs.</summary>
    private void PostToLoop(int work)
    {
        if (Interlocked.Or(ref _pendingWork, work) != 0) return; // already posted, not yet run: it will see this bit
        var item = Volatile.Read(ref _loopWork);
        if (item is null)
        {
            item = new LoopWork(this);
            item = Interlocked.CompareExchange(ref _loopWork, item, null) ?? item;
        }
        _socket.Loop.Post(item);
    }

    /// <summary>On the connection's loop: what the heartbeat and the listener asked for.</summary>
    private void RunLoopWork()
    {
        var work = Interlocked.Exchange(ref _pendingWork, 0);
        if ((work & StopWork) != 0) WakeForStop();
        if ((work & TimeoutWork) != 0) ExpireIfStillDue();
    }

    /// <summary>
    /// Expires the phase the heartbeat saw as due, unless it ended or progressed since (re-checked here, atomically with
    /// the expiry: a phase armed after the heartbeat looked is another phase and keeps running).
    /// </summary>
    private void ExpireIfStillDue()
    {
        if (!_deadline.TryExpire(Volatile.Read(ref _duePhase), Environment.TickCount64)) return;
        try
        {
            var reader = Volatile.Read(ref _watchReader);
            var writer = Volatile.Read(ref _watchWriter);
            reader?.CancelPendingRead();
            writer?.CancelPendingFlush();
            if (_ssl is not null && Volatile.Read(ref _client) is { } client)
            {
                // TLS: the wait is parked in the socket's own pipe under SslStream, which does not pass cancellation
                // down; canceling there too wakes it, and the TLS pipe above reports the cancel it requested.
                if (reader is not null) client.Input.CancelPendingRead();
                if (writer is not null) client.Output.CancelPendingFlush();
            }
            if (Volatile.Read(ref _upstream) is { Tls: not null } upstream)
            {
                // Upstream TLS: the same, below the backend's SslStream (see UpstreamConnection.CancelPendingRead).
                if (ReferenceEquals(reader, upstream.Input)) upstream.CancelPendingRead();
                if (ReferenceEquals(writer, upstream.Output)) upstream.CancelPendingFlush();
            }
            if (_phase == RequestPhase.Tunnel)
            {
                // An idle tunnel closes politely both ways, like an idle TCP relay.
                Volatile.Read(ref _client)?.Close();
                Volatile.Read(ref _upstream)?.Connection.Close();
            }
        }
        catch (Exception)
        {
            // The pipes completed meanwhile: the phase already ended.
        }
    }

    private sealed class LoopWork(HttpProxyConnection connection) : IThreadPoolWorkItem
    {
        public void Execute() => connection.RunLoopWork();
    }
}
