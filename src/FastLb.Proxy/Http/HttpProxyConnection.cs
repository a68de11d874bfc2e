using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Routing;
using FastLb.Proxy.Preamble;
using FastLb.Proxy.Tcp;
using FastLb.Proxy.Tls;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

/// <summary>One client connection of an http listener: a keep-alive loop that routes, forwards and answers each request in turn.</summary>
/// <remarks>
/// Per request: read the head (keep-alive timeout for the first byte, then request_head_timeout for the whole head),
/// read <see cref="Router.Current"/> once, match the listener's routes, pick a backend, rent or open an upstream
/// connection, forward the head and stream both bodies, then loop. Requests are handled one at a time, so pipelined
/// requests are answered in order. Everything per request lives in this object and is reused (heads, framers, the
/// watchdog phase, the request's state in <see cref="_current"/> with its <see cref="RequestPhase"/>), and only the
/// connection's loop waits on the common path (see <see cref="RunAsync"/>), so a keep-alive request allocates nothing
/// in steady state.
/// The request in flight is counted on its backend (<see cref="BackendState.Acquire"/>), so drains see it and a
/// drain deadline can cut it through <see cref="Abort"/>.
/// </remarks>
internal sealed partial class HttpProxyConnection : IProxyConnection, IDisposable
{
    private DrainLink _drainLink;

    /// <summary>The backend this connection runs on, for drain deadlines (see <see cref="BackendState.Acquire"/>).</summary>
    public ref DrainLink DrainLink => ref _drainLink;

    private const int MaxConnectAttempts = 3;

    /// <summary>After the last response and our FIN, how long the client gets to close before we reset.</summary>
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How much a lingering close reads and discards before it gives up on the client's FIN.</summary>
    private const long LingerMaxBytes = 1024 * 1024;

    private readonly HttpProxy _proxy;
    private readonly EpollSocket _socket;
    private readonly ListenerConfig _listener;
    private readonly ProxyListener _owner;
    // Rented from the proxy's pools for one request (RentHeads/ReturnHeads): valid only while a request is served.
    private HttpRequestHead _request = null!;
    private HttpResponseHead _response = null!;
    // The body framers of the rented heads, valid while a request is served.
    private HttpBodyFramer _requestBody = null!;
    private HttpBodyFramer _responseBody = null!;
    private ChunkedDecoder _dechunker = null!;
    private CancellationTokenSource? _connecting;
    // Who the client is: the peer, or after a PROXY header from a trusted balancer the client it names (set before the first request).
    private IPEndPoint? _peer;
    private IPEndPoint? _proxiedDestination; // the address the client reached, from its PROXY header
    private byte[] _clientAddress;
    private ulong _clientHash;
    private bool _peerTrusted; // a trusted proxy: its forwarded headers are kept, and name the client
    private UpstreamConnection? _ownUpstream; // send_proxy: the idle upstream connection only this client may reuse
    private SocketConnection? _client;
    private readonly TlsTermination? _tls; // a TLS listener: _input and _output read and write through _ssl over _client
    private SslStream? _ssl;
    private PipeReader _input = null!;
    private PipeWriter _output = null!;
    private UpstreamConnection? _upstream;
    private volatile bool _stopping;
    private bool _lingerOnClose;
    private volatile bool _closeAfterResponse; // the process hands over to another: the next response says Connection: close
    private int _aborted;

    public HttpProxyConnection(HttpProxy proxy, EpollSocket socket, ListenerConfig listener, ProxyListener owner)
    {
        _owner = owner;
        _proxy = proxy;
        _socket = socket;
        _listener = listener;
        _clientAddress = [];
        _tls = proxy.TlsFor(listener);
        SetPeer(socket.RemoteEndPoint);
    }

    private void SetPeer(IPEndPoint? remote)
    {
        _peer = remote;
        _clientHash = remote is null ? 0 : ClientIpHash.Compute(remote.Address);
        _peerTrusted = remote is not null && _listener.ClientAddresses.IsTrusted(remote.Address);
        _clientAddress = FormatAddress(remote);
    }

    private bool IsAborted => Volatile.Read(ref _aborted) != 0;

    private enum Outcome : byte
    {
        /// <summary>Keep the client connection and read the next request.</summary>
        Next,

        /// <summary>Close the client connection gracefully (FIN after what was written).</summary>
        Close,

        /// <summary>Reset the client connection: a response was cut or the client is gone.</summary>
        Abort,

        /// <summary>A reused upstream connection was found closed before any response byte: retry on a fresh one.</summary>
        RetryFresh,

