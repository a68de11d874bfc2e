using System.Runtime.CompilerServices;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    private enum HeadRead : byte
    {
        Complete,

        /// <summary>The client closed, idled past the keep-alive timeout, or the listener stops: close quietly.</summary>
        Closed,

        /// <summary>The head started but did not complete within request_head_timeout: 408 and close.</summary>
        TimedOut,

        /// <summary>The head is malformed: answer its ErrorStatusCode and close.</summary>
        Invalid,
    }

    /// <summary>Waits for the next request's first byte (keep-alive timeout), then for its whole head (request head timeout).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<HeadRead> ReadRequestHeadAsync()
    {
        if (_stopping) return HeadRead.Closed;
        var input = _input;
        var defaults = _proxy.Router.Current.Config.Defaults;
        var started = false;
        Watch(input, null, defaults.KeepAliveTimeout);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!started && !buffer.IsEmpty)
                {
                    // The first byte starts the slowloris clock: the whole head must arrive in time, trickled or not.
                    started = true;
                    Watch(input, null, defaults.RequestHeadTimeout);
                }
                if (started)
                {
                    var status = HttpRequestParser.Parse(buffer, _request, out var consumed, out var examined);
                    input.AdvanceTo(consumed, examined);
                    if (status == HttpParseStatus.Complete) return HeadRead.Complete;
                    if (status == HttpParseStatus.Error) return HeadRead.Invalid;
                }
                else
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                }
                if (result.IsCompleted) return HeadRead.Closed; // FIN between or inside heads: nothing to answer
                if (_expired) return started ? HeadRead.TimedOut : HeadRead.Closed;
                if (_stopping && !started) return HeadRead.Closed;
            }
        }
        finally
        {
            Unwatch();
        }
    }
}
