namespace FastLb.Proxy.Http;

/// <summary>The two HTTP/1 versions FastLb accepts.</summary>
internal enum HttpProtocolVersion : byte
{
    Http10,
    Http11,
}
