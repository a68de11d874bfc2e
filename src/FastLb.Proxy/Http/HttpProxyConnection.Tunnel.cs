using System.Buffers;
using System.IO.Pipelines;
using FastLb.Core.Config;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    /// <summary>
    /// After a 101: relays the 101 head, then bytes both ways until both directions end, like the TCP relay. A clean
    /// end of one side (FIN) finishes only that direction; a reset or failure resets the other side too. The request
    /// stays counted on its backend for the tunnel's life, so a drain deadline cuts it through <see cref="Abort"/>.
    /// </summary>
    private async ValueTask<Outcome> TunnelAsync(UpstreamConnection upstream, ServiceConfig config)
    {
        HttpHeadWriter.WriteResponseHead(_output, _response, new ResponseHeadOptions { AllowUpgrade = true });
        Enter(RequestPhase.Tunnel);
        Watch(null, null, config.IdleTimeout);
        try
        {
            var up = CopyAsync(_input, upstream.Output);
            var down = CopyAsync(upstream.Input, _output);
            await up.ConfigureAwait(false);
            await down.ConfigureAwait(false);
        }
        finally
        {
            Unwatch();
        }
        return Outcome.Close;
    }

    /// <summary>Copies until <paramref name="from"/> ends, then completes both pipes, passing a failure on as a reset.</summary>
    private async Task CopyAsync(PipeReader from, PipeWriter to)
    {
        Exception? error = null;
        try
        {
            // The 101 head is already in the client pipe; the first flush of the down direction sends it.
            if (ReferenceEquals(to, _output))
            {
                var first = await to.FlushAsync().ConfigureAwait(false);
                if (first.IsCompleted) return;
            }
            while (true)
            {
                var result = await from.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer) to.Write(segment.Span);
                from.AdvanceTo(buffer.End);
                if (!buffer.IsEmpty)
                {
                    Touch();
                    var flush = await to.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted || flush.IsCanceled) break;
                }
                if (result.IsCompleted || (result.IsCanceled && Expired)) break;
            }
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            await from.CompleteAsync().ConfigureAwait(false);
            await to.CompleteAsync(error).ConfigureAwait(false);
        }
    }
}
