using System.Net;
using System.Net.Sockets;
using FastLb.FunctionalTests.Http;

namespace FastLb.FunctionalTests.Host;

/// <summary>A backend that answers an Upgrade: websocket request with 101 and then echoes every byte it receives.</summary>
internal sealed class WebSocketEchoBackend : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _clients = [];
    private readonly Task _accept;

    public WebSocketEchoBackend()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        _accept = AcceptAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            lock (_clients) _clients.Add(client);
            _ = EchoAsync(client);
        }
    }

    private async Task EchoAsync(Socket client)
    {
        try
        {
            if (await ScriptedBackend.ReadHeadAsync(client, _stop.Token) is null) return;
            await ScriptedBackend.SendAsync(client, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", _stop.Token);
            var buffer = new byte[4096];
            while (true)
            {
                var n = await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0) return;
                await client.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        lock (_clients)
        {
            foreach (var c in _clients) c.Dispose();
        }
        await _accept.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