        /// <summary>The exchange in flight needs more bytes from the backend: the loop waits, then calls <see cref="ReceiveResponseAsync"/>.</summary>
        AwaitResponse,
    }

    /// <summary>
    /// Serves requests until the client closes, an error ends the connection, or the listener stops (between
    /// requests); then closes and unregisters. The connection's one long-lived loop: it waits for each request and
    /// for its response, and hands the bytes to per-request steps.
    /// </summary>
    /// <remarks>
    /// Only this loop suspends on the common path. An async method allocates a state machine box whenever one
    /// invocation of it suspends, and the pooling builder's small per-core cache misses with many requests in flight
    /// on one event loop, so a nested method that waits costs a box per request. Instead the loop awaits readiness
    /// itself ("client bytes arrived", "backend bytes arrived") and leaves the bytes unread: AdvanceTo(buffer.Start)
    /// consumes and examines nothing, so the step's own ReadAsync returns them at once and the step finishes
    /// synchronously. Steps still suspend (and allocate) on rare paths: a trickled head, backpressure, 1xx,
    /// tunnels, new upstream connections, retries. One box per connection (this method, which also sets up and tears
    /// down, so no outer method waits on it), none per request.
    /// </remarks>
    private async Task RunAsync()
    {
        if (!Resumed && _listener.AcceptProxy is { } acceptProxy && _peer is { } peer && acceptProxy.Expects(peer.Address))
        {
            var header = await ProxyHeaderReader.ReadAsync(_socket, acceptProxy).ConfigureAwait(false);
            if (header is not { } h)
            {
                _owner.Traffic.ProxyHeaderRejected();
                _owner.WarnRateLimited($"listener '{_listener.Name}': closed a connection from {peer.Address}: no valid PROXY protocol header within {ConfigDuration.Format(acceptProxy.Timeout)}");
                _socket.Abort();
                _socket.Dispose();
                Dispose();
                _owner.Unregister(this);
                return;
            }
            if (h.SourceEndPoint() is { } source)
            {
                SetPeer(source);
                _peerFromHeader = true;
                _proxiedDestination = h.DestinationEndPoint();
            }
        }
        var client = new SocketConnection(_socket, _proxy.Transport.Pool);
        _input = client.Input;
        _output = client.Output;
        Volatile.Write(ref _client, client);
        if (IsAborted) client.Abort();
        var graceful = true;
        try
        {
            if (_tls is not null && !await HandshakeAsync(client, _tls).ConfigureAwait(false))
            {
                graceful = false;
                goto Done;
            }
            var input = _input;
            var served = Resumed;
            while (true)
            {
                if (_stopping) { graceful = true; goto Done; }
                // Between requests: the keep-alive timeout runs until the first byte of the next head. A new connection
                // gets request_head_timeout for its first byte, so holding it idle costs a client as much as a slowloris.
                // A keep-alive wait first runs for IdleParkAfter only: past it the connection parks (TryPark) and this
                // loop ends; a resumed one waits out what is left of the deadline its parked form kept.
                var defaults = _proxy.Router.Current.Config.Defaults;
                var timeoutMs = (long)(served ? defaults.KeepAliveTimeout : defaults.RequestHeadTimeout).TotalMilliseconds;
                var now = Environment.TickCount64;
                if (Resumed)
                {
                    timeoutMs = Math.Max(1, _resumeDeadlineMs - now);
                    _resumeDeadlineMs = 0;
                }
                var idleDeadline = now + timeoutMs;
                var parkAfterMs = (long)IdleParkAfter.TotalMilliseconds;
                var mayPark = served && timeoutMs > 2 * parkAfterMs && MayPark;
                Watch(input, null, TimeSpan.FromMilliseconds(mayPark ? parkAfterMs : timeoutMs));
                served = true;
                bool arrived;
                while (true)
                {
                    var result = await input.ReadAsync().ConfigureAwait(false);
                    arrived = !result.Buffer.IsEmpty;
                    input.AdvanceTo(result.Buffer.Start); // left for ReadRequestHeadAsync; an empty buffer is examined whole
                    if (arrived || result.IsCompleted || _stopping) break;
                    if (!Expired) continue;
                    if (!mayPark) break;
                    mayPark = false;
                    if (TryPark(client, idleDeadline)) return; // the parked form owns the socket and the registration now
                    Watch(input, null, TimeSpan.FromMilliseconds(Math.Max(1, idleDeadline - Environment.TickCount64)));
                }
                Unwatch();
                if (!arrived) { graceful = true; goto Done; } // FIN, idle past the keep-alive timeout, or the listener stops: close quietly

                BeginRequest();
                try
                {
                    var head = await ReadRequestHeadAsync().ConfigureAwait(false);
                    switch (head)
                    {
                        case HeadRead.Closed:
                            { _current.Recording = false; graceful = true; goto Done; } // no request: nothing to count
                        case HeadRead.TimedOut:
                            { graceful = await AnswerAsync(408, bodyConsumed: false).ConfigureAwait(false) != Outcome.Abort; goto Done; }
                        case HeadRead.Invalid:
                            // Never parse what follows a rejected head (request smuggling): answer and close.
                            { graceful = await AnswerAsync(_request.ErrorStatusCode, bodyConsumed: false).ConfigureAwait(false) != Outcome.Abort; goto Done; }
                    }

                    Outcome outcome;
                    try
                    {
                        outcome = await SendRequestAsync().ConfigureAwait(false);
                        while (outcome is Outcome.AwaitResponse or Outcome.RetryFresh)
                        {
                            if (outcome == Outcome.RetryFresh)
                            {
                                outcome = await RetryFreshAsync().ConfigureAwait(false);
                                continue;
                            }
                            // The exchange waits for its backend, under the deadline the last step armed (response head or body idle).
                            var upstream = Volatile.Read(ref _upstream)!;
                            var response = upstream.Input;
                            while (true)
                            {
                                try
                                {
                                    var result = await response.ReadAsync().ConfigureAwait(false);
                                    response.AdvanceTo(result.Buffer.Start); // left for the step, as above
                                    if (!result.Buffer.IsEmpty || result.IsCompleted || Expired) break;
                                }
                                catch (Exception)
                                {
                                    break; // reset: the step's own read fails the same way and decides
                                }
                            }
                            outcome = await ReceiveResponseAsync(upstream).ConfigureAwait(false);
                        }
                    }
                    finally
                    {
                        await EndRequestAsync().ConfigureAwait(false);
                    }
                    _current.ResponseCut = outcome == Outcome.Abort;
                    if (outcome == Outcome.Abort || IsAborted) { graceful = false; goto Done; }
                    if (outcome == Outcome.Close || _stopping) { graceful = true; goto Done; }
                }
                finally
                {
                    FinishRequest(client);
                }
            }
        }
        catch (Exception e)
        {
            graceful = false;
            if (!IsAborted) Log.Debug($"listener '{_listener.Name}': http connection failed: {e.Message}");
        }
    Done:
        await CloseClientAsync(client, graceful).ConfigureAwait(false);
        Dispose();
        _owner.Unregister(this);
    }

