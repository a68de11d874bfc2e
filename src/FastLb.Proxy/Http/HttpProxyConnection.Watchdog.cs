using System.IO.Pipelines;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    // The server's one heartbeat (ProxyServer, every DefaultHeartbeat) enforces every timeout of every connection:
    // keep-alive, request head, response head, body and tunnel idle. A phase arms it with Watch and progress (Touch)
    // pushes the deadline out, both plain field writes: no timer is touched per request (re-arming a per-connection
    // Timer woke the timer thread and cost a context switch per request). On expiry the heartbeat cancels the
    // pending read/flush of the phase, so the loop sees IsCanceled with _expired set: no exceptions, no allocations.
    private long _watchMs;
    private int _phase; // bumped by Watch/Unwatch so a timer that read an old phase cannot expire the new one
    private long _progressMs;
    private PipeReader? _watchReader;
    private PipeWriter? _watchWriter;
    private volatile bool _expired;
    private volatile bool _tunnelling;

    /// <summary>Starts a phase: expire after <paramref name="timeout"/> without progress; zero or less disables it.</summary>
    private void Watch(PipeReader? reader, PipeWriter? writer, TimeSpan timeout)
    {
        Interlocked.Increment(ref _phase);
        _expired = false;
        var ms = (long)timeout.TotalMilliseconds;
        if (ms <= 0)
        {
            Unwatch();
            return;
        }
        Volatile.Write(ref _watchReader, reader);
        Volatile.Write(ref _watchWriter, writer);
        Volatile.Write(ref _progressMs, Environment.TickCount64);
        Volatile.Write(ref _watchMs, ms);
    }

    /// <summary>Records progress: the phase's idle time starts again.</summary>
    private void Touch() => Volatile.Write(ref _progressMs, Environment.TickCount64);

    /// <summary>Ends the phase; a timer still due finds nothing to watch.</summary>
    private void Unwatch()
    {
        Interlocked.Increment(ref _phase);
        Volatile.Write(ref _watchMs, 0);
        Volatile.Write(ref _watchReader, null);
        Volatile.Write(ref _watchWriter, null);
    }

    /// <summary>Called by the server's heartbeat: expires the current phase when it made no progress in time.</summary>
    public void OnHeartbeat(long nowMs)
    {
        var phase = Volatile.Read(ref _phase);
        var watch = Volatile.Read(ref _watchMs);
        if (watch <= 0) return;
        if (nowMs - Volatile.Read(ref _progressMs) < watch) return;
        if (Volatile.Read(ref _phase) != phase) return;
        _expired = true;
        try
        {
            Volatile.Read(ref _watchReader)?.CancelPendingRead();
            Volatile.Read(ref _watchWriter)?.CancelPendingFlush();
            if (_tunnelling)
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
}
