namespace FastLb.Tests.Common;

/// <summary>What a TCP <see cref="LoopbackBackend"/> does with a connection (an HTTP one is a <see cref="RawHttpBackend"/>).</summary>
internal enum LoopbackBackendMode
{
    /// <summary>Echoes every byte; on the client's FIN it sends FIN back.</summary>
    Echo,

    /// <summary>Writes its name (UTF-8, no terminator) on accept, then echoes.</summary>
    Name,
}
