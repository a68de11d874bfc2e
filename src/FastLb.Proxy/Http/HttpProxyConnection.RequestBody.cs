using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using FastLb.Core.Json;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    private ValueTask _pump;
    private bool _pumping;
    private volatile bool _stopPump;

    /// <summary>How long a chunked request's head waits for its first chunk line before it goes upstream anyway.</summary>
    private static readonly TimeSpan FirstChunkWait = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Holds a chunked request until the body bytes at hand validated up to the first chunk's data (or the whole body),
    /// so a request whose first chunk line is bad is answered 400 before its head reaches any backend. Returns false
    /// when the framing is invalid (or the client ended inside it); true when it validated or the body is slow.
    /// </summary>
    /// <remarks>
    /// Only the validation runs here: the bytes stay in the input for the body pump, which parses them again from the
    /// start. A client that sent <c>Expect: 100-continue</c> waits for the backend's 100 before sending its body, so
    /// its head is not held. A body slower than <see cref="FirstChunkWait"/> is streamed as it comes, each chunk line
    /// still validated before it is forwarded.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ValidateFirstChunkAsync()
    {
        var input = _input;
        var framer = _requestBody;
        Watch(input, null, FirstChunkWait);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                framer.Reset(_request);
                var status = framer.Advance(buffer, result.IsCompleted, out var valid);
                var waitForMore = status == BodyParseStatus.NeedMoreData && valid == 0 && !result.IsCanceled;
                input.AdvanceTo(buffer.Start, waitForMore ? buffer.End : buffer.Start);
                if (status == BodyParseStatus.Error) return false;
                if (!waitForMore || Expired || _stopping) return true;
            }
        }
        finally
        {
            Unwatch();
        }
    }

    private void StartPump(UpstreamConnection upstream)
    {
        // A fallback's replay goes on where the framer stopped: the bytes before are held, the rest still comes from the client.
        var replay = _current.Replaying;
        if (!replay) _requestBody.Reset(_request);
        _stopPump = false;
#pragma warning disable CA2012 // stored once and awaited exactly once when the response is done (StopPumpAsync or the wait for it to finish)
        _pump = PumpRequestBodyAsync(upstream, replay);
#pragma warning restore CA2012
        _pumping = true;
    }

    /// <summary>
    /// Streams the request body from the client to the backend: validated bytes only, never the next request's. A
    /// <paramref name="replay"/> (a fallback) first sends the bytes held from the attempt before, unchanged.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask PumpRequestBodyAsync(UpstreamConnection upstream, bool replay)
    {
        var input = _input;
        var output = upstream.Output;
        var rewrite = _current.ModelRewrite;
        var chunkedRewrite = _request.IsChunked && !rewrite.IsNone ? new ChunkedModelRewriter(rewrite) : default;
        long sent = 0; // body bytes forwarded so far, for the model rewrite's offsets
        var cut = false;
        try
        {
            if (replay)
            {
                var held = _replay!.Held;
                if (rewrite.IsNone) output.Write(held.FirstSpan);
                else if (_request.IsChunked) chunkedRewrite.Write(held, output); // the rewriter starts over with the body
                else rewrite.Write(held, 0, output);
                sent = held.Length;
                Touch();
                var flush = await output.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled) return;
                if (_current.BodyReceived)
                {
                    _current.RequestBodyDone = true;
                    return;
                }
            }
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var status = _requestBody.Advance(buffer, result.IsCompleted, out var forward);
                // fallback: every byte taken from the client is held until the body passes max_replay_body.
                if (forward > 0 && status != BodyParseStatus.Error && _current.Replayable) Hold(buffer.Slice(0, forward));
                // A read that ends in rejected framing forwards nothing at all, not even its valid prefix.
                if (forward > 0 && status != BodyParseStatus.Error)
                {
                    if (rewrite.IsNone)
                    {
                        foreach (var segment in buffer.Slice(0, forward)) output.Write(segment.Span);
                    }
                    else if (_request.IsChunked)
                    {
                        chunkedRewrite.Write(buffer.Slice(0, forward), output);
                    }
                    else
                    {
                        rewrite.Write(buffer.Slice(0, forward), sent, output);
                    }
                    sent += forward;
                }
                if (_mirrorCopy is not null && status != BodyParseStatus.Error) MirrorBody(buffer.Slice(0, forward), status == BodyParseStatus.Done);
                // While the body goes on, an incomplete chunk line may stay unconsumed: examined = end waits for more (rule 3).
                var end = buffer.GetPosition(forward);
                if (status == BodyParseStatus.NeedMoreData) input.AdvanceTo(end, buffer.End);
                else input.AdvanceTo(end);
                if ((forward > 0 && status != BodyParseStatus.Error) || status == BodyParseStatus.Done)
                {
                    Touch();
                    var flush = await output.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted || flush.IsCanceled) return; // the backend went away, or we stopped
                }
                if (status == BodyParseStatus.Done)
                {
                    _current.BodyReceived = true;
                    _current.RequestBodyDone = true;
                    return;
                }
                if (status == BodyParseStatus.Error)
                {
                    // Invalid chunk framing or a truncated body: the backend must not see a request that ends early.
                    _current.RequestBodyInvalid = !result.IsCompleted;
                    cut = true;
                    return;
                }
                if (_stopPump) return;
            }
        }
        catch (Exception)
        {
            cut = !_stopPump; // the client reset
        }
        finally
        {
            if (cut) upstream.Abort();
        }
    }

    /// <summary>Stops the body pump if it still runs and waits for it; a no-op when none runs.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask StopPumpAsync(UpstreamConnection upstream)
    {
        if (!_pumping) return;
        _pumping = false;
        if (!_pump.IsCompleted)
        {
            _stopPump = true;
            try
            {
                _input.CancelPendingRead();
                upstream.CancelPendingFlush();
            }
            catch (Exception)
            {
            }
        }
        await _pump.ConfigureAwait(false);
    }

    /// <summary>Waits for the body pump to finish on its own.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WaitPumpAsync()
    {
        if (!_pumping) return;
        _pumping = false;
        await _pump.ConfigureAwait(false);
    }
}
