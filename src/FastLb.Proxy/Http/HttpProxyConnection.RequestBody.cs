using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    private ValueTask _pump;
    private bool _pumping;
    private volatile bool _stopPump;
    private volatile bool _requestBodyDone;
    private volatile bool _requestBodyInvalid;

    private void StartPump(UpstreamConnection upstream)
    {
        _requestBody.Reset(_request);
        _stopPump = false;
        _pump = PumpRequestBodyAsync(upstream);
        _pumping = true;
    }

    /// <summary>Streams the request body from the client to the backend: validated bytes only, never the next request's.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask PumpRequestBodyAsync(UpstreamConnection upstream)
    {
        var input = _input;
        var output = upstream.Output;
        var cut = false;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var status = _requestBody.Advance(buffer, result.IsCompleted, out var forward);
                if (forward > 0)
                {
                    foreach (var segment in buffer.Slice(0, forward)) output.Write(segment.Span);
                }
                // While the body goes on, forward is the whole buffer, so examined = end (rule 3).
                input.AdvanceTo(buffer.GetPosition(forward));
                if (forward > 0 || status == BodyParseStatus.Done)
                {
                    Touch();
                    var flush = await output.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted || flush.IsCanceled) return; // the backend went away, or we stopped
                }
                if (status == BodyParseStatus.Done)
                {
                    _requestBodyDone = true;
                    return;
                }
                if (status == BodyParseStatus.Error)
                {
                    // Invalid chunk framing or a truncated body: the backend must not see a request that ends early.
                    _requestBodyInvalid = !result.IsCompleted;
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
                upstream.Output.CancelPendingFlush();
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
