namespace FastLb.Tests.Common;

internal enum LoopbackBackendMode
{
    /// <summary>Echoes every byte; on the client's FIN it sends FIN back.</summary>
    Echo,

    /// <summary>Writes its name (UTF-8, no terminator) on accept, then echoes.</summary>
    Name,

    /// <summary>Answers every HTTP/1.1 request with 200, body = its name, header <c>x-backend: NAME</c>; keeps alive.</summary>
    Http,
}
