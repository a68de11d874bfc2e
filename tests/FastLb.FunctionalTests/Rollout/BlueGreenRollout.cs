using FastLb.Tests.Common;

namespace FastLb.FunctionalTests.Rollout;

/// <summary>
/// Where a rollout test starts: canary backends blue and green as the pools of service web behind an in-process
/// FastLb (blue active), and clients sending to it that have had their first answers.
/// </summary>
internal sealed class BlueGreenRollout : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private BlueGreenRollout(CanaryBackend blue, CanaryBackend green, HttpLb lb, RolloutClients clients)
    {
        Blue = blue;
        Green = green;
        Lb = lb;
        Clients = clients;
    }

    public CanaryBackend Blue { get; }
    public CanaryBackend Green { get; }
    public HttpLb Lb { get; }
    public RolloutClients Clients { get; }

    /// <summary>Service web with pools blue and green; <paramref name="rollout"/> is a service-level YAML block.</summary>
    public static string Yaml(CanaryBackend blue, CanaryBackend green, string active = "blue", string rollout = "") =>
        "defaults:\n  drain_timeout: 2s\n"
        + "listeners:\n  - name: web\n    bind: 127.0.0.1:0\n    protocol: http\n    routes:\n      - service: web\n"
        + $"services:\n  web:\n    active: {active}\n{rollout}    pools:\n      blue:\n        - {blue.EndPoint}\n      green:\n        - {green.EndPoint}\n";

    /// <summary>Starts it all and waits for <paramref name="answers"/> answers (see <see cref="RolloutClients"/> for the clients).</summary>
    public static async Task<BlueGreenRollout> StartAsync(int keepAlive, int answers, int newConnection = 0,
        int greenFailEvery = 0, int blueDelayMs = 0, int greenDelayMs = 0)
    {
        var blue = CanaryBackend.Start("blue", delayMs: blueDelayMs);
        var green = CanaryBackend.Start("green", greenFailEvery, greenDelayMs);
        HttpLb? lb = null;
        RolloutClients? clients = null;
        try
        {
            lb = await HttpLb.StartAsync(Yaml(blue, green));
            clients = new RolloutClients(lb.EndPoint, keepAlive, newConnection);
            await clients.WaitForAnswersAsync(answers, Wait);
            return new BlueGreenRollout(blue, green, lb, clients);
        }
        catch
        {
            if (clients is not null) await clients.DisposeAsync();
            if (lb is not null) await lb.DisposeAsync();
            await green.DisposeAsync();
            await blue.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Clients.DisposeAsync();
        await Lb.DisposeAsync();
        await Green.DisposeAsync();
        await Blue.DisposeAsync();
    }
}
