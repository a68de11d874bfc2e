using System.Net;
using FastLb.FunctionalTests.Http;
using FastLb.Tests.Common;

namespace FastLb.FunctionalTests.Health;

/// <summary>A test backend whose /healthz answers what the test says (status, or never), and which counts the traffic it serves besides checks.</summary>
internal sealed class HealthBackend : IAsyncDisposable
{
    private int _healthStatus = 200;
    private int _served;
    private int _checks;

    private HealthBackend(string name)
    {
        Backend = RawHttpBackend.Start(name, RespondAsync);
    }

    public static HealthBackend Start(string name) => new(name);

    public RawHttpBackend Backend { get; }
    public string Name => Backend.Name;
    public IPEndPoint EndPoint => Backend.EndPoint;
    public string Address => EndPoint.ToString();

    /// <summary>The status /healthz answers; 0 = accept the request and never answer.</summary>
    public int HealthStatus
    {
        get => Volatile.Read(ref _healthStatus);
        set => Volatile.Write(ref _healthStatus, value);
    }

    /// <summary>Requests other than health checks.</summary>
    public int Served => Volatile.Read(ref _served);

    public int Checks => Volatile.Read(ref _checks);

    private async Task<bool> RespondAsync(BackendRequest request, BackendConnection connection, CancellationToken ct)
    {
        if (request.Target == "/healthz")
        {
            Interlocked.Increment(ref _checks);
            var status = HealthStatus;
            if (status == 0)
            {
                await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
                return false;
            }
            await connection.SendAsync($"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", ct).ConfigureAwait(false);
            return false;
        }
        Interlocked.Increment(ref _served);
        await connection.SendAsync(RawHttpBackend.Ok(Name), ct).ConfigureAwait(false);
        return true;
    }

    public ValueTask DisposeAsync() => Backend.DisposeAsync();
}
