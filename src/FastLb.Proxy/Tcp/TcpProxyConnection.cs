using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using FastLb.Core.Config;
using System.Diagnostics;
using FastLb.Core.Diagnostics;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;
using FastLb.Proxy.Preamble;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Tcp;

/// <summary>One client connection relayed at L4 to one backend, picked once from the table current at accept.</summary>
/// <remarks>
/// Two relays, chosen per connection by <c>defaults: tcp_relay</c>: splice(2) (see TcpProxyConnection.Splice.cs)
/// or user space (<c>pipes</c>, see TcpProxyConnection.Pipes.cs). Each direction closes on its own: a FIN becomes
/// a FIN on the other side while the reverse direction keeps flowing (half-close), and an RST or failure on one
/// side resets the other. Lifetime: connect (with retries) → Acquire → relay until both directions end → Release,
/// exactly once.
/// </remarks>
internal sealed partial class TcpProxyConnection : IProxyConnection
{
    private DrainLink _drainLink;

    /// <summary>The backend this connection runs on, for drain deadlines (see <see cref="BackendState.Acquire"/>).</summary>
    public ref DrainLink DrainLink => ref _drainLink;

    private readonly EpollSocket _client;
    private readonly ProxyListener _listener;
    private readonly ListenerTarget _target;
    private readonly Router _router;
    private readonly TransportOptions _options;
    private SocketTransport? _clientTransport; // tls: the client side's pump loops
    private EpollSocket? _backendSocket;
    private CancellationTokenSource? _connectTimer;
    private long _idleTimeoutMs;
    private int _aborted;
    private int _idleClosed;
    private long _generation;
    private string? _serviceName;
    private IPEndPoint? _clientEndPoint; // the peer, or the client a trusted PROXY header named

    public TcpProxyConnection(EpollSocket client, ProxyListener listener, ListenerTarget target, Router router, TransportOptions options)
    {
        _client = client;
        _listener = listener;
        _target = target;
        _router = router;
        _options = options;
    }

    /// <summary>The backend this connection relays to, once connected.</summary>
    public BackendSnapshot? Backend { get; private set; }

    private bool IsAborted => Volatile.Read(ref _aborted) != 0;

    public void Execute() => _ = RunAsync();

