using System.Runtime.CompilerServices;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Health;
using FastLb.Core.Routing;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    // fallback: a request whose attempt ends in one of fallback.on before any response byte reached the client goes to
    // the next target of fallback.to. What was sent must be sent again: the head is still parsed in _request, and the
    // body bytes the pump took from the client are held in _replay (pooled) until they pass max_replay_body. Only
    // services with fallback: hold anything; for the others this costs a null test per request.

    /// <summary>Fallback log lines, at most this many a second (the rest are counted in the next line).</summary>
    private static readonly ErrorLogLimiter FallbackLog = new(ErrorLogLimiter.LinesPerSecond);

    private ReplayBuffer? _replay; // made on the first request to a service with fallback:

    /// <summary>The routed service has <paramref name="fallback"/>: remember where the request may go next and start holding its body.</summary>
    private void BeginFallback(FallbackConfig fallback, ServiceSnapshot service, RoutingTable table)
    {
        _current.Fallback = fallback;
        _current.FallbackOrigin = service;
        _current.FallbackTable = table;
        if (!_request.HasBody)
        {
            _current.Replayable = true;
            return;
        }
        _replay ??= new ReplayBuffer();
        _current.Replayable = _replay.Begin(_request.IsChunked ? -1 : _request.ContentLength, fallback.MaxReplayBody);
    }

    /// <summary>Holds body bytes the pump forwards; past max_replay_body the request can no longer be sent again.</summary>
    private void Hold(in System.Buffers.ReadOnlySequence<byte> bytes)
    {
        if (!_replay!.Append(bytes)) _current.Replayable = false;
    }

    /// <summary>
    /// Whether an attempt that ended in <paramref name="reason"/> moves on: the service lists the reason, a target and
    /// an attempt are left, nothing reached the client yet, and what was sent can be sent again.
    /// </summary>
    private bool CanFallBack(FallbackReasons reason) =>
        _current.Fallback is { } fallback
        && (fallback.On & reason) != 0
        && _current.FallbackStep < fallback.To.Count
        && _current.FallbackStep + 1 < fallback.MaxAttempts
        && (_current.Replayable || !_current.Exchanged)
        && !_current.ClientBytesSent
        && !_current.RequestBodyInvalid
        && !IsAborted;

    /// <summary>
    /// The exchange on <paramref name="upstream"/> ended in <paramref name="reason"/> before any byte went to the
    /// client (the pump is stopped): close it unread and send the request again, held body first, to the next target.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome> FallBackAsync(UpstreamConnection upstream, FallbackReasons reason)
    {
        await EndExchangeAsync(upstream, reusable: false, clean: reason != FallbackReasons.Timeout).ConfigureAwait(false);
        Enter(RequestPhase.ConnectingUpstream);
        _current.Replaying = _request.HasBody;
        _current.Status = 0; // the answer that made it fall back is not the request's
        _current.ResponseHeadTicks = -1;
        var next = await FallBackConnectAsync(reason).ConfigureAwait(false);
        while (next is null && CanFallBack(_current.FailReason))
        {
            next = await FallBackConnectAsync(_current.FailReason).ConfigureAwait(false);
        }
        if (next is null) return await AnswerNoUpstreamAsync(_current.BodyReceived || !_request.HasBody).ConfigureAwait(false);
        CountOn(next);
        return await StartExchangeAsync(next).ConfigureAwait(false);
    }

    /// <summary>Moves the request to the next target of fallback.to (counted and logged) and connects to one of its backends; null when none connects.</summary>
    private ValueTask<UpstreamConnection?> FallBackConnectAsync(FallbackReasons reason)
    {
        var fallback = _current.Fallback!;
        var origin = _current.FallbackOrigin!;
        _current.FallbackTrail = FallbackTrail.With(_current.FallbackTrail, _current.FallbackStep, reason);
        var target = fallback.To[_current.FallbackStep++];
        CountFallback(origin, target.Name, reason);
        var service = target.IsPool ? origin : _current.FallbackTable!.FindService(target.Name);
        var pool = target.IsPool ? origin.FindPool(target.Name) : null;
        _current.LogPool = null;
        _current.LogBackend = null;
        _current.Unavailable = null;
        _current.TargetAttempts = 0;
        if (service is null || (target.IsPool && pool is null)) return new ValueTask<UpstreamConnection?>((UpstreamConnection?)null);
        _current.Routed = service;
        _current.Service = service.Config;
        _current.LogService = service.Name;
        _current.Pinned = pool;
        _current.Sticky = null;
        _current.SetCookie = null; // a sticky_split cookie names a pool of the routed service
        _current.Hash = Hash(service.Config);
        return ConnectNextAsync();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountFallback(ServiceSnapshot origin, string to, FallbackReasons reason)
    {
        var fromService = _current.LogService ?? origin.Name;
        var fromPool = _current.LogPool ?? "-";
        if (_current.FallbackStep == 1)
        {
            _current.FallbackFromService = fromService;
            _current.FallbackFromPool = _current.LogPool;
        }
        origin.Fallbacks?.Add(origin.Name, fromService, fromPool, to, reason);
        if (!FallbackLog.TryAcquire(out var suppressed)) return;
        var more = suppressed > 0 ? $" ({suppressed} similar line(s) suppressed)" : "";
        Log.Warn($"listener '{_owner.Name}': service '{origin.Name}' falls back from {fromService}/{fromPool} {_current.LogBackend ?? "-"} " +
                 $"({FallbackReasonNames.Name(reason)}) to '{to}', attempt {_current.FallbackStep + 1} of {_current.Fallback!.MaxAttempts}{more}");
    }

    /// <summary>Why a target with nothing healthy falls back: 429 when a Retry-After ejected one of its backends, else connect_failure.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static FallbackReasons FallbackReasonWhenNothingHealthy(PoolSnapshot pool)
    {
        foreach (var b in pool.Backends)
        {
            if (b.State.Health.EjectionMarked && b.State.Health.LastFailure == BackendHealth.RetryAfterReason) return FallbackReasons.TooManyRequests;
        }
        return FallbackReasons.ConnectFailure;
    }

    /// <summary>A 429 from a service with fallback: its Retry-After (delay-seconds or HTTP-date, at most 5 min) ejects the backend that long.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EjectOnRetryAfter(BackendState backend)
    {
        if (!_response.TryGetHeader("retry-after"u8, out var value)) return;
        if (!RetryAfter.TryParse(value, DateTimeOffset.UtcNow, out var delay)) return;
        backend.Health.EjectFor(delay);
    }
}
