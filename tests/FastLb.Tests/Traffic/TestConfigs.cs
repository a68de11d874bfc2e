using FastLb.Core.Config;

namespace FastLb.Tests.Traffic;

/// <summary>Hand-built configs for control-plane tests (no YAML involved).</summary>
internal static class TestConfigs
{
    public static FastLbConfig Web(Dictionary<string, int> shares, int blueWeight = 1, TimeSpan? drainTimeout = null) => new()
    {
        SourcePath = "test.yaml",
        Listeners = [new ListenerConfig { Name = "web", Bind = new EndPointConfig("127.0.0.1", 0), Protocol = ListenerProtocol.Tcp, Service = "web" }],
        Services =
        [
            new ServiceConfig
            {
                Name = "web",
                DrainTimeout = drainTimeout ?? TimeSpan.FromSeconds(30),
                Pools =
                [
                    new PoolConfig { Name = "blue", Backends = [new BackendConfig(new EndPointConfig("10.0.0.1", 80), blueWeight), new BackendConfig(new EndPointConfig("10.0.0.2", 80), 1)] },
                    new PoolConfig { Name = "green", Backends = [new BackendConfig(new EndPointConfig("10.0.1.1", 80), 1)] },
                ],
                Shares = shares,
            },
        ],
    };

    public static Dictionary<string, int> Blue => new() { ["blue"] = 100, ["green"] = 0 };
    public static Dictionary<string, int> Green => new() { ["blue"] = 0, ["green"] = 100 };
}