    private async Task RunAsync()
    {
        BackendState? acquired = null;
        var started = Stopwatch.GetTimestamp();
        var cause = TerminationCause.Ok;
        try
        {
            // The client: the peer, or the one a trusted balancer's PROXY header names (hashing and send_proxy use it).
            var source = _client.RemoteEndPoint;
            IPEndPoint? destination = null;
            if (_target.Config.AcceptProxy is { } acceptProxy && source is not null && acceptProxy.Expects(source.Address))
            {
                var header = await ProxyHeaderReader.ReadAsync(_client, acceptProxy).ConfigureAwait(false);
                if (header is not { } h)
                {
                    _listener.Traffic.ProxyHeaderRejected();
                    _listener.WarnRateLimited($"listener '{_listener.Name}': closed a connection from {source.Address}: no valid PROXY protocol header within {ConfigDuration.Format(acceptProxy.Timeout)}");
                    _client.Abort();
                    return;
                }
                if (h.SourceEndPoint() is { } proxied)
                {
                    source = proxied;
                    destination = h.DestinationEndPoint();
                }
            }
            var serviceName = _target.Service;
            if (_target.SniRoutes is { } sniRoutes)
            {
                var (found, picked) = await ClientHelloReader.RouteAsync(_client, sniRoutes, _target.Config.HandshakeTimeout).ConfigureAwait(false);
                if (!found)
                {
                    _listener.Traffic.ClientHelloRejected();
                    _listener.WarnRateLimited($"listener '{_listener.Name}': closed a connection from {source?.Address}: no valid TLS ClientHello within {ConfigDuration.Format(_target.Config.HandshakeTimeout)}");
                    _client.Abort();
                    return;
                }
                serviceName = picked;
            }
            // Read the table once: this connection routes by this generation for its whole life.
            var table = _router.Current;
            _generation = table.Generation;
            var service = serviceName is null ? null : table.FindService(serviceName);
            if (service is null)
            {
                _listener.WarnRateLimited(serviceName is null
                    ? $"listener '{_listener.Name}': no service to relay to; resetting connections"
                    : $"listener '{_listener.Name}': service '{serviceName}' is not in the routing table; resetting connections");
                _client.Abort();
                return;
            }
            var hash = ClientIpHash.Compute(source);
            _serviceName = service.Name;
            _clientEndPoint = source;

            var backend = await ConnectAsync(service, hash).ConfigureAwait(false);
            if (backend is null)
            {
                // No backend answered: RST tells the client at once that nothing is behind this port.
                cause = TerminationCause.ConnectFailed;
                _client.Abort();
                return;
            }
            if (service.Config.SendProxy != 0
                && !await ProxyHeaderSender.SendAsync(_backendSocket!, service.Config.SendProxy, source, destination ?? _client.LocalEndPoint()).ConfigureAwait(false))
            {
                cause = TerminationCause.UpstreamReset;
                _client.Abort();
                return;
            }
            SslStream? ssl = null;
            if (service.Config.Tls is not null && (ssl = await StartTlsAsync(backend, service.Config).ConfigureAwait(false)) is null)
            {
                // Never relayed in plain text instead: the client is reset as when no backend answers.
                cause = TerminationCause.ConnectFailed;
                _client.Abort();
                return;
            }
            Backend = backend;
            _idleTimeoutMs = (long)service.Config.IdleTimeout.TotalMilliseconds;
            backend.State.Acquire(this);
            acquired = backend.State;

            if (ssl is not null)
            {
                await TlsRelayAsync(ssl, _backendConnection!).ConfigureAwait(false);
            }
            else if (_options.TcpRelay == TcpRelayMode.Splice)
            {
                // Abort acts on the sockets directly here (no transports), so no publish step is needed.
                await SpliceRelayAsync(_backendSocket!).ConfigureAwait(false);
            }
            else
            {
                await PipesRelayAsync(_backendSocket!).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            // Never let one connection's failure escape to the thread pool.
            if (!IsAborted) _listener.WarnRateLimited($"listener '{_listener.Name}': connection failed: {e.Message}");
            cause = TerminationCause.UpstreamReset;
            Abort();
        }
        finally
        {
            await TeardownAsync().ConfigureAwait(false);
            if (IsAborted) cause = TerminationCause.DrainDeadline;
            Record(acquired, cause, Stopwatch.GetTimestamp() - started);
            acquired?.Release(this);
            _listener.Unregister(this);
        }
    }

    /// <summary>Counts the connection that ended on its listener and backend (per-loop counters).</summary>
    private void Record(BackendState? backend, TerminationCause cause, long durationTicks)
    {
        long bytesIn, bytesOut;
        if (_splicing)
        {
            bytesIn = Volatile.Read(ref _splicedUp);
            bytesOut = Volatile.Read(ref _splicedDown);
        }
        else
        {
            bytesIn = Volatile.Read(ref _relayClient)?.Input.BytesReceived ?? Volatile.Read(ref _clientTransport)?.BytesReceived ?? 0;
            bytesOut = Volatile.Read(ref _relayBackend)?.Input.BytesReceived ?? Volatile.Read(ref _tlsBytesDown);
        }
        _listener.Traffic.Traffic.RecordRequest(0, durationTicks, -1, bytesIn, bytesOut);
        var retries = Math.Max(0, _attempts - 1);
        if (_listener.AccessLog is { } log && _listener.Config.AccessLog is { } options)
        {
            WriteAccessLog(log, options, cause, durationTicks, bytesIn, bytesOut, retries);
        }
        if (cause is TerminationCause.ConnectFailed or TerminationCause.UpstreamReset && ErrorLogLimiter.Shared.TryAcquire(out var suppressed))
        {
            var more = suppressed > 0 ? $" ({suppressed} similar line(s) suppressed)" : "";
            var tried = _lastTried?.State;
            Log.Warn($"listener '{_listener.Name}': connection {TerminationCauses.Name(cause, 0)}, service '{_serviceName ?? "-"}' pool '{tried?.Pool ?? "-"}' backend {tried?.Address ?? "-"}, {retries} retries{more}");
        }
        if (backend is null) return;
        backend.Traffic.RecordRequest(0, durationTicks, -1, bytesIn, bytesOut);
        if (cause == TerminationCause.UpstreamReset) backend.Traffic.Add(TrafficField.Resets);
    }

    /// <summary>The connection's access log line, formatted on this loop into its buffer (see <see cref="AccessLog"/>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void WriteAccessLog(AccessLog log, AccessLogConfig options, TerminationCause cause, long durationTicks, long bytesIn, long bytesOut, int retries)
    {
        Span<byte> client = stackalloc byte[64];
        var peer = _clientEndPoint ?? _client.RemoteEndPoint;
        var clientLength = 0;
        if (peer is not null)
        {
            var address = peer.Address.IsIPv4MappedToIPv6 ? peer.Address.MapToIPv4() : peer.Address;
            if (!address.TryFormat(client, out clientLength)) clientLength = 0;
        }
        var tried = _lastTried?.State;
        var micros = 1e6 / Stopwatch.Frequency;
        var record = new AccessLogRecord
        {
            Time = DateTime.UtcNow,
            Client = client[..clientLength],
            ClientPort = peer?.Port ?? -1,
            Listener = _listener.Name,
            Service = _serviceName,
            Pool = tried?.Pool,
            Backend = tried?.Address,
            Generation = _generation,
            BytesIn = bytesIn,
            BytesOut = bytesOut,
            DurationMicros = (long)(durationTicks * micros),
            UpstreamHeadMicros = -1,
            Retries = retries,
            Cause = cause,
        };
        log.Write(record, options);
    }

    private async ValueTask TeardownAsync()
    {
        var clientTransport = Volatile.Read(ref _clientTransport);
        try
        {
            if (clientTransport is not null) await clientTransport.DisposeAsync().ConfigureAwait(false);
            Volatile.Read(ref _relayClient)?.Dispose();
            Volatile.Read(ref _relayBackend)?.Dispose();
            await TeardownTlsAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.Debug($"listener '{_listener.Name}': teardown failed: {e.Message}");
        }
        // Sockets that never got a transport (failed connect, abort during setup); Dispose is idempotent.
        _client.Dispose();
        _backendSocket?.Dispose();
    }

    /// <summary>Cuts both sides with RST (drain deadline, shutdown); idempotent.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0) return;
        // Sockets, not the pump loops or readers above them: aborting a socket fails whatever waits on it.
        if (Volatile.Read(ref _clientTransport) is { } clientTransport) clientTransport.Abort();
        else _client.Abort();
        Volatile.Read(ref _backendSocket)?.Abort();
        try
        {
            Volatile.Read(ref _connectTimer)?.Cancel(); // a connect in flight ends at once
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void RequestClose()
    {
        // A byte stream has no request boundary to stop at: the relay runs until it ends or the drain deadline.
    }

    /// <summary>Heartbeat (timer thread): when the relay idled past its timeout, posts the close to the connection's loop.</summary>
    public void OnHeartbeat(long nowMs)
    {
        var idle = _idleTimeoutMs;
        if (idle <= 0) return;
        long last;
        if (_splicing)
        {
            if (Volatile.Read(ref _backendSocket) is null) return;
            last = Math.Max(Volatile.Read(ref _lastUpstreamMs), Volatile.Read(ref _lastDownstreamMs));
        }
        else
        {
            if (Volatile.Read(ref _relayClient) is { } relayClient && Volatile.Read(ref _relayBackend) is { } relayBackend)
            {
                last = Math.Max(relayClient.LastReceiveMs, relayBackend.LastReceiveMs);
            }
            else if (Volatile.Read(ref _clientTransport) is { } clientTransport && Volatile.Read(ref _backendSsl) is not null)
            {
                last = Math.Max(clientTransport.LastReceiveMs, _backendConnection!.LastReceiveMs);
            }
            else
            {
                return;
            }
        }
        if (nowMs - last < idle) return;
        if (Interlocked.Exchange(ref _idleClosed, 1) != 0) return;
        // The close runs where the relay's own code runs, not on the timer thread (one small item, once per connection).
        _client.Loop.Post(new IdleClose(this));
    }

    /// <summary>On the connection's loop: closes an idle relay politely (FIN both ways); nothing is in flight, so nothing is lost.</summary>
    private void CloseIdle()
    {
        if (_splicing)
        {
            // The parked receives see end of stream and each direction ends cleanly.
            _client.ShutdownBoth();
            Volatile.Read(ref _backendSocket)?.ShutdownBoth();
            return;
        }
        Volatile.Read(ref _clientTransport)?.Close();
        Volatile.Read(ref _relayClient)?.Close();
        Volatile.Read(ref _relayBackend)?.Close();
        Volatile.Read(ref _backendConnection)?.Close();
    }

    private sealed class IdleClose(TcpProxyConnection connection) : IThreadPoolWorkItem
    {
        public void Execute() => connection.CloseIdle();
    }
}
