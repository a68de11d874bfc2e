using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Routing;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy;

/// <summary>A client connection served by an <see cref="IConnectionHandler"/> (HTTP), tracked for drain and shutdown.</summary>
internal sealed class HandlerConnection(EpollSocket client, ProxyListener listener, IConnectionHandler handler, ListenerConfig config)
    : IProxyConnection
{
    private DrainLink _drainLink;

    /// <summary>Links for the backend's intrusive connection list (see <see cref="BackendState.Acquire"/>).</summary>
    public ref DrainLink DrainLink => ref _drainLink;

    private readonly CancellationTokenSource _stopping = new();
    private int _aborted;

    public void Execute() => _ = RunAsync();

    private async Task RunAsync()
    {
        try
        {
            await handler.HandleAsync(client, config, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (Volatile.Read(ref _aborted) == 0)
        {
            Log.Debug($"listener '{listener.Name}': connection handler failed: {e.Message}");
        }
        catch
        {
            // Aborted by drain or shutdown: the handler's I/O failing is the expected outcome.
        }
        finally
        {
            client.Dispose();
            listener.Unregister(this);
        }
    }

    public void RequestClose()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0) return;
        RequestClose();
        client.Abort();
    }

    public void OnHeartbeat(long nowMs)
    {
        // The handler enforces its own keep-alive and head timeouts.
    }
}
