using System.Net.Sockets;
using FastLb.Core.Diagnostics;

namespace FastLb.Host;

/// <summary>
/// The accept loop of the control-plane servers (control socket, admin HTTP): at most a fixed number of clients
/// are served at once; one more is handed to a refusal and closed, so a flood cannot exhaust the process.
/// </summary>
// CA1001: the semaphore never creates a wait handle (only Wait(0) and Release are used), so there is nothing to dispose.
#pragma warning disable CA1001
internal sealed class BoundedAcceptLoop(string what, int maxClients, Func<Socket, Task> serve, Func<Socket, Task> refuse)
#pragma warning restore CA1001
{
    private readonly SemaphoreSlim _slots = new(maxClients, maxClients);

    /// <summary>Accepts until <paramref name="stop"/> fires; each client is disposed after it is served or refused.</summary>
    public async Task RunAsync(Socket listener, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                // Out of descriptors (EMFILE) repeats until one frees: back off rather than spin on it.
                Log.Warn($"{what} accept failed: {e.Message}");
                try
                {
                    await Task.Delay(100, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            if (!_slots.Wait(0, CancellationToken.None))
            {
                _ = FinishAsync(client, refuse, slot: false);
                continue;
            }
            _ = FinishAsync(client, serve, slot: true);
        }
    }

    private async Task FinishAsync(Socket client, Func<Socket, Task> handle, bool slot)
    {
        try
        {
            await handle(client).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            client.Dispose();
            if (slot) _slots.Release();
        }
    }
}
