using System.Collections.Concurrent;
using System.Net.Sockets;

namespace FastLb.Tests.Common;

/// <summary>How the loopback test servers stop: cancel, close the listener and every connection, wait (bounded) for their tasks.</summary>
internal static class LoopbackServerShutdown
{
    public static async ValueTask StopAsync(
        CancellationTokenSource stop, Socket listener, ConcurrentDictionary<Socket, Task> connections, Task acceptLoop)
    {
        stop.Cancel();
        listener.Dispose();
        foreach (var (socket, _) in connections) socket.Dispose();
        var tasks = new List<Task>(connections.Values) { acceptLoop };
        try
        {
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch
        {
            // Handlers fail as their sockets close; a stuck one must not hang the test run.
        }
        stop.Dispose();
    }
}
