namespace FastLb.Core.Config;

/// <summary>How a tcp listener moves bytes between client and backend (<c>defaults: tcp_relay</c>).</summary>
internal enum TcpRelayMode
{
    /// <summary>splice(2) through a kernel pipe: the bytes never enter the process (Linux; elsewhere falls back to pipes).</summary>
    Splice,

    /// <summary>Socket receive into a System.IO.Pipelines pipe, socket send out of it: one copy in and one out through user space.</summary>
    Pipes,
}
