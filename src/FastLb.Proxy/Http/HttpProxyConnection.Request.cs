using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using FastLb.Core.Config;
using FastLb.Core.Health;
using FastLb.Core.Routing;
using FastLb.Proxy.Tls;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    // The request's own state is _current (see RequestState); _upstream (HttpProxyConnection.cs) is its exchange's
    // connection. Set by the drain ticker, so not in _current: 1 once a drain deadline cut the request before its response head.
    private int _drainCut;

    /// <summary>Routes the parsed request by the current table, picks and connects (with retries), and sends it: AwaitResponse, or the request is answered.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome> SendRequestAsync()
    {
        Enter(RequestPhase.Routing);
        if (_strictSni is not null && !HostMatchesSni()) return await AnswerAsync(421, bodyConsumed: !_request.HasBody).ConfigureAwait(false);
        // One table per request: this request sees the old table or the new one, never a mix.
        var table = _proxy.Router.Current;
        var routes = table.FindListener(_listener.Name);
        var route = routes is { UsesModel: true } ? await MatchByModelAsync(routes).ConfigureAwait(false) : routes?.Match(_request);
        var bodyConsumed = !_request.HasBody;
        if (_current.ModelMissing && routes is { UsesModel: true, Config.ModelRequired: true }) return await AnswerAsync(400, bodyConsumed).ConfigureAwait(false);
        // A backend never sees a request whose first chunk line FastLb rejects, not even its head.
        if (_request.IsChunked && !_request.ExpectContinue && !await ValidateFirstChunkAsync().ConfigureAwait(false))
        {
            return await AnswerAsync(400, bodyConsumed: false).ConfigureAwait(false);
        }
        _current.Generation = table.Generation;
        if (route is null) return await AnswerAsync(404, bodyConsumed).ConfigureAwait(false);
        // Checked once routed, so a refusal is counted under the model the request named (no pool was chosen yet).
        if (_owner.Config.TokenLimits is { } limits && !EnterTokenLimits(limits, out var retryAfter))
        {
            CountTokenLimitRefusal(route.Service.Name);
            return await AnswerTokenLimitAsync(retryAfter, bodyConsumed).ConfigureAwait(false);
        }

        var service = route.Service;
        _current.RouteNumber = route.Number;
        _current.RouteAlias = route.Alias;
        _current.LogService = service.Name;
        _current.Service = service.Config;
        _current.Routed = service;
        _current.Pinned = route.PinnedPool;
        _current.Mirror = route.Mirror;
        if (_current.Pinned is null && service.Config.StickySplit is { } sticky && service.IsSplit) ChooseStickyPool(service, sticky);
        _current.Hash = Hash(service.Config);
        if (service.Config.Fallback is { } fallback) BeginFallback(fallback, service, table);
        Enter(RequestPhase.ConnectingUpstream);
        var upstream = await ConnectNextAsync().ConfigureAwait(false);
        // Nothing was sent yet: a fallback target takes the request whatever its body's size.
        while (upstream is null && CanFallBack(_current.FailReason))
        {
            upstream = await FallBackConnectAsync(_current.FailReason).ConfigureAwait(false);
        }
        if (upstream is null) return await AnswerNoUpstreamAsync(bodyConsumed).ConfigureAwait(false);

        _current.Counted = upstream.Backend; // released by EndRequestAsync, once the request is over
        _current.CountedPinned = _current.Pinned is not null;
        _current.Counted.Acquire(this, _current.CountedPinned);
        _current.StatsBackend = _current.Counted;
        return await StartExchangeAsync(upstream).ConfigureAwait(false);
    }

    /// <summary>
    /// Picks the next backend not tried yet and rents or opens a connection to it, moving on when a connect fails
    /// (nothing was sent yet); null when every try failed or nothing may take the request (see <see cref="RequestState.Unavailable"/>).
    /// </summary>
    private async ValueTask<UpstreamConnection?> ConnectNextAsync()
    {
        var service = _current.Routed!;
        var pinned = _current.Pinned ?? _current.Sticky;
        var tries = Math.Clamp(CountBackends(service, pinned), 1, MaxConnectAttempts);
        _current.FailReason = FallbackReasons.ConnectFailure;
        while (_current.TargetAttempts < tries && !IsAborted && !_current.OutOfDescriptors)
        {
            var attempt = _current.TargetAttempts++;
            _current.Attempts++;
            var backend = service.PickForAttempt(pinned, _current.Hash, attempt, _current.TriedA, _current.TriedB, out var pool);
            if (backend is null)
            {
                if (attempt == 0 && pool is { NothingHealthy: true })
                {
                    _current.Unavailable = pool;
                    // The table already knows every backend is out: fall back as below, where a pick still names an ejected one.
                    if (_current.Fallback is not null) _current.FailReason = FallbackReasonWhenNothingHealthy(pool);
                }
                if (pool is not null && _current.LogPool is null) _current.LogPool = pool.Name;
                return null;
            }
            _current.LogPool = backend.State.Pool;
            _current.LogBackend = backend.State.Address;
            // Only ejected backends are left: a fallback target takes the request instead, as if this one had answered
            // the 429 whose Retry-After ejected it (or failed to connect, for an outlier ejection).
            if (_current.Fallback is not null && backend.State.Health.EjectionMarked)
            {
                var reason = backend.State.Health.LastFailure == BackendHealth.RetryAfterReason ? FallbackReasons.TooManyRequests : FallbackReasons.ConnectFailure;
                if (CanFallBack(reason))
                {
                    _current.FailReason = reason;
                    return null;
                }
            }
            // A fallback's picks keep the first backend that failed in TriedA, so a target sharing its pool avoids it.
            if (_current.TriedA is null) _current.TriedA = backend;
            else _current.TriedB = backend;
            _current.Picked = backend;
            // send_proxy: a connection that carried one client's PROXY header is never lent to another client.
            // tls: only a connection opened with the service's TLS settings in force is reused.
            var tls = _current.Service!.Tls is null ? null : UpstreamTls.For(_current.Service.Tls);
            var upstream = (_current.Service.SendProxy != 0 ? TakeOwnUpstream(backend.State, tls) : _proxy.Pool.TryRent(backend.State, _socket.Loop, tls))
                           ?? await ConnectAsync(backend, _current.Service).ConfigureAwait(false);
            if (upstream is not null) return upstream;
        }
        return null;
    }

    /// <summary>No backend could take the request: 503 naming the pool when it has nothing healthy, 503 when nothing has weight, else 502.</summary>
    private ValueTask<Outcome> AnswerNoUpstreamAsync(bool bodyConsumed)
    {
        if (IsAborted) return new ValueTask<Outcome>(Outcome.Abort);
        if (_current.Unavailable is { } pool) return AnswerAsync(503, bodyConsumed, _current.Routed, pool);
        if (_current.OutOfDescriptors) return AnswerAsync(503, bodyConsumed);
        return AnswerAsync(_current.Attempts <= 1 && _current.TriedA is null ? 503 : 502, bodyConsumed);
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
        Enter(RequestPhase.ConnectingUpstream);
        _current.Retries++;
        UpstreamConnection? upstream = null;
        if (wasReused) upstream = await ConnectAsync(_current.Picked!, _current.Service!).ConfigureAwait(false);
        upstream ??= await ConnectNextAsync().ConfigureAwait(false);
        if (upstream is null) return await AnswerNoUpstreamAsync(!_request.HasBody).ConfigureAwait(false);
        CountOn(upstream);
        return await StartExchangeAsync(upstream).ConfigureAwait(false);
    }

    /// <summary>The request moves to <paramref name="upstream"/>'s backend: count it there, so drains and least_request see where it runs.</summary>
    private void CountOn(UpstreamConnection upstream)
    {
        if (ReferenceEquals(upstream.Backend, _current.Counted)) return;
        _current.Counted?.Release(this, _current.CountedPinned);
        _current.Counted = upstream.Backend;
        _current.Counted.Acquire(this, _current.CountedPinned);
        _current.StatsBackend = _current.Counted;
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
                    _current.OutOfDescriptors = true;
                    return null;
                }
            }
            // Refused, unreachable or timed out: counts toward ejection.
            if (upstream is null && !IsAborted) backend.State.RecordFailure(deadline.IsCancellationRequested ? "connect timeout" : "connect failed");
            if (upstream is null)
            {
                if (!IsAborted) backend.State.RecordConnectFailure(timedOut: deadline.IsCancellationRequested);
                return null;
            }
            if (config.Tls is not null && !await StartTlsAsync(upstream, config, deadline.Token).ConfigureAwait(false)) return null;
            backend.State.Traffic.RecordConnect(Stopwatch.GetTimestamp() - started);
            return upstream;
        }
        finally
        {
            Volatile.Write(ref _connecting, null);
            deadline.Dispose();
        }
    }

    /// <summary>
    /// tls: the handshake on a new upstream connection, within what is left of connect_timeout; send_proxy's header goes
    /// first, in plain text. False (the connection closed, the failure counted and logged) when it failed: the request
    /// moves to the next backend or is answered 502, never sent in plain text.
    /// </summary>
    private async ValueTask<bool> StartTlsAsync(UpstreamConnection upstream, ServiceConfig config, CancellationToken deadline)
    {
        if (config.SendProxy != 0) WriteProxyHeader(upstream, config.SendProxy);
        var outcome = await upstream.StartTlsAsync(UpstreamTls.For(config.Tls)!, deadline).ConfigureAwait(false);
        if (outcome.Stream is not null) return true;
        upstream.Discard(graceful: false);
        if (!IsAborted) UpstreamTls.Failed(upstream.Backend, outcome);
        return false;
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
        Enter(RequestPhase.SendingRequest);
        if (IsAborted) upstream.Abort();
        var hasBody = _request.HasBody;
        _current.Exchanged = true;
        _current.MayRetry = !hasBody && IsIdempotent(_request.Method) && _current.Retries < MaxConnectAttempts;
        _current.RequestBodyDone = !hasBody;
        _current.RequestBodyInvalid = false;
        if (_current.Service!.SendProxy != 0 && !upstream.ProxyHeaderSent) WriteProxyHeader(upstream, _current.Service.SendProxy);
        HttpHeadWriter.WriteRequestHead(upstream.Output, _request, new RequestHeadOptions
        {
            ClientAddress = _clientAddress,
            TrustForwarded = _peerTrusted,
            Scheme = _tls is null ? "http"u8 : "https"u8,
            HostOverride = _current.Service!.RewriteHost ? upstream.HostBytes : default,
            AllowUpgrade = _request.IsUpgradeRequest,
            RewrittenContentLength = _current.ModelRewrite.IsNone || _request.IsChunked ? 0 : _current.ModelRewrite.RewrittenLength(_request.ContentLength),
        });
        MarkExchangeStart();
        if (!await FlushUpstreamAsync(upstream.Output).ConfigureAwait(false))
        {
            return _current.MayRetry ? Outcome.RetryFresh : await AnswerAsync(502, !hasBody).ConfigureAwait(false);
        }

        // The client's request went first; a copy for the route's mirror starts only now and never holds it up.
        if (_current.Mirror is { } mirror) BeginMirror(mirror);
        // The body streams concurrently with the response: a backend may answer (or echo) before it read it all.
        if (hasBody) StartPump(upstream);
        // The deadline runs from the request head; body upload progress (Touch) extends it.
        Enter(RequestPhase.AwaitingResponseHead);
        Watch(upstream.Input, null, _current.Service.ResponseHeadTimeout);
        return Outcome.AwaitResponse;
    }

    /// <summary>Ends the exchange on <paramref name="upstream"/>: stops the body pump, then pools the connection or closes it (FIN when clean, else RST).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask EndExchangeAsync(UpstreamConnection upstream, bool reusable, bool clean)
    {
        await StopPumpAsync(upstream).ConfigureAwait(false);
        Volatile.Write(ref _upstream, null);
        if (!reusable || IsAborted) upstream.Discard(graceful: clean);
        else if (_current.Service!.SendProxy != 0) Interlocked.Exchange(ref _ownUpstream, upstream)?.Discard();
        else _proxy.Pool.Return(upstream, _current.Service.UpstreamIdleTimeout);
    }

    /// <summary>Cuts the exchange still open, if any: it ended without a clean response (error, retry, tunnel).</summary>
    private ValueTask CutExchangeAsync() =>
        Volatile.Read(ref _upstream) is { } open ? EndExchangeAsync(open, reusable: false, clean: false) : default;

    /// <summary>The request is over, however it ended: cuts an exchange still open, ends its timeout phase and uncounts it on its backend (phase Done).</summary>
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
            if (_mirrorCopy is not null) AbandonMirror();
            Enter(RequestPhase.Done);
            Volatile.Write(ref _drainCut, 0);
            if (_current.Counted is { } state)
            {
                _current.Counted = null;
                state.Release(this, _current.CountedPinned);
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
        if (upstream is null || _phase is RequestPhase.ResponseBody or RequestPhase.Tunnel)
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
        Enter(RequestPhase.Answering);
        var state = _current.Picked?.State;
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
            _current.Sticky = service.StickyPoolForClient(ClientHash());
            return;
        }
        if (_request.TryGetCookie(_proxy.NameBytes(sticky.Cookie), out var value) && service.SharedPoolNamed(value) is { } kept)
        {
            _current.Sticky = kept;
            return;
        }
        _current.Sticky = service.PoolByShare();
        _current.SetCookie = _current.Sticky.StickyCookieHeader;
    }

    private static int CountBackends(ServiceSnapshot service, PoolSnapshot? pinned)
    {
        if (pinned is not null) return pinned.Backends.Length;
        var n = 0;
        foreach (var pool in service.Pools) n += pool.Backends.Length;
        return n;
    }
}
