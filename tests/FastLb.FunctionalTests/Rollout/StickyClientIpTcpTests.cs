using System.Net;
using System.Net.Sockets;
using System.Text;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Rollout;

/// <summary>sticky_split by client_ip on a tcp listener: each client address keeps its pool across connections during a split; a swap moves all.</summary>
public sealed class StickyClientIpTcpTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Connects from <paramref name="client"/> (a loopback address) and returns the name the backend writes on accept.</summary>
    private static async Task<string> PoolFromAsync(IPAddress client, IPEndPoint lb)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(client, 0));
        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(lb, cts.Token);
        var buffer = new byte[16];
        var n = 0;
        // "blue" or "green": read until the name is whole (it arrives in one write, maybe split by the relay).
        while (n < 4 || (buffer[0] == (byte)'g' && n < 5))
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(n), SocketFlags.None, cts.Token);
            if (read == 0) break;
            n += read;
        }
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    [Fact]
    public async Task ClientIp_Tcp_EachAddressKeepsItsPool_BothPoolsUsed_SwapMovesEveryAddress()
    {
        await using var blue = LoopbackBackend.Start(LoopbackBackendMode.Name, "blue");
        await using var green = LoopbackBackend.Start(LoopbackBackendMode.Name, "green");
        await using var lb = await HttpLb.StartAsync(
            "listeners:\n  - name: pg\n    bind: 127.0.0.1:0\n    protocol: tcp\n    service: db\n"
            + $"services:\n  db:\n    split: {{ blue: 50, green: 50 }}\n    sticky_split: {{ by: client_ip }}\n"
            + $"    pools:\n      blue:\n        - {blue.EndPoint}\n      green:\n        - {green.EndPoint}\n");
        var addresses = Enumerable.Range(2, 40).Select(i => IPAddress.Parse($"127.0.0.{i}")).ToList();

        var pools = new Dictionary<IPAddress, List<string>>();
        foreach (var address in addresses)
        {
            pools[address] = [];
            for (var c = 0; c < 5; c++) pools[address].Add(await PoolFromAsync(address, lb.EndPoint));
        }

        Assert.All(pools, p => Assert.True(p.Value.Distinct().Count() == 1, $"{p.Key} went to {string.Join(",", p.Value)}"));
        var onGreen = pools.Count(p => p.Value[0] == "green");
        Assert.InRange(onGreen, 8, 32); // split by address hash: about half each
        Assert.All(pools.Values.SelectMany(v => v), name => Assert.True(name is "blue" or "green", name));

        await lb.CtlOkAsync("swap db green");
        foreach (var address in addresses) Assert.Equal("green", await PoolFromAsync(address, lb.EndPoint));
    }
}
