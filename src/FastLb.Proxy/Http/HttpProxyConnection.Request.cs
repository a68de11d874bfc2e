using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using FastLb.Core.Config;
using FastLb.Core.Routing;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    /// <summary>Routes the parsed request by the current table, picks and connects (with retries), and runs the exchange.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome> ProxyRequestAsync()
    {
        // One table per request: this request sees the old table or the new one, never a mix.
        var table = _proxy.Router.Current;
        var route = table.FindListener(_listener.Name)?.Match(_request);
        var bodyConsumed = !_request.HasBody;
        if (route is null) return await AnswerAsync(404, bodyConsumed).ConfigureAwait(false);

        var service = route.Service;
        var config = service.Config;
        var pinned = route.PinnedPool;
        var hash = Hash(config);
        var tries = Math.Clamp(CountBackends(service, pinned), 1, MaxConnectAttempts);
        BackendSnapshot? backend = null;
        UpstreamConnection? upstream = null;
        for (var attempt = 0; attempt < tries && upstream is null && !IsAborted; attempt++)
        {
            backend = pinned is null ? service.Pick(hash, attempt) : ServiceSnapshot.PickInPool(pinned, hash, attempt);
            if (backend is null) return await AnswerAsync(attempt == 0 ? 503 : 502, bodyConsumed).ConfigureAwait(false);
            // Nothing was sent yet, so a refused connect moves on to the next pick.
            upstream = _proxy.Pool.TryRent(backend.State) ?? await ConnectAsync(backend, config).ConfigureAwait(false);
        }
        if (upstream is null) return IsAborted ? Outcome.Abort : await AnswerAsync(502, bodyConsumed).ConfigureAwait(false);

        var state = upstream.Backend;
        state.Acquire(this);
        try
        {
            var outcome = await ExchangeAsync(upstream, config).ConfigureAwait(false);
            if (outcome != Outcome.RetryFresh) return outcome;
            // The pooled connection was closed by the backend before answering; the request is idempotent and
            // bodiless, so sending it again on a fresh connection is safe. Once only.
            upstream = await ConnectAsync(backend!, config).ConfigureAwait(false);
            if (upstream is null) return IsAborted ? Outcome.Abort : await AnswerAsync(502, bodyConsumed).ConfigureAwait(false);
            outcome = await ExchangeAsync(upstream, config).ConfigureAwait(false);
            return outcome == Outcome.RetryFresh ? await AnswerAsync(502, bodyConsumed).ConfigureAwait(false) : outcome;
        }
        finally
        {
            state.Release(this);
        }
    }

    private async ValueTask<UpstreamConnection?> ConnectAsync(BackendSnapshot backend, ServiceConfig config)
    {
        var upstream = await UpstreamConnection.ConnectAsync(backend, config.ConnectTimeout, _proxy.Transport, _abort.Token)
            .ConfigureAwait(false);
        if (upstream is null && !IsAborted) backend.State.RecordFailure(); // refused, unreachable or timed out
        return upstream;
    }

    /// <summary>
    /// One request/response exchange on <paramref name="upstream"/>: head, body (concurrently), response head with
    /// 1xx relayed, 101 → tunnel, response body. Returns the connection to the pool only when the exchange ended cleanly.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome> ExchangeAsync(UpstreamConnection upstream, ServiceConfig config)
    {
        Volatile.Write(ref _upstream, upstream);
        if (IsAborted) upstream.Abort();
        var hasBody = _request.HasBody;
        var mayRetry = upstream.Reused && !hasBody && IsIdempotent(_request.Method);
        _requestBodyDone = !hasBody;
        _requestBodyInvalid = false;
        var reusable = false;
        var clean = false;
        try
        {
            HttpHeadWriter.WriteRequestHead(upstream.Output, _request, new RequestHeadOptions
            {
                ClientAddress = _clientAddress,
                Scheme = "http"u8,
                HostOverride = config.RewriteHost ? upstream.HostBytes : default,
                AllowUpgrade = _request.IsUpgradeRequest,
            });
            if (!await FlushUpstreamAsync(upstream.Output).ConfigureAwait(false))
            {
                return mayRetry ? Outcome.RetryFresh : await AnswerAsync(502, !hasBody).ConfigureAwait(false);
            }

            // The body streams concurrently with the response: a backend may answer (or echo) before it read it all.
            if (hasBody) StartPump(upstream);

            var head = await ReadResponseHeadAsync(upstream, config).ConfigureAwait(false);
            if (head != ResponseRead.Complete)
            {
                await StopPumpAsync(upstream).ConfigureAwait(false);
                if (head == ResponseRead.ClientGone || IsAborted) return Outcome.Abort;
                if (head == ResponseRead.Stale && mayRetry) return Outcome.RetryFresh;
                var status = _requestBodyInvalid ? 400 : head == ResponseRead.TimedOut ? 504 : 502;
                return await AnswerAsync(status, _requestBodyDone).ConfigureAwait(false);
            }

            if (_response.StatusCode == 101)
            {
                if (!_request.IsUpgradeRequest)
                {
                    await StopPumpAsync(upstream).ConfigureAwait(false);
                    return await AnswerAsync(502, _requestBodyDone).ConfigureAwait(false);
                }
                await WaitPumpAsync().ConfigureAwait(false);
                if (!_requestBodyDone) return Outcome.Abort;
                return await TunnelAsync(upstream, config).ConfigureAwait(false);
            }

            var http10 = _request.Version == HttpProtocolVersion.Http10;
            // An HTTP/1.0 client cannot read chunked: send the data de-chunked and delimit it by closing.
            var dechunk = http10 && _response.Framing == BodyFraming.Chunked;
            var closeClient = !_request.KeepAlive || _stopping || dechunk || _response.Framing == BodyFraming.CloseDelimited;
            HttpHeadWriter.WriteResponseHead(_output, _response, new ResponseHeadOptions
            {
                ConnectionClose = closeClient,
                ConnectionKeepAlive = http10 && !closeClient,
                OmitFraming = http10 && _response.HasChunkedTransferEncoding,
            });
            if (!await ForwardResponseBodyAsync(upstream, config, dechunk).ConfigureAwait(false))
            {
                return Outcome.Abort; // The head went out: only a cut tells the client the body is incomplete.
            }

            if (_pumping && !_pump.IsCompleted)
            {
                // The backend answered without reading the whole body: the rest cannot be framed any more.
                await StopPumpAsync(upstream).ConfigureAwait(false);
            }
            else
            {
                await WaitPumpAsync().ConfigureAwait(false);
            }
            clean = true;
            reusable = _requestBodyDone && _response.CanReuseConnection;
            return closeClient || !_requestBodyDone ? Outcome.Close : Outcome.Next;
        }
        finally
        {
            await StopPumpAsync(upstream).ConfigureAwait(false);
            Volatile.Write(ref _upstream, null);
            if (reusable && !IsAborted) _proxy.Pool.Return(upstream, config.UpstreamIdleTimeout);
            else upstream.Discard(graceful: clean);
        }
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
        if (config.Balance != BalanceKind.Hash || on.Source == HashSource.ClientIp || on.Name is null) return _clientHash;
        var name = _proxy.NameBytes(on.Name);
        ReadOnlySpan<byte> value;
        var found = on.Source == HashSource.Header ? _request.TryGetHeader(name, out value) : _request.TryGetCookie(name, out value);
        return found ? KeyHash.Of(value) : _clientHash; // no key: fall back to the client address
    }

    private static bool IsIdempotent(HttpMethodKind method) => method is HttpMethodKind.Get or HttpMethodKind.Head
        or HttpMethodKind.Options or HttpMethodKind.Trace or HttpMethodKind.Put or HttpMethodKind.Delete;

    private static int CountBackends(ServiceSnapshot service, PoolSnapshot? pinned)
    {
        if (pinned is not null) return pinned.Backends.Length;
        var n = 0;
        foreach (var pool in service.Pools) n += pool.Backends.Length;
        return n;
    }
}
