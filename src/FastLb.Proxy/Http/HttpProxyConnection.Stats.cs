using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Json;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    // What is counted of the request being served (the record fields of RequestState): started by BeginRecord when
    // its first byte arrived, completed by the steps (status sent, backend, time to the response head, cause), and
    // added to the listener's and backend's per-loop counters by EndRecord. Plain fields: one loop serves the request.
    // Byte counts of the client connection when the previous request ended: a request's head has arrived before
    // BeginRecord runs, so its bytes are counted from the end of the one before (the sums stay exact).
    private long _bytesInAtStart;
    private long _bytesOutAtStart;

    /// <summary>Starts the record of a request; the rest of <see cref="_current"/> is already reset (<see cref="FinishRequest"/>).</summary>
    private void BeginRecord()
    {
        _current.Recording = true;
        _current.RequestStartTicks = Stopwatch.GetTimestamp();
        _current.ResponseHeadTicks = -1;
    }

    /// <summary>The request head was sent upstream: the time to the response head runs from here.</summary>
    private void MarkExchangeStart() => _current.ExchangeStartTicks = Stopwatch.GetTimestamp();

    /// <summary>The final response head arrived with <paramref name="status"/>.</summary>
    private void MarkResponseHead(int status)
    {
        _current.ResponseHeadTicks = Stopwatch.GetTimestamp() - _current.ExchangeStartTicks;
        _current.Status = status;
    }

    /// <summary>FastLb answers <paramref name="status"/> itself; the cause defaults from the status unless a step set one.</summary>
    private void MarkAnswer(int status)
    {
        _current.Status = status;
        if (_current.Cause != TerminationCause.Ok) return;
        _current.Cause = status switch
        {
            404 => TerminationCause.NoRoute,
            503 => TerminationCause.NoBackend,
            502 => _current.StatsBackend is null ? TerminationCause.ConnectFailed : TerminationCause.UpstreamReset,
            504 or 408 => TerminationCause.Timeout,
            _ => TerminationCause.Rejected,
        };
    }

    /// <summary>Counts the request that just ended on its listener and backend (per-loop counters: no lock, no allocation).</summary>
    private void EndRecord(SocketConnection client)
    {
        if (!_current.Recording) return;
        _current.Recording = false;
        if (IsAborted) _current.Cause = TerminationCause.DrainDeadline;
        else if (_current.ResponseCut && _current.Cause == TerminationCause.Ok) _current.Cause = TerminationCause.ClientClosed;
        var duration = Stopwatch.GetTimestamp() - _current.RequestStartTicks;
        var receivedNow = client.Input.BytesReceived;
        var sentNow = client.Output.BytesSent;
        var bytesIn = receivedNow - _bytesInAtStart;
        var bytesOut = sentNow - _bytesOutAtStart;
        _bytesInAtStart = receivedNow;
        _bytesOutAtStart = sentNow;
        _owner.Traffic.Traffic.RecordRequest(_current.Status, duration, _current.ResponseHeadTicks, bytesIn, bytesOut);
        // A head below 500 that the backend then reset or stalled: the client got a cut response, an error the status class hides.
        var broken = _current.Status is > 0 and < 500 && _current.Cause is TerminationCause.UpstreamReset or TerminationCause.Timeout;
        if (broken) _owner.Traffic.Traffic.Add(TrafficField.BrokenResponses);
        // Connects moved on to another backend, plus requests sent again after a stale or reset connection.
        var retries = Math.Max(0, _current.Attempts - 1) + _current.Retries;
        var usage = ReportedUsage();
        if (_current.TokenLimits is not null && !usage.IsNone) ChargeTokens(usage.Tokens);
        if (_owner.AccessLog is { } log && _owner.Config.AccessLog is { } options) WriteAccessLog(log, options, duration, bytesIn, bytesOut, retries, usage);
        if (_current.Status is 400 or 404 or 502 or 503 or 504 || _current.Cause is TerminationCause.UpstreamReset or TerminationCause.ConnectFailed)
        {
            ReportError(retries);
        }
        if (_current.ModelLabel is not null && _current.StatsBackend is { } modelBackend) RecordByModel(modelBackend, duration, usage);
        if (_current.StatsBackend is { } backend)
        {
            var traffic = backend.Traffic;
            if (usage.PromptTokens > 0) traffic.Add(TrafficField.PromptTokens, usage.PromptTokens);
            if (usage.CompletionTokens > 0) traffic.Add(TrafficField.CompletionTokens, usage.CompletionTokens);
            traffic.RecordRequest(_current.Status, duration, _current.ResponseHeadTicks, bytesIn, bytesOut);
            if (retries > 0) traffic.Add(TrafficField.Retries, retries);
            if (_current.Cause == TerminationCause.Timeout) traffic.Add(TrafficField.Timeouts);
            else if (_current.Cause == TerminationCause.UpstreamReset) traffic.Add(TrafficField.Resets);
            if (broken) traffic.Add(TrafficField.BrokenResponses);
        }
    }

    /// <summary>The request's access log line, formatted on this loop into its buffer (see <see cref="AccessLog"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteAccessLog(AccessLog log, AccessLogConfig options, long durationTicks, long bytesIn, long bytesOut, int retries, TokenUsage usage)
    {
        Span<byte> client = stackalloc byte[64];
        var clientLength = 0;
        var port = -1;
        var peer = _peer; // the client a trusted PROXY header named, else the peer
        if (_peerTrusted && EffectiveClientAddress() is { } effective && !effective.Equals(peer?.Address))
        {
            // The client a trusted proxy names: its port is the proxy's business.
            if (!effective.TryFormat(client, out clientLength)) clientLength = 0;
        }
        else
        {
            _clientAddress.AsSpan().CopyTo(client);
            clientLength = _clientAddress.Length;
            port = peer?.Port ?? -1;
        }
        var request = _request;
        var record = new AccessLogRecord
        {
            Time = DateTime.UtcNow,
            Client = client[..clientLength],
            ClientPort = port,
            Listener = _owner.Name,
            Route = _current.RouteNumber,
            Alias = _current.RouteAlias,
            Service = _current.LogService,
            Pool = _current.LogPool,
            Backend = _current.LogBackend,
            Generation = _current.Generation,
            Http = true,
            Method = request.MethodBytes,
            Path = options.LogQuery ? request.PathAndQuery : request.Path,
            Status = _current.Status,
            BytesIn = bytesIn,
            BytesOut = bytesOut,
            DurationMicros = ToMicros(durationTicks),
            UpstreamHeadMicros = _current.ResponseHeadTicks < 0 ? -1 : ToMicros(_current.ResponseHeadTicks),
            Retries = retries,
            Cause = _current.Cause,
            Model = _modelName.AsSpan(0, _current.ModelLength),
            PromptTokens = usage.PromptTokens,
            CompletionTokens = usage.CompletionTokens,
            Fallback = _current.Fallback,
            FallbackSteps = _current.FallbackStep,
            FallbackTrail = _current.FallbackTrail,
            FallbackFromService = _current.FallbackFromService,
            FallbackFromPool = _current.FallbackFromPool,
        };
        log.Write(record, options);
    }

    /// <summary>FastLb answered an error itself, or the backend failed: one line on the process log, at a bounded rate.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReportError(int retries)
    {
        if (!ErrorLogLimiter.Shared.TryAcquire(out var suppressed)) return;
        var request = _request;
        var method = Encoding.ASCII.GetString(request.MethodBytes.Length > 16 ? request.MethodBytes[..16] : request.MethodBytes);
        var path = Encoding.ASCII.GetString(request.Path.Length > 200 ? request.Path[..200] : request.Path);
        var where = _current.LogService is null ? "no route" : $"service '{_current.LogService}' pool '{_current.LogPool ?? "-"}' backend {_current.LogBackend ?? "-"}";
        var status = _current.Status == 0 ? "no response" : _current.Status.ToString(CultureInfo.InvariantCulture);
        var more = suppressed > 0 ? $" ({suppressed} similar line(s) suppressed)" : "";
        Log.Warn($"listener '{_owner.Name}': {status} for {method} {path}: {TerminationCauses.Name(_current.Cause, _current.Status)}, {where}, {retries} retries{more}");
    }

    private static long ToMicros(long ticks) => ticks <= 0 ? 0 : (long)(ticks * (1e6 / Stopwatch.Frequency));
}
