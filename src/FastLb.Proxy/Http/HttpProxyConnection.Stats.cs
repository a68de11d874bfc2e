using System.Diagnostics;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    // What is counted of the request being served: set by BeginRecord when its first byte arrived, completed by the
    // steps (status sent, backend, time to the response head, cause), and added to the listener's and backend's
    // per-loop counters by EndRecord. Plain fields: the request is served by one loop at a time.
    private bool _recording;
    private long _requestStartTicks;
    private long _exchangeStartTicks;
    private long _responseHeadTicks;
    private long _bytesInAtStart;
    private long _bytesOutAtStart;
    private BackendState? _statsBackend;
    private int _status;
    private bool _responseCut;
    private TerminationCause _cause;

    private void BeginRecord(SocketConnection client)
    {
        _recording = true;
        _requestStartTicks = Stopwatch.GetTimestamp();
        _responseHeadTicks = -1;
        _bytesInAtStart = client.Input.BytesReceived;
        _bytesOutAtStart = client.Output.BytesSent;
        _statsBackend = null;
        _status = 0;
        _responseCut = false;
        _cause = TerminationCause.Ok;
    }

    /// <summary>The request head was sent upstream: the time to the response head runs from here.</summary>
    private void MarkExchangeStart() => _exchangeStartTicks = Stopwatch.GetTimestamp();

    /// <summary>The final response head arrived with <paramref name="status"/>.</summary>
    private void MarkResponseHead(int status)
    {
        _responseHeadTicks = Stopwatch.GetTimestamp() - _exchangeStartTicks;
        _status = status;
    }

    /// <summary>FastLb answers <paramref name="status"/> itself; the cause defaults from the status unless a step set one.</summary>
    private void MarkAnswer(int status)
    {
        _status = status;
        if (_cause != TerminationCause.Ok) return;
        _cause = status switch
        {
            404 => TerminationCause.NoRoute,
            503 => TerminationCause.NoBackend,
            502 => _statsBackend is null ? TerminationCause.ConnectFailed : TerminationCause.UpstreamReset,
            504 or 408 => TerminationCause.Timeout,
            _ => TerminationCause.Rejected,
        };
    }

    /// <summary>Counts the request that just ended on its listener and backend (per-loop counters: no lock, no allocation).</summary>
    private void EndRecord(SocketConnection client)
    {
        if (!_recording) return;
        _recording = false;
        if (IsAborted) _cause = TerminationCause.DrainDeadline;
        else if (_responseCut && _cause == TerminationCause.Ok) _cause = TerminationCause.ClientClosed;
        var duration = Stopwatch.GetTimestamp() - _requestStartTicks;
        var bytesIn = client.Input.BytesReceived - _bytesInAtStart;
        var bytesOut = client.Output.BytesSent - _bytesOutAtStart;
        _owner.Traffic.Traffic.RecordRequest(_status, duration, _responseHeadTicks, bytesIn, bytesOut);
        if (_statsBackend is { } backend)
        {
            var traffic = backend.Traffic;
            traffic.RecordRequest(_status, duration, _responseHeadTicks, bytesIn, bytesOut);
            // Connects moved on to another backend, plus requests sent again after a stale or reset connection.
            var retries = Math.Max(0, _attempts - 1) + _retries;
            if (retries > 0) traffic.Add(TrafficField.Retries, retries);
            if (_cause == TerminationCause.Timeout) traffic.Add(TrafficField.Timeouts);
            else if (_cause == TerminationCause.UpstreamReset) traffic.Add(TrafficField.Resets);
            _statsBackend = null;
        }
    }
}
