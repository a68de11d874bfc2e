namespace FastLb.Core.Config;

/// <summary>Control socket, optional read-only status socket and optional read-only admin HTTP endpoint.</summary>
internal sealed class AdminConfig
{
    /// <summary>Path of the Unix domain control socket (relative paths resolve against the config file's folder).</summary>
    public string ControlSocket { get; init; } = "./fastlb.sock";

    /// <summary>Path of the read-only status socket (status, stats, history, events only), or null when there is none.</summary>
    public string? StatusSocket { get; init; }

    /// <summary>The group (name or number) the status socket belongs to; its members may connect (mode 0660).</summary>
    public string? StatusGroup { get; init; }

    /// <summary>Admin HTTP bind address, or null when disabled.</summary>
    public EndPointConfig? Listen { get; init; }

    public static readonly TimeSpan DefaultUpgradeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a new process started by an upgrade gets to report ready before it is killed (<c>upgrade_timeout</c>).</summary>
    public TimeSpan UpgradeTimeout { get; init; } = DefaultUpgradeTimeout;
}
