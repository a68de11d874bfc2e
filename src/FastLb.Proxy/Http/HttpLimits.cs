namespace FastLb.Proxy.Http;

/// <summary>Size limits that bound how much of a peer's input FastLb buffers before it answers an error.</summary>
internal static class HttpLimits
{
    /// <summary>Longest request line or status line, without its CRLF; longer request lines get 414.</summary>
    public const int MaxStartLineBytes = 8 * 1024;

    /// <summary>Largest head including the start line and the blank line; larger gets 431.</summary>
    public const int MaxHeadBytes = 32 * 1024;

    /// <summary>Most header field lines in one head; more gets 431.</summary>
    public const int MaxHeaderCount = 100;

    /// <summary>Longest chunk-size line (size plus extensions), so a peer cannot stream extensions forever.</summary>
    public const int MaxChunkLineBytes = 4 * 1024;

    /// <summary>Largest trailer section after the last chunk.</summary>
    public const int MaxTrailerBytes = 32 * 1024;
}
