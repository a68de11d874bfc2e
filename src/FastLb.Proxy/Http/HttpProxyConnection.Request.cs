using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using FastLb.Core.Config;
using FastLb.Core.Routing;

using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    // The exchange in flight, kept in fields because the loop, not one method, carries it from the request head to
    // the end of the response (see ServeAsync). _upstream (HttpProxyConnection.cs) is its connection.
    private ServiceConfig? _service;
    private BackendSnapshot? _picked;
    private BackendState? _counted;
    private bool _mayRetry;
    // How the request was routed, for picking another backend when one fails before answering.
    private ServiceSnapshot? _routed;
    private PoolSnapshot? _pinned;
    private PoolSnapshot? _sticky;      // sticky_split: the pool this client keeps during a split (not a pin: drains cut it)
    private byte[]? _setCookie;         // sticky_split by cookie: the Set-Cookie line for a client assigned by share now
    private ulong _hash;
    private BackendSnapshot? _triedA, _triedB;
    private int _attempts;
    private int _retries;
    private PoolSnapshot? _unavailable; // set when the routed pool has nothing healthy: answer its 503
    private bool _outOfDescriptors;     // a connect found this process out of descriptors: 503, not the backend's fault
    private bool _countedPinned;        // the route pins the pool (preview): a pool drain deadline spares it
    private int _drainCut;              // 1 once a drain deadline cut the request before its response head

    /// <summary>Routes the parsed request by the current table, picks and connects (with retries), and sends it: AwaitResponse, or the request is answered.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome> SendRequestAsync()
    {
        // One table per request: this request sees the old table or the new one, never a mix.
        var table = _proxy.Router.Current;
        var routes = table.FindListener(_listener.Name);
        var route = routes is { UsesModel: true } ? await MatchByModelAsync(routes).ConfigureAwait(false) : routes?.Match(_request);
        var bodyConsumed = !_request.HasBody;
        if (_modelMissing && routes is { UsesModel: true, Config.ModelRequired: true }) return await AnswerAsync(400, bodyConsumed).ConfigureAwait(false);
        // A backend never sees a request whose first chunk line FastLb rejects, not even its head.
        if (_request.IsChunked && !_request.ExpectContinue && !await ValidateFirstChunkAsync().ConfigureAwait(false))
        {
            return await AnswerAsync(400, bodyConsumed: false).ConfigureAwait(false);
        }
        _generation = table.Generation;
        if (route is null) return await AnswerAsync(404, bodyConsumed).ConfigureAwait(false);

        var service = route.Service;
        _routeNumber = route.Number;
        _logService = service.Name;
        _service = service.Config;
        _routed = service;
        _pinned = route.PinnedPool;
        _sticky = null;
        _setCookie = null;
        if (_pinned is null && service.Config.StickySplit is { } sticky && service.IsSplit) ChooseStickyPool(service, sticky);
        _hash = Hash(service.Config);
        _triedA = _triedB = null;
        _attempts = 0;
        _retries = 0;
        _unavailable = null;
        _outOfDescriptors = false;
        var upstream = await ConnectNextAsync().ConfigureAwait(false);
        if (upstream is null) return await AnswerNoUpstreamAsync(bodyConsumed).ConfigureAwait(false);

        _counted = upstream.Backend; // released by EndRequestAsync, once the request is over
        _countedPinned = _pinned is not null;
        _counted.Acquire(this, _countedPinned);
        _statsBackend = _counted;
        return await StartExchangeAsync(upstream).ConfigureAwait(false);
    }

    /// <summary>
    /// Picks the next backend not tried yet and rents or opens a connection to it, moving on when a connect fails
    /// (nothing was sent yet); null when every try failed or nothing may take the request (see <see cref="_unavailable"/>).
    /// </summary>
    private async ValueTask<UpstreamConnection?> ConnectNextAsync()
    {
        var service = _routed!;
        var pinned = _pinned ?? _sticky;
        var tries = Math.Clamp(CountBackends(service, pinned), 1, MaxConnectAttempts);
        while (_attempts < tries && !IsAborted && !_outOfDescriptors)
        {
            var attempt = _attempts++;
            var backend = service.PickForAttempt(pinned, _hash, attempt, _triedA, _triedB, out var pool);
            if (backend is null)
            {
                if (attempt == 0 && pool is { NothingHealthy: true }) _unavailable = pool;
                if (pool is not null && _logPool is null) _logPool = pool.Name;
                return null;
            }
            _logPool = backend.State.Pool;
            _logBackend = backend.State.Address;
            if (attempt == 0) _triedA = backend;
            else _triedB = backend;
            _picked = backend;
            // send_proxy: a connection that carried one client's PROXY header is never lent to another client.
            var upstream = (_service!.SendProxy != 0 ? TakeOwnUpstream(backend.State) : _proxy.Pool.TryRent(backend.State, _socket.Loop))
                           ?? await ConnectAsync(backend, _service!).ConfigureAwait(false);
            if (upstream is not null) return upstream;
        }
        return null;
    }

    /// <summary>No backend could take the request: 503 naming the pool when it has nothing healthy, 503 when nothing has weight, else 502.</summary>
    private ValueTask<Outcome> AnswerNoUpstreamAsync(bool bodyConsumed)
    {
        if (IsAborted) return new ValueTask<Outcome>(Outcome.Abort);
        if (_unavailable is { } pool) return AnswerAsync(503, bodyConsumed, _routed, pool);
        if (_outOfDescriptors) return AnswerAsync(503, bodyConsumed);
        return AnswerAsync(_attempts <= 1 && _triedA is null ? 503 : 502, bodyConsumed);
    }

    /// <summary>
    /// The backend closed or reset the connection before answering, and the request is idempotent and bodiless, so
    /// sending it again is safe. A pooled connection the backend closed while idle is retried on a fresh connection
    /// to the same backend; otherwise (or when that connect fails) another backend is picked. Bounded by
    /// <see cref="MaxConnectAttempts"/> retries per request.
    /// </summary>
    private async ValueTask<Outcome> RetryFreshAsync()
    {
        var wasReused = Volatile.Read(ref _upstream)?.Reused ?? false;
        await CutExchangeAsync().ConfigureAwait(false);
        _retries++;
        UpstreamConnection? upstream = null;
        if (wasReused) upstream = await ConnectAsync(_picked!, _service!).ConfigureAwait(false);
        upstream ??= await ConnectNextAsync().ConfigureAwait(false);
        if (upstream is null) return await AnswerNoUpstreamAsync(!_request.HasBody).ConfigureAwait(false);
        if (!ReferenceEquals(upstream.Backend, _counted))
        {
            // The request moves to another backend: count it there, so drains and least_request see where it runs.
            _counted?.Release(this, _countedPinned);
            _counted = upstream.Backend;
            _counted.Acquire(this, _countedPinned);
            _statsBackend = _counted;
        }
        return await StartExchangeAsync(upstream).ConfigureAwait(false);
    }

    private async ValueTask<UpstreamConnection?> ConnectAsync(BackendSnapshot backend, ServiceConfig config)
    {
        // Created per connect (not per request: pooled connections skip this), so an idle connection holds none.
        var deadline = new CancellationTokenSource(config.ConnectTimeout);
        Interlocked.Exchange(ref _connecting, deadline);
        try
        {
            if (IsAborted) return null; // Abort ran before it could see the deadline
            var started = Stopwatch.GetTimestamp();
            UpstreamConnection? upstream;
            try
            {
                upstream = await UpstreamConnection.ConnectAsync(backend, _socket.Loop, _proxy.Transport, deadline.Token).ConfigureAwait(false);
            }
            catch (DescriptorsExhaustedException)
            {
                // Out of descriptors: an idle pooled connection (to any backend) gives way to this request, once.
                upstream = null;
                var exhausted = true;
                if (_proxy.Pool.TryEvictOne(_socket.Loop))
                {
                    try
                    {
                        upstream = await UpstreamConnection.ConnectAsync(backend, _socket.Loop, _proxy.Transport, deadline.Token).ConfigureAwait(false);
                        exhausted = false;
                    }
                    catch (DescriptorsExhaustedException)
                    {
                    }
                }
                if (exhausted)
                {
                    // Local exhaustion: neither this backend's failure nor a reason to try the next one.
                    Exhaustion.Connect.Record($"{backend.Address}: no descriptor for a new connection");
                    _outOfDescriptors = true;
                    return null;
                }
            }
            // Refused, unreachable or timed out: counts toward ejection.
            if (upstream is null && !IsAborted) backend.State.RecordFailure(deadline.IsCancellationRequested ? "connect timeout" : "connect failed");
            if (upstream is not null) backend.State.Traffic.RecordConnect(Stopwatch.GetTimestamp() - started);
            else if (!IsAborted) backend.State.RecordConnectFailure(timedOut: deadline.IsCancellationRequested);
            return upstream;
        }
        finally
        {
            Volatile.Write(ref _connecting, null);
            deadline.Dispose();
        }
    }

    /// <summary>
    /// Opens an exchange on <paramref name="upstream"/>: sends the head, starts the body pump and arms the response
    /// head deadline, then returns AwaitResponse so the loop waits for the answer. The exchange stays open until
    /// <see cref="EndExchangeAsync"/>; whatever ends the request otherwise cuts it (<see cref="EndRequestAsync"/>).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome> StartExchangeAsync(UpstreamConnection upstream)
    {
        Volatile.Write(ref _upstream, upstream);
        if (IsAborted) upstream.Abort();
        var hasBody = _request.HasBody;
        _mayRetry = !hasBody && IsIdempotent(_request.Method) && _retries < MaxConnectAttempts;
        _requestBodyDone = !hasBody;
        _requestBodyInvalid = false;
        _inResponseBody = false;
        if (_service!.SendProxy != 0 && !upstream.Reused) WriteProxyHeader(upstream, _service.SendProxy);
        HttpHeadWriter.WriteRequestHead(upstream.Output, _request, new RequestHeadOptions
        {
            ClientAddress = _clientAddress,
            TrustForwarded = _peerTrusted,
            Scheme = _tls is null ? "http"u8 : "https"u8,
            HostOverride = _service!.RewriteHost ? upstream.HostBytes : default,
            AllowUpgrade = _request.IsUpgradeRequest,
        });
        MarkExchangeStart();
        if (!await FlushUpstreamAsync(upstream.Output).ConfigureAwait(false))
        {
            return _mayRetry ? Outcome.RetryFresh : await AnswerAsync(502, !hasBody).ConfigureAwait(false);
        }

        // The body streams concurrently with the response: a backend may answer (or echo) before it read it all.
        if (hasBody) StartPump(upstream);
        // The deadline runs from the request head; body upload progress (Touch) extends it.
        Watch(upstream.Input, null, _service.ResponseHeadTimeout);
        return Outcome.AwaitResponse;
    }

    /// <summary>Ends the exchange on <paramref name="upstream"/>: stops the body pump, then pools the connection or closes it (FIN when clean, else RST).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask EndExchangeAsync(UpstreamConnection upstream, bool reusable, bool clean)
    {
        await StopPumpAsync(upstream).ConfigureAwait(false);
        Volatile.Write(ref _upstream, null);
        if (!reusable || IsAborted) upstream.Discard(graceful: clean);
        else if (_service!.SendProxy != 0) Interlocked.Exchange(ref _ownUpstream, upstream)?.Discard();
        else _proxy.Pool.Return(upstream, _service.UpstreamIdleTimeout);
    }

    /// <summary>Cuts the exchange still open, if any: it ended without a clean response (error, retry, tunnel).</summary>
    private ValueTask CutExchangeAsync() =>
        Volatile.Read(ref _upstream) is { } open ? EndExchangeAsync(open, reusable: false, clean: false) : default;

    /// <summary>The request is over, however it ended: cuts an exchange still open, ends its timeout phase and uncounts it on its backend.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask EndRequestAsync()
    {
        try
        {
            await CutExchangeAsync().ConfigureAwait(false);
        }
        finally
        {
            Unwatch();
            _service = null;
            _picked = null;
            _routed = null;
            _pinned = null;
            _triedA = _triedB = null;
            _unavailable = null;
            Volatile.Write(ref _drainCut, 0);
            if (_counted is { } state)
            {
                _counted = null;
                state.Release(this, _countedPinned);
            }
        }
    }

    /// <summary>
    /// The drain deadline of the request's pool or backend passed (drain ticker thread). A request still waiting for
    /// its response head gets 503 naming the drain: its upstream is cut here and the loop answers when its wait
    /// ends. A response already under way, a tunnel, or a request not yet sent is cut with RST as before.
    /// </summary>
    public void CutAtDrainDeadline()
    {
        var upstream = Volatile.Read(ref _upstream);
        if (upstream is null || Volatile.Read(ref _inResponseBody) || _tunnelling)
        {
            Abort();
            return;
        }
        Volatile.Write(ref _drainCut, 1);
        upstream.Abort();
    }

    /// <summary>503 for a request cut by a drain deadline before its response head, then close.</summary>
    private async ValueTask<Outcome> AnswerDrainDeadlineAsync()
    {
        var state = _picked?.State;
        var body = $"the drain of {state?.Service}/{state?.Pool} reached its deadline before {state?.Address} answered\n";
        var response = $"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        _output.Write(System.Text.Encoding.ASCII.GetBytes(_request.Method == HttpMethodKind.Head ? response : response + body));
        try
        {
            var flush = await _output.FlushAsync().ConfigureAwait(false);
            if (flush.IsCompleted || flush.IsCanceled) return Outcome.Abort;
        }
        catch (Exception)
        {
            return Outcome.Abort;
        }
        return Outcome.Close;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> FlushUpstreamAsync(PipeWriter output)
    {
        try
        {
            var flush = await output.FlushAsync().ConfigureAwait(false);
            return !flush.IsCompleted && !flush.IsCanceled;
        }
        catch (Exception)
        {
            return false; // The upstream send side failed (reset).
        }
    }

    private ulong Hash(ServiceConfig config)
    {
        var on = config.HashOn;
        if (config.Balance != BalanceKind.Hash) return _clientHash;
        if (on.Source == HashSource.ClientIp || on.Name is null) return ClientHash();
        var name = _proxy.NameBytes(on.Name);
        ReadOnlySpan<byte> value;
        var found = on.Source == HashSource.Header ? _request.TryGetHeader(name, out value) : _request.TryGetCookie(name, out value);
        return found ? KeyHash.Of(value) : ClientHash(); // no key: fall back to the client address
    }

    private static bool IsIdempotent(HttpMethodKind method) => method is HttpMethodKind.Get or HttpMethodKind.Head
        or HttpMethodKind.Options or HttpMethodKind.Trace or HttpMethodKind.Put or HttpMethodKind.Delete;

    /// <summary>
    /// sticky_split during a split: the pool named by the client's cookie when it still has a share, else the next
    /// pool by share (and a Set-Cookie naming it on the response); with by: client_ip, the pool its address hashes to.
    /// A cookie naming a pool without share is ignored, so a swap or rollback overrides stickiness at once.
    /// </summary>
    private void ChooseStickyPool(ServiceSnapshot service, StickySplitConfig sticky)
    {
        if (sticky.By == StickyBy.ClientIp)
        {
            _sticky = service.StickyPoolForClient(ClientHash());
            return;
        }
        if (_request.TryGetCookie(_proxy.NameBytes(sticky.Cookie), out var value) && service.SharedPoolNamed(value) is { } kept)
        {
            _sticky = kept;
            return;
        }
        _sticky = service.PoolByShare();
        _setCookie = _sticky.StickyCookieHeader;
    }

    private static int CountBackends(ServiceSnapshot service, PoolSnapshot? pinned)
    {
        if (pinned is not null) return pinned.Backends.Length;
        var n = 0;
        foreach (var pool in service.Pools) n += pool.Backends.Length;
        return n;
    }
}