    private void RentHeads()
    {
        _request = _proxy.RequestHeads.Get();
        _response = _proxy.ResponseHeads.Get();
        _requestBody = _request.BodyFramer;
        _responseBody = _response.BodyFramer;
        _dechunker = _response.Dechunker;
    }

    private void ReturnHeads()
    {
        var request = _request;
        if (request is null) return;
        var response = _response;
        _request = null!;
        _response = null!;
        _requestBody = null!;
        _responseBody = null!;
        _dechunker = null!;
        _proxy.RequestHeads.Return(request);
        _proxy.ResponseHeads.Return(response);
    }

    /// <summary>Writes FastLb's own answer (the pool's 503 naming it when <paramref name="unavailable"/> is set); closes unless the request body was consumed and the client keeps alive.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome> AnswerAsync(int status, bool bodyConsumed, ServiceSnapshot? service = null, PoolSnapshot? unavailable = null)
    {
        var close = !bodyConsumed || _stopping || _closeAfterResponse || _request.ErrorStatusCode != 0 || status == 408
                    || !_request.KeepAlive || _request.Version == HttpProtocolVersion.Http10;
        Enter(RequestPhase.Answering);
        MarkAnswer(status);
        // Closing on a request whose body is unread: the client may still be sending it, so linger before the close.
        if (close && !bodyConsumed) _lingerOnClose = true;
        var bytes = unavailable is not null && service is not null
            ? HttpErrorResponses.Unavailable(service, unavailable, close)
            : HttpErrorResponses.Get(status, close);
        if (_request.Method == HttpMethodKind.Head && _request.ErrorStatusCode == 0)
        {
            _output.Write(bytes.AsSpan(0, bytes.AsSpan().IndexOf("\r\n\r\n"u8) + 4)); // HEAD: the same head, no body
        }
        else
        {
            _output.Write(bytes);
        }
        try
        {
            var flush = await _output.FlushAsync().ConfigureAwait(false);
            if (flush.IsCompleted || flush.IsCanceled) return Outcome.Abort;
        }
        catch (Exception)
        {
            return Outcome.Abort;
        }
        return close ? Outcome.Close : Outcome.Next;
    }

