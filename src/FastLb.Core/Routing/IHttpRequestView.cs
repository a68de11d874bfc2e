namespace FastLb.Core.Routing;

/// <summary>What route matching and hashing may read of a parsed request head, as raw bytes (no strings).</summary>
internal interface IHttpRequestView
{
    ReadOnlySpan<byte> Method { get; }

    /// <summary>The path of the target, without query string.</summary>
    ReadOnlySpan<byte> Path { get; }

    /// <summary>Host header (or absolute-form authority) without the port.</summary>
    ReadOnlySpan<byte> Host { get; }

    /// <summary>First value of a header, by case-insensitive name.</summary>
    bool TryGetHeader(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value);

    /// <summary>Value of a cookie in the Cookie header(s), by exact name.</summary>
    bool TryGetCookie(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value);
}
