using System.Diagnostics;
using System.Text;
using FastLb.Tests.Common;
using Xunit;
using Xunit.Abstractions;

namespace FastLb.FunctionalTests.Http;

/// <summary>Blue/green for HTTP: per-request routing on open keep-alive connections during swaps, and draining of requests in flight.</summary>
public sealed class HttpSwapTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;

    private readonly record struct Exchange(long SentAt, long ReceivedAt, string Pool, int Client);

    [Fact]
    public async Task SwapStorm_32KeepAliveClientsSwapEvery50ms_NoFailuresAndNoOldPoolAfterEachReply()
    {
        RawHttpBackend[] blue = [RawHttpBackend.Start("blue-1"), RawHttpBackend.Start("blue-2")];
        RawHttpBackend[] green = [RawHttpBackend.Start("green-1"), RawHttpBackend.Start("green-2")];
        try
        {
            await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml([("blue", blue), ("green", green)], drainTimeout: "2s"));
            var exchanges = new List<Exchange>();
            var failures = new List<string>();
            var swaps = new List<(long SentAt, long RepliedAt, string Target)>();
            using var stop = new CancellationTokenSource();
            var lastLatency = new long[1]; // Stopwatch ticks of the latest exchange, any client

            async Task ClientAsync(int id)
            {
                await using var client = await lb.ConnectAsync();
                var local = new List<Exchange>();
                while (!stop.IsCancellationRequested)
                {
                    var sentAt = Stopwatch.GetTimestamp();
                    try
                    {
                        var response = await client.GetAsync($"/c{id}").WaitAsync(Timeout);
                        var receivedAt = Stopwatch.GetTimestamp();
                        Volatile.Write(ref lastLatency[0], receivedAt - sentAt);
                        if (response.Status != 200 || response.Backend is null)
                        {
                            lock (failures) failures.Add($"client {id}: {response.Status} {response.Head.StartLine} backend={response.Backend}");
                            continue;
                        }
                        local.Add(new Exchange(sentAt, receivedAt, response.Backend.Split('-')[0], id));
                    }
                    catch (Exception e)
                    {
                        lock (failures) failures.Add($"client {id}: {e.GetType().Name}: {e.Message}");
                        break; // the connection is gone; a lost connection is a failure, not something to retry
                    }
                }
                lock (exchanges) exchanges.AddRange(local);
            }

            var clients = Enumerable.Range(0, 32).Select(i => Task.Run(() => ClientAsync(i))).ToArray();
            // 10 s of swaps, and at least 50 of them (a loaded machine answers slowly; 40 s at most).
            var stormStart = Stopwatch.GetTimestamp();
            var target = "green";
            try
            {
                while (Stopwatch.GetElapsedTime(stormStart) < TimeSpan.FromSeconds(10)
                       || (swaps.Count < 50 && Stopwatch.GetElapsedTime(stormStart) < TimeSpan.FromSeconds(40)))
                {
                    var sentAt = Stopwatch.GetTimestamp();
                    var reply = await lb.CtlAsync($"swap web {target}");
                    var repliedAt = Stopwatch.GetTimestamp();
                    Assert.True(reply.GetProperty("ok").GetBoolean(), $"swap {swaps.Count} to {target} failed: {reply}");
                    swaps.Add((sentAt, repliedAt, target));
                    target = target == "green" ? "blue" : "green";
                    // An exchange that overlaps a swap command is not checked: when a loaded machine makes commands and
                    // requests slow, the pause grows with them so that most exchanges still fall between two swaps.
                    var overlap = Stopwatch.GetElapsedTime(sentAt, repliedAt) + Stopwatch.GetElapsedTime(0, Volatile.Read(ref lastLatency[0]));
                    await Task.Delay(TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(50).Ticks, 3 * overlap.Ticks)));
                }
            }
            finally
            {
                stop.Cancel();
            }
            await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(20));

            // A request is held to swap k when its whole exchange lies between swap k's reply and the sending of swap k+1:
            // then only table k can have routed it. Exchanges that overlap a swap command may see either table.
            var checkedCount = 0;
            var violations = new List<string>();
            foreach (var e in exchanges)
            {
                var k = swaps.FindLastIndex(s => s.RepliedAt <= e.SentAt);
                var nextSentAt = k + 1 < swaps.Count ? swaps[k + 1].SentAt : long.MaxValue;
                if (e.ReceivedAt >= nextSentAt) continue;
                if (k < 0 && e.SentAt >= swaps[0].SentAt) continue;
                var expected = k < 0 ? "blue" : swaps[k].Target;
                checkedCount++;
                if (e.Pool != expected && violations.Count < 10)
                    violations.Add($"client {e.Client}: sent {Ms(e.SentAt - (k < 0 ? e.SentAt : swaps[k].RepliedAt))} ms after swap {k} (to {expected}) replied, answered by {e.Pool}");
                else if (e.Pool != expected) violations.Add("");
            }
            var summary = $"{exchanges.Count} ok responses, {failures.Count} failures, {swaps.Count} swaps, "
                          + $"{checkedCount} responses checked against the swap before them, {violations.Count} from the old pool";

            output.WriteLine(summary);
            Assert.True(failures.Count == 0, $"{summary}\nfirst failures:\n{string.Join("\n", failures.Take(10))}");
            Assert.True(violations.Count == 0, $"{summary}\nfirst violations:\n{string.Join("\n", violations.Where(v => v.Length > 0))}");
            Assert.True(swaps.Count >= 50, $"{summary}: too few swaps to mean anything");
            Assert.True(checkedCount >= exchanges.Count / 2 && checkedCount > 1000, $"{summary}: too few responses checked");
            Assert.True(exchanges.Any(e => e.Pool == "blue") && exchanges.Any(e => e.Pool == "green"), summary);
        }
        finally
        {
            foreach (var b in blue.Concat(green)) await b.DisposeAsync();
        }
    }

    [Fact]
    public async Task Swap_SlowRequestInFlightOnBlue_CompletesThenNextRequestOnSameConnectionGoesGreen()
    {
        BackendResponder slow(string name) => async (request, connection, ct) =>
        {
            if (request.Target == "/slow") await Task.Delay(1000, ct);
            await connection.SendAsync(RawHttpBackend.Ok(name, $"{name} {request.Target}"), ct);
            return true;
        };
        await using var blue = RawHttpBackend.Start("blue-1", slow("blue-1"));
        await using var green = RawHttpBackend.Start("green-1", slow("green-1"));
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml([("blue", [blue]), ("green", [green])]));
        await using var client = await lb.ConnectAsync();
        var clock = Stopwatch.StartNew();

        await client.SendAsync("GET /slow HTTP/1.1\r\nHost: test\r\n\r\n").WaitAsync(Timeout);
        await HttpLb.WaitUntilAsync(() => Task.FromResult(blue.Requests.Any(r => r.Target == "/slow")), "blue received /slow");
        await lb.CtlOkAsync("swap web green");
        var swappedAt = clock.Elapsed;
        var slowResponse = await client.ReadFinalResponseAsync().WaitAsync(Timeout);
        var answeredAt = clock.Elapsed;
        var next = await client.GetAsync("/next").WaitAsync(Timeout);

        Assert.True(swappedAt < answeredAt, $"the swap ({swappedAt}) should have returned while /slow was in flight (answered {answeredAt})");
        Assert.True(slowResponse.Status == 200, $"the request in flight on blue should complete:\n{slowResponse}");
        Assert.Equal("blue-1 /slow", slowResponse.BodyText);
        Assert.True(next.Status == 200 && next.Backend == "green-1", $"the next request on the same connection should go to green:\n{next}");
        Assert.DoesNotContain(blue.Requests, r => r.Target == "/next");
    }

    [Fact]
    public async Task Swap_UpgradedTunnelOnBlue_KeepsRelayingThenClosedAtDrainTimeout()
    {
        BackendResponder tunnel(string name) => async (request, connection, ct) =>
        {
            await connection.SendAsync($"HTTP/1.1 101 Switching Protocols\r\nx-backend: {name}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", ct);
            await connection.EchoUntilFinAsync(ct);
            return false;
        };
        await using var blue = RawHttpBackend.Start("blue-1", tunnel("blue-1"));
        await using var green = RawHttpBackend.Start("green-1", tunnel("green-1"));
        await using var lb = await HttpLb.StartAsync(OneServiceConfig.Yaml([("blue", [blue]), ("green", [green])], drainTimeout: "1s"));
        await using var client = await lb.ConnectAsync();
        var switching = await client.RequestAsync("GET /ws HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n").WaitAsync(Timeout);
        Assert.True(switching.Status == 101 && switching.Backend == "blue-1", switching.ToString());

        // The clock starts before the swap: the drain deadline counts from the swap, and a control reply that
        // arrives late on a loaded box must not make an on-time close look early.
        var clock = Stopwatch.StartNew();
        await lb.CtlOkAsync("swap web green");
        await client.SendAsync("still here").WaitAsync(Timeout);
        Assert.Equal("still here", Encoding.ASCII.GetString(await client.ReadExactlyAsync(10).WaitAsync(Timeout)));
        var (closed, extra) = await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)).WaitAsync(Timeout);

        Assert.True(closed && extra.Length == 0, "the tunnel on drained blue should be closed at drain_timeout (1s)");
        Assert.True(clock.Elapsed > TimeSpan.FromMilliseconds(950), $"closed {clock.ElapsedMilliseconds} ms after the swap, before drain_timeout");
        await using var fresh = await lb.ConnectAsync();
        Assert.Equal("green-1", (await fresh.RequestAsync("GET /ws HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            .WaitAsync(Timeout)).Backend);
    }

    private static string Ms(long ticks) => (ticks * 1000.0 / Stopwatch.Frequency).ToString("F1");
}
