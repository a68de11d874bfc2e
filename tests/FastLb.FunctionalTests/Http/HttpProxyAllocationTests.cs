using System.Text.Json;
using FastLb.FunctionalTests.Host;
using FastLb.Host.Control;
using FastLb.Host.Demo;
using FastLb.Tests.Common;
using Xunit;
using Xunit.Abstractions;

namespace FastLb.FunctionalTests.Http;

/// <summary>The real fastlb binary under keep-alive load: proxied requests allocate nothing in steady state.</summary>
public class HttpProxyAllocationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private const int Connections = 8;
    private const int WarmupRequests = 2_000;
    private const int MeasuredRequests = 20_000;

    // The window has fixed costs that do not grow with requests: the status command itself (a few KB of JSON), the
    // proxy's heartbeat and pool sweep (a little per 100 ms / 1 s), and GC.GetTotalAllocatedBytes(precise: false),
    // which misses up to ~8 KB per thread allocation context. Measured: 60-80 KB in all, the same over 20,000 or
    // 80,000 requests, so about 4 B per request here. One state machine box per request, as before this test, cost
    // 630-1,600 B. 64 B leaves room for noise, not for a box (the smallest is well over 100 B).
    private const double MaxBytesPerRequest = 64;

    private readonly TempDir _dir = new();
    private readonly DemoBackend _backend = new("alloc");

    private string Socket => _dir.File("fastlb.sock");

    public Task InitializeAsync()
    {
        _backend.Start();
        return Task.CompletedTask;
    }

    private Task WriteConfigAsync(bool accessLog) =>
        File.WriteAllTextAsync(_dir.File("fastlb.yaml"), $"""
            admin:
              control_socket: {Socket}
            listeners:
              - name: web
                bind: 127.0.0.1:0
                protocol: http
                {(accessLog ? $"access_log: {{ path: {_dir.File("access.log")}, format: json }}" : "")}
                routes:
                  - service: web
            services:
              web:
                pools:
                  main:
                    - {_backend.EndPoint}
            """);

    public async Task DisposeAsync()
    {
        await _backend.DisposeAsync().AsTask().WaitAsync(Timeout);
        _dir.Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // an access log line per request is formatted on the loop into its buffer: no allocation either
    public async Task KeepAlive_SteadyState_AllocatesUnder64BytesPerRequest(bool accessLog)
    {
        await WriteConfigAsync(accessLog);
        await using var process = await FastLbProcess.RunAsync(_dir.Path, _dir.File("fastlb.yaml"), Timeout);
        var endPoint = await FastLbProcess.ListenerAsync(Socket, Timeout);
        var clients = new HttpClientConnection[Connections];
        for (var i = 0; i < Connections; i++) clients[i] = await HttpClientConnection.ConnectAsync(endPoint);
        try
        {
            await LoadAsync(clients, WarmupRequests); // connections, upstream pool, JIT tiers and caches warm

            var before = AllocatedBytes(await StatusAsync());
            await LoadAsync(clients, MeasuredRequests);
            var after = AllocatedBytes(await StatusAsync());

            var perRequest = (after - before) / (double)MeasuredRequests;
            if (accessLog) await Poll.UntilAsync(() => AccessLogLines() == WarmupRequests + MeasuredRequests, "every request has its access log line");
            output.WriteLine($"{perRequest:F2} B per request ({after - before} B over {MeasuredRequests} requests)");
            Assert.True(perRequest < MaxBytesPerRequest,
                $"{perRequest:F1} B per request ({after - before} B over {MeasuredRequests} requests)");
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }

    /// <summary>
    /// A model listener: each POST's JSON body is peeked for its model, an alias rewrites it, the JSON response's usage
    /// is read as it passes and the request is counted by model; none of that allocates per request either.
    /// </summary>
    [Fact]
    public async Task ModelRouted_SteadyState_AllocatesUnder64BytesPerRequest()
    {
        await using var llm = FakeOpenAiBackend.Start("llm");
        await File.WriteAllTextAsync(_dir.File("fastlb.yaml"), $$"""
            admin:
              control_socket: {{Socket}}
            listeners:
              - name: ai
                bind: 127.0.0.1:0
                protocol: http
                models:
                  gpt-4o-latest: { service: llm, model: llama-3.1-70b }
                routes:
                  - match: { model_prefix: llama- }
                    service: llm
            services:
              llm:
                pools: { v1: [ {{llm.EndPoint}} ] }
            """);
        await using var process = await FastLbProcess.RunAsync(_dir.Path, _dir.File("fastlb.yaml"), Timeout);
        var endPoint = await FastLbProcess.ListenerAsync(Socket, Timeout);
        var clients = new HttpClientConnection[Connections];
        for (var i = 0; i < Connections; i++) clients[i] = await HttpClientConnection.ConnectAsync(endPoint);
        try
        {
            const int Measured = 8_000;
            await ModelLoadAsync(clients, WarmupRequests);
            var before = AllocatedBytes(await StatusAsync());
            await ModelLoadAsync(clients, Measured);
            var after = AllocatedBytes(await StatusAsync());
            var perRequest = (after - before) / (double)Measured;
            output.WriteLine($"{perRequest:F2} B per model-routed request ({after - before} B over {Measured} requests)");
            Assert.True(perRequest < MaxBytesPerRequest, $"{perRequest:F1} B per request ({after - before} B over {Measured} requests)");
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }

        static async Task ModelLoadAsync(HttpClientConnection[] clients, int requests)
        {
            var running = new Task[clients.Length];
            for (var i = 0; i < clients.Length; i++) running[i] = RunAsync(clients[i], requests / clients.Length, i % 2 == 0 ? "gpt-4o-latest" : "llama-3.1-8b");
            await Task.WhenAll(running).WaitAsync(Timeout);
        }

        static async Task RunAsync(HttpClientConnection client, int count, string model)
        {
            var body = System.Text.Encoding.UTF8.GetBytes($$"""{"model":"{{model}}","messages":[{"role":"user","content":"one two three"}]}""");
            var head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: llm\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
            for (var i = 0; i < count; i++)
            {
                var response = await client.RequestAsync(head, body);
                Assert.Equal(200, response.Status);
            }
        }
    }

    private static async Task LoadAsync(HttpClientConnection[] clients, int requests)
    {
        var perConnection = requests / clients.Length;
        var running = new Task[clients.Length];
        for (var i = 0; i < clients.Length; i++) running[i] = RunAsync(clients[i], perConnection);
        await Task.WhenAll(running).WaitAsync(Timeout);

        static async Task RunAsync(HttpClientConnection client, int count)
        {
            for (var i = 0; i < count; i++)
            {
                var response = await client.RequestAsync("GET / HTTP/1.1\r\nHost: test\r\n\r\n");
                Assert.Equal(200, response.Status);
                Assert.Equal("alloc\n", response.BodyText);
            }
        }
    }

    /// <summary>Lines in the access log so far; its writer opens the file on its first round, 100 ms after start.</summary>
    private int AccessLogLines() => File.Exists(_dir.File("access.log")) ? File.ReadLines(_dir.File("access.log")).Count() : 0;

    private async Task<JsonElement> StatusAsync()
    {
        var reply = await ControlClient.SendAsync(Socket, "status", Timeout).WaitAsync(Timeout);
        return JsonDocument.Parse(reply).RootElement.Clone();
    }

    private static long AllocatedBytes(JsonElement status) =>
        status.GetProperty("process").GetProperty("allocated_bytes").GetInt64();
}
