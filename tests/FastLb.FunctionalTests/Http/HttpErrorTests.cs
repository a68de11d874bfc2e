using System.Diagnostics;
using System.Net.Sockets;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Http;

/// <summary>FastLb's own error answers (404, 502, 503, 504) and that the client connection stays usable after each.</summary>
public sealed class HttpErrorTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = HttpLb.Timeout;
    private readonly System.Net.IPEndPoint _refused = FastLb.Tests.Common.LoopbackBackend.ClosedPort();
    private RawHttpBackend _ok = null!;
    private RawHttpBackend _silent = null!;
    private RawHttpBackend _weightless = null!;
    private RawHttpBackend _drained = null!;
    private HttpLb _lb = null!;

    public async Task InitializeAsync()
    {
        _ok = RawHttpBackend.Start("ok-1");
        _silent = RawHttpBackend.Start("silent-1", async (_, _, ct) =>
        {
            await Task.Delay(System.Threading.Timeout.Infinite, ct);
            return false;
        });
        _weightless = RawHttpBackend.Start("weightless-1");
        _drained = RawHttpBackend.Start("drained-1");
        _lb = await HttpLb.StartAsync($"""
            defaults:
              connect_timeout: 1s
              request_head_timeout: 500ms
            listeners:
              - name: web
                bind: 127.0.0.1:0
                protocol: http
                routes:
                  - match: {"{"} path_prefix: /refused {"}"}
                    service: refused
                  - match: {"{"} path_prefix: /silent {"}"}
                    service: silent
                  - match: {"{"} path_prefix: /weightless {"}"}
                    service: weightless
                  - match: {"{"} path_prefix: /drained {"}"}
                    service: drained
                  - match: {"{"} path_prefix: /ok {"}"}
                    service: ok
            services:
              refused:
                active: main
                pools:
                  main:
                    - {_refused}
              silent:
                active: main
                response_head_timeout: 500ms
                pools:
                  main:
                    - {_silent.EndPoint}
              weightless:
                active: main
                pools:
                  main:
                    - {_weightless.EndPoint}
              drained:
                active: main
                pools:
                  main:
                    - {_drained.EndPoint}
              ok:
                active: main
                pools:
                  main:
                    - {_ok.EndPoint}
            """);
    }

    public async Task DisposeAsync()
    {
        await _lb.DisposeAsync();
        foreach (var b in new[] { _ok, _silent, _weightless, _drained }) await b.DisposeAsync();
    }

    [Fact]
    public async Task NoRoute_404ThenSameConnectionServesNextRequest()
    {
        await using var client = await _lb.ConnectAsync();

        var response = await client.GetAsync("/nowhere").WaitAsync(Timeout);

        AssertOwnError(response, 404);
        await AssertUsableAsync(client);
    }

    [Fact]
    public async Task RefusedBackend_502ThenSameConnectionServesNextRequest()
    {
        await using var client = await _lb.ConnectAsync();

        var response = await client.GetAsync("/refused").WaitAsync(Timeout);

        AssertOwnError(response, 502);
        await AssertUsableAsync(client);
    }

    [Fact]
    public async Task AllWeightsZero_503ThenServedAgainOnSameConnectionOnceWeightIsBack()
    {
        await using var client = await _lb.ConnectAsync();
        Assert.Equal("weightless-1", (await client.GetAsync("/weightless").WaitAsync(Timeout)).Backend);
        await _lb.CtlOkAsync($"weight weightless main {_weightless.EndPoint} 0");

        var response = await client.GetAsync("/weightless").WaitAsync(Timeout);

        AssertOwnError(response, 503);
        await AssertUsableAsync(client);
        await _lb.CtlOkAsync($"weight weightless main {_weightless.EndPoint} 1");
        Assert.Equal("weightless-1", (await client.GetAsync("/weightless").WaitAsync(Timeout)).Backend);
    }

    [Fact]
    public async Task OnlyBackendDrained_503ThenServedAgainOnSameConnectionOnceEnabled()
    {
        await using var client = await _lb.ConnectAsync();
        Assert.Equal("drained-1", (await client.GetAsync("/drained").WaitAsync(Timeout)).Backend);
        await _lb.CtlOkAsync($"drain drained main {_drained.EndPoint}");

        var response = await client.GetAsync("/drained").WaitAsync(Timeout);

        AssertOwnError(response, 503);
        await AssertUsableAsync(client);
        await _lb.CtlOkAsync($"enable drained main {_drained.EndPoint}");
        Assert.Equal("drained-1", (await client.GetAsync("/drained").WaitAsync(Timeout)).Backend);
    }

    [Fact]
    public async Task BackendNeverAnswers_504AfterResponseHeadTimeoutThenSameConnectionServesNextRequest()
    {
        await using var client = await _lb.ConnectAsync();
        var clock = Stopwatch.StartNew();

        var response = await client.GetAsync("/silent").WaitAsync(Timeout);

        clock.Stop();
        AssertOwnError(response, 504);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(400) && clock.Elapsed < TimeSpan.FromSeconds(3),
            $"response_head_timeout is 500ms; the 504 came after {clock.ElapsedMilliseconds} ms");
        Assert.Single(_silent.Requests);
        await AssertUsableAsync(client);
    }

    [Fact]
    public async Task ErrorsInARow_EachAnsweredOnOneConnection()
    {
        await using var client = await _lb.ConnectAsync();

        AssertOwnError(await client.GetAsync("/nowhere").WaitAsync(Timeout), 404);
        AssertOwnError(await client.GetAsync("/refused").WaitAsync(Timeout), 502);
        AssertOwnError(await client.GetAsync("/silent").WaitAsync(Timeout), 504);
        AssertOwnError(await client.GetAsync("/refused").WaitAsync(Timeout), 502);
        await AssertUsableAsync(client);
    }

    [Fact]
    public async Task TrickledRequestHead_CutAfterRequestHeadTimeoutAndNothingForwarded()
    {
        await using var client = await _lb.ConnectAsync();
        var clock = Stopwatch.StartNew();
        await client.SendAsync("GET /ok HTTP/1.1\r\nHost: test\r\n").WaitAsync(Timeout);
        var cut = false;
        for (var i = 0; i < 40 && !cut; i++)
        {
            try
            {
                await client.SendAsync("X").WaitAsync(Timeout); // one byte of a header name every 100 ms: never completes the head
                await Task.Delay(100);
            }
            catch (SocketException)
            {
                cut = true;
            }
            if (!cut && client.Socket.Poll(0, SelectMode.SelectRead)) cut = true;
        }

        Assert.True(cut, $"a client trickling its head for {clock.ElapsedMilliseconds} ms was not cut (request_head_timeout 500ms)");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"cut only after {clock.ElapsedMilliseconds} ms");
        var (closed, extra) = await client.WaitForCloseAsync(TimeSpan.FromSeconds(2)).WaitAsync(Timeout);
        Assert.True(closed, "connection not closed");
        var text = System.Text.Encoding.Latin1.GetString(extra);
        Assert.True(text.Length == 0 || text.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), $"unexpected answer to a slow head:\n{text}");
        Assert.Empty(_ok.Requests);
    }

    private static void AssertOwnError(HttpResponse response, int status)
    {
        Assert.True(response.Status == status, $"expected {status}, got:\n{response}");
        Assert.Null(response.Backend);
        Assert.InRange(response.Body.Length, 1, 1024);
        var reason = response.Head.StartLine.Split(' ', 3) is [_, _, var r] ? r : "";
        Assert.False(string.IsNullOrWhiteSpace(reason), $"no reason phrase: '{response.Head.StartLine}'");
    }

    private static async Task AssertUsableAsync(HttpClientConnection client)
    {
        HttpResponse next;
        try
        {
            next = await client.GetAsync("/ok").WaitAsync(Timeout);
        }
        catch (Exception e) when (e is EndOfStreamException or SocketException)
        {
            Assert.Fail($"the client connection was closed after an error HTTP lets it survive ({e.Message})");
            throw;
        }
        Assert.True(next.Status == 200 && next.Backend == "ok-1", $"next request on the same connection:\n{next}");
    }
}
