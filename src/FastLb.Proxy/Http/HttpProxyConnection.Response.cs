using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using FastLb.Core.Config;
using FastLb.Core.Metrics;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    private enum ResponseRead : byte
    {
        Complete,

        /// <summary>The backend closed or reset before sending any byte (a stale pooled connection).</summary>
        Stale,

        /// <summary>The head is malformed or truncated: 502.</summary>
        Invalid,

        /// <summary>No response head within response_head_timeout: 504.</summary>
        TimedOut,

        /// <summary>The client went away while a 1xx was relayed.</summary>
        ClientGone,
    }

    /// <summary>Goes on with the response once the loop saw backend bytes (or its end, or the deadline): the head first, then the body.</summary>
    private ValueTask<Outcome> ReceiveResponseAsync(UpstreamConnection upstream)
    {
        Debug.Assert(_phase is RequestPhase.AwaitingResponseHead or RequestPhase.ResponseBody, "the loop waits for backend bytes only in these phases");
        return _phase == RequestPhase.ResponseBody ? ForwardResponseBodyAsync(upstream) : ReceiveResponseHeadAsync(upstream);
    }

    /// <summary>
    /// Reads the response head, then: answers a failed one (502/504, or RetryFresh), tunnels after a 101, or writes
    /// the head and starts forwarding the body.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome> ReceiveResponseHeadAsync(UpstreamConnection upstream)
    {
        var config = _current.Service!;
        var head = await ReadResponseHeadAsync(upstream).ConfigureAwait(false);
        if (head != ResponseRead.Complete)
        {
            await StopPumpAsync(upstream).ConfigureAwait(false);
            if (head == ResponseRead.ClientGone || IsAborted) return Outcome.Abort;
            if (Volatile.Read(ref _drainCut) != 0) return await AnswerDrainDeadlineAsync().ConfigureAwait(false);
            if (head == ResponseRead.TimedOut && CanFallBack(FallbackReasons.Timeout))
            {
                return await FallBackAsync(upstream, FallbackReasons.Timeout).ConfigureAwait(false);
            }
            if (head == ResponseRead.Stale)
            {
                // A fresh connection reset before any response byte is the backend failing; a pooled one may just have idled out.
                if (!upstream.Reused && !IsAborted) upstream.Backend.RecordFailure("reset before response");
                if (_current.MayRetry) return Outcome.RetryFresh;
            }
            var status = _current.RequestBodyInvalid ? 400 : head == ResponseRead.TimedOut ? 504 : 502;
            _current.Cause = _current.RequestBodyInvalid ? TerminationCause.Rejected : head == ResponseRead.TimedOut ? TerminationCause.Timeout : TerminationCause.UpstreamReset;
            return await AnswerAsync(status, _current.RequestBodyDone).ConfigureAwait(false);
        }

        MarkResponseHead(_response.StatusCode);
        if (_response.StatusCode >= 500 && config.Outlier is { EjectOn5xx: true }) upstream.Backend.RecordFailure("5xx response");
        else upstream.Backend.RecordSuccess();
        if (_current.Fallback is not null && _response.StatusCode is 429 or 503)
        {
            var reason = _response.StatusCode == 429 ? FallbackReasons.TooManyRequests : FallbackReasons.Unavailable;
            if (reason == FallbackReasons.TooManyRequests) EjectOnRetryAfter(upstream.Backend);
            if (CanFallBack(reason))
            {
                // The pump stops first: what it took from the client by then is held, or (past max_replay_body) the answer passes on.
                await StopPumpAsync(upstream).ConfigureAwait(false);
                if (CanFallBack(reason)) return await FallBackAsync(upstream, reason).ConfigureAwait(false);
            }
        }

        if (_response.StatusCode == 101)
        {
            if (!_request.IsUpgradeRequest)
            {
                await StopPumpAsync(upstream).ConfigureAwait(false);
                return await AnswerAsync(502, _current.RequestBodyDone).ConfigureAwait(false);
            }
            await WaitPumpAsync().ConfigureAwait(false);
            if (!_current.RequestBodyDone) return Outcome.Abort;
            return await TunnelAsync(upstream, config).ConfigureAwait(false);
        }

        var http10 = _request.Version == HttpProtocolVersion.Http10;
        // An HTTP/1.0 client cannot read chunked: send the data de-chunked and delimit it by closing.
        Enter(RequestPhase.ResponseBody);
        _current.Dechunk = http10 && _response.Framing == BodyFraming.Chunked;
        _current.CloseClient = !_request.KeepAlive || _stopping || _closeAfterResponse || _current.Dechunk || _response.Framing == BodyFraming.CloseDelimited;
        HttpHeadWriter.WriteResponseHead(_output, _response, new ResponseHeadOptions
        {
            ConnectionClose = _current.CloseClient,
            ConnectionKeepAlive = http10 && !_current.CloseClient,
            OmitFraming = http10 && _response.HasChunkedTransferEncoding,
            ExtraFields = _current.SetCookie,
        });
        _responseBody.Reset(_response);
        if (_current.Dechunk) _dechunker.Reset();
        if (_current.ScanUsage) StartUsageScan();
        // A server-sent event stream may idle between events longer (or shorter) than other bodies may stall.
        Watch(upstream.Input, _output, IsEventStream() ? config.StreamIdleTimeout : config.IdleTimeout);
        return await ForwardResponseBodyAsync(upstream).ConfigureAwait(false);
    }

    /// <summary>Reads the final response head into <see cref="_response"/>, relaying 1xx interim responses (not 101) to the client.</summary>
    /// <remarks>The loop waited for the first bytes under the response head deadline (armed by StartExchangeAsync), so the first read does not wait.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ResponseRead> ReadResponseHeadAsync(UpstreamConnection upstream)
    {
        var input = upstream.Input;
        var gotBytes = false;
        var first = true;
        try
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    // TryRead only once: later, unconsumed bytes of a partial head would make it return at once forever.
                    if (!first || !input.TryRead(out result))
                    {
                        if (first && Expired) return ResponseRead.TimedOut; // the deadline ended the loop's wait
                        result = await input.ReadAsync().ConfigureAwait(false);
                    }
                    first = false;
                }
                catch (Exception)
                {
                    return gotBytes ? ResponseRead.Invalid : ResponseRead.Stale; // reset by the backend
                }
                var buffer = result.Buffer;
                if (buffer.IsEmpty)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                }
                else
                {
                    gotBytes = true;
                    var status = HttpResponseParser.Parse(buffer, _request.Method, _response, out var consumed, out var examined);
                    input.AdvanceTo(consumed, examined);
                    if (status == HttpParseStatus.Error) return ResponseRead.Invalid;
                    if (status == HttpParseStatus.Complete)
                    {
                        if (!_response.IsInformational || _response.StatusCode == 101) return ResponseRead.Complete;
                        // 1xx (100 Continue, 103 Early Hints): relay to HTTP/1.1 clients, then wait for the final head.
                        if (_request.Version == HttpProtocolVersion.Http11)
                        {
                            _current.ClientBytesSent = true; // from here the request is never sent elsewhere
                            if (!await RelayInterimAsync().ConfigureAwait(false)) return ResponseRead.ClientGone;
                        }
                        Touch();
                        continue;
                    }
                }
                if (result.IsCompleted) return gotBytes ? ResponseRead.Invalid : ResponseRead.Stale;
                if (Expired) return ResponseRead.TimedOut;
            }
        }
        finally
        {
            Unwatch();
        }
    }

    private async ValueTask<bool> RelayInterimAsync()
    {
        HttpHeadWriter.WriteResponseHead(_output, _response, default);
        try
        {
            var flush = await _output.FlushAsync().ConfigureAwait(false);
            return !flush.IsCompleted && !flush.IsCanceled;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>
    /// Forwards the response body bytes at hand to the client (the head is already written, unflushed):
    /// AwaitResponse when it needs more, so the loop waits for them; Abort when either side failed.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome> ForwardResponseBodyAsync(UpstreamConnection upstream)
    {
        var input = upstream.Input;
        var output = _output;
        try
        {
            // No body bytes follow: nothing to wait for (Content-Length: 0 would otherwise wait for the idle timeout).
            if (_response.Framing == BodyFraming.None || _response is { Framing: BodyFraming.ContentLength, ContentLength: 0 })
            {
                if (!await FlushClientAsync(output).ConfigureAwait(false)) return Outcome.Abort;
                return await CompleteResponseAsync(upstream).ConfigureAwait(false);
            }
            // TryRead is safe here: the framer forwards the whole buffer until the body ends, so nothing is left unconsumed.
            while (input.TryRead(out var result))
            {
                var buffer = result.Buffer;
                var status = _responseBody.Advance(buffer, result.IsCompleted, out var forward);
                if (forward > 0)
                {
                    var body = buffer.Slice(0, forward);
                    if (_current.Dechunk) _dechunker.Decode(body, output);
                    else foreach (var segment in body) output.Write(segment.Span);
                    if (_current.ScanUsage) FeedUsage(body);
                    if (_current.ModelLabel is not null && _current.FirstBodyTicks == 0) _current.FirstBodyTicks = Stopwatch.GetTimestamp();
                }
                input.AdvanceTo(buffer.GetPosition(forward));
                if (forward > 0 || status == BodyParseStatus.Done)
                {
                    Touch();
                    // Body bytes that came with the head go out in the same flush.
                    if (!await FlushClientAsync(output).ConfigureAwait(false)) return Outcome.Abort;
                }
                if (status == BodyParseStatus.Done) return await CompleteResponseAsync(upstream).ConfigureAwait(false);
                if (status == BodyParseStatus.Error || result.IsCompleted || Expired)
                {
                    _current.Cause = Expired ? TerminationCause.Timeout : TerminationCause.UpstreamReset; // truncated or malformed body
                    return Outcome.Abort;
                }
            }
            // Nothing more at hand: flush the head (if no body came with it) and let the loop wait for the rest.
            if (Expired)
            {
                _current.Cause = TerminationCause.Timeout;
                return Outcome.Abort;
            }
            if (!await FlushClientAsync(output).ConfigureAwait(false)) return Outcome.Abort;
            return Outcome.AwaitResponse;
        }
        catch (Exception)
        {
            _current.Cause = _client!.PeerClosed ? TerminationCause.ClientClosed : TerminationCause.UpstreamReset;
            return Outcome.Abort; // Either side reset. The head went out: only a cut tells the client the body is incomplete.
        }
    }

    /// <summary>The response went out whole: lets the body pump finish (or stops it), then pools or closes the upstream connection.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome> CompleteResponseAsync(UpstreamConnection upstream)
    {
        if (_pumping && !_pump.IsCompleted)
        {
            // The backend answered without reading the whole body: the rest cannot be framed any more.
            await StopPumpAsync(upstream).ConfigureAwait(false);
        }
        else
        {
            await WaitPumpAsync().ConfigureAwait(false);
        }
        var bodyDone = _current.RequestBodyDone;
        await EndExchangeAsync(upstream, reusable: bodyDone && _response.CanReuseConnection, clean: true).ConfigureAwait(false);
        return _current.CloseClient || !bodyDone ? Outcome.Close : Outcome.Next;
    }

    private bool IsEventStream()
    {
        if (!_response.TryGetHeader("content-type"u8, out var type)) return false;
        int semicolon = type.IndexOf((byte)';');
        if (semicolon >= 0) type = type[..semicolon];
        return System.Text.Ascii.EqualsIgnoreCase(type.Trim((byte)' '), "text/event-stream"u8);
    }

    private static async ValueTask<bool> FlushClientAsync(PipeWriter output)
    {
        var flush = await output.FlushAsync().ConfigureAwait(false);
        return !flush.IsCompleted && !flush.IsCanceled;
    }
}
