namespace FastLb.Core.Config;

/// <summary>What a listener does with a new connection past max_connections (<c>on_limit</c>).</summary>
internal enum OnLimit
{
    /// <summary>Leave it in the kernel's listen backlog until a connection ends (the client waits).</summary>
    Queue,

    /// <summary>Accept it and close it at once (the client sees the connection closed).</summary>
    Close,
}