    /// <summary>Starts serving on the calling thread up to the first wait (no thread-pool hop per connection).</summary>
    public void Execute() => _ = RunAsync();

    /// <summary>
    /// The process hands its listeners to another: the next response (the one in flight, or the answer to the next
    /// request of an idle keep-alive connection) carries Connection: close and the connection closes after it. An idle
    /// connection is not closed under a client that may be sending its next request right now; it ends with that
    /// request, at the keep-alive timeout, or at the drain timeout.
    /// </summary>
    public void RequestCloseAfterResponse()
    {
        _closeAfterResponse = true;
        Interlocked.MemoryBarrier(); // against TryPark, which publishes _parkedAs and then reads the flag
        Volatile.Read(ref _parkedAs)?.RequestCloseAfterResponse();
    }

    /// <summary>
    /// The listener stops (any thread): finish the request in flight, start no new one. The flag is seen at once; the
    /// wake-up of an idle wait runs on the connection's loop.
    /// </summary>
    public void RequestClose()
    {
        _stopping = true;
        Interlocked.MemoryBarrier(); // against TryPark, which publishes _parkedAs and then reads the flag
        if (Volatile.Read(ref _parkedAs) is { } parked) parked.RequestClose();
        else PostToLoop(StopWork);
    }

    /// <summary>On the connection's loop: wakes an idle keep-alive wait so it sees <see cref="_stopping"/> and closes.</summary>
    private void WakeForStop()
    {
        try
        {
            _input.CancelPendingRead();
            // TLS between requests: the idle wait is parked in the socket's pipe under SslStream (see ExpireIfStillDue).
            // Never during a request, whose bytes SslStream may be in the middle of decrypting.
            if (_ssl is not null && _phase == RequestPhase.Idle) Volatile.Read(ref _client)?.Input.CancelPendingRead();
        }
        catch (Exception)
        {
        }
    }

    private async ValueTask CloseClientAsync(SocketConnection client, bool graceful)
    {
        try
        {
            if (!graceful || IsAborted) client.Abort();
            var unread = _lingerOnClose || client.Input.HasBuffered || client.Socket.MaybeReadable;
            // Nothing to linger for: the close below follows at once and sends the FIN itself (after the response),
            // so on a ring loop the writer skips its shutdown() and the connection ends with one IORING_OP_CLOSE.
            if (graceful && !IsAborted && !unread) client.Socket.LeaveFinToClose();
            await _output.CompleteAsync().ConfigureAwait(false);
            await _input.CompleteAsync().ConfigureAwait(false);
            if (_ssl is { } ssl)
            {
                // TLS: the pipes above wrote through SslStream (left open); the socket's own pipes end here as on a plain connection.
                await ssl.DisposeAsync().ConfigureAwait(false);
                await client.Output.CompleteAsync().ConfigureAwait(false);
                await client.Input.CompleteAsync().ConfigureAwait(false);
            }
            // close() resets the peer only when bytes it sent are left unread; with none pending (the common case:
            // the request was read whole) closing at once is clean and spares a wake-up and a receive.
            if (graceful && !IsAborted && client.ReceiveEnd == ReceiveEnd.None && unread)
            {
                // Our FIN follows the last response; give the client a moment to close its side, so closing ours
                // with unread bytes does not reset a response it is still reading. Bytes it still sends (the body of
                // a request we refused) are read and discarded, up to a bound.
                await client.LingerAsync(LingerTimeout, LingerMaxBytes).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            Log.Debug($"listener '{_listener.Name}': http connection teardown failed: {e.Message}");
            client.Abort(); // what was left to send may not have gone out: do not let the close look like a clean end
        }
        finally
        {
            client.Dispose(); // whatever failed above, the socket closes: a teardown error must not leak it
        }
    }

    /// <summary>Cuts the client and the upstream connection in flight with RST (drain deadline, shutdown); idempotent.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0) return;
        if (Volatile.Read(ref _parkedAs) is { } parked)
        {
            parked.Abort();
            return;
        }
        try
        {
            Volatile.Read(ref _connecting)?.Cancel(); // an upstream connect in flight ends at once
        }
        catch (ObjectDisposedException)
        {
        }
        var client = Volatile.Read(ref _client);
        if (client is not null) client.Abort();
        else _socket.Abort();
        Volatile.Read(ref _upstream)?.Abort();
    }

    public void Dispose()
    {
        ReturnHeads();
        Interlocked.Exchange(ref _ownUpstream, null)?.Discard();
    }

    private static byte[] FormatAddress(IPEndPoint? remote)
    {
        if (remote is null) return [];
        var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        return Encoding.ASCII.GetBytes(address.ToString());
    }
}
