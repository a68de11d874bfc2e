namespace FastLb.Core.Config;

/// <summary>The whole validated YAML file; immutable once loaded.</summary>
internal sealed class FastLbConfig
{
    /// <summary>Absolute path of the file this config came from, or a label such as "&lt;demo&gt;".</summary>
    public required string SourcePath { get; init; }

    /// <summary>Data-plane worker count; defaults to the core count.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Pin event loop i to the i-th CPU the process may run on (<c>pin_workers</c>, default false: loops that share
    /// cores with other busy processes must be free to move to the idle one).
    /// </summary>
    public bool PinWorkers { get; init; }

    /// <summary>The event loops' kernel interface (<c>io</c>: auto, epoll or io_uring); read at start only.</summary>
    public IoMode Io { get; init; } = IoModeNames.Default;

    /// <summary>How log lines are written (<c>log_format</c>: text, the default, or json).</summary>
    public Diagnostics.LogFormat LogFormat { get; init; } = Diagnostics.LogFormat.Text;

    /// <summary>Client connections open at once over all listeners (<c>max_connections</c>); null = derived from the descriptor limit.</summary>
    public int? MaxConnections { get; init; }

    /// <summary>What listeners do past a connection limit unless they say otherwise (<c>on_limit</c>, default queue).</summary>
    public OnLimit OnLimit { get; init; } = OnLimit.Queue;

    public AdminConfig Admin { get; init; } = new();

    public DefaultsConfig Defaults { get; init; } = new();

    public IReadOnlyList<ListenerConfig> Listeners { get; init; } = [];

    /// <summary>Services in file order.</summary>
    public IReadOnlyList<ServiceConfig> Services { get; init; } = [];

    /// <summary>What loads but needs attention soon (a certificate expiring within 14 days), in file order.</summary>
    public IReadOnlyList<ConfigError> Warnings { get; init; } = [];

    public ServiceConfig? FindService(string name)
    {
        foreach (var s in Services)
        {
            if (s.Name == name) return s;
        }
        return null;
    }
}
