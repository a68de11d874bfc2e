using System.Runtime.CompilerServices;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    private enum HeadRead : byte
    {
        Complete,

        /// <summary>The client closed inside the head: close quietly.</summary>
        Closed,

        /// <summary>The head started but did not complete within request_head_timeout: 408 and close.</summary>
        TimedOut,

        /// <summary>The head is malformed: answer its ErrorStatusCode and close.</summary>
        Invalid,
    }

    /// <summary>Reads the request head whose first byte the loop waited for (request_head_timeout); a head that came whole reads without waiting.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<HeadRead> ReadRequestHeadAsync()
    {
        var input = _input;
        // The first byte starts the slowloris clock: the whole head must arrive in time, trickled or not.
        Watch(input, null, _proxy.Router.Current.Config.Defaults.RequestHeadTimeout);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                var status = HttpRequestParser.Parse(result.Buffer, _request, out var consumed, out var examined);
                input.AdvanceTo(consumed, examined);
                if (status == HttpParseStatus.Complete) return HeadRead.Complete;
                if (status == HttpParseStatus.Error) return HeadRead.Invalid;
                if (result.IsCompleted) return HeadRead.Closed; // FIN inside a head: nothing to answer
                if (Expired) return HeadRead.TimedOut;
            }
        }
        finally
        {
            Unwatch();
        }
    }
}
