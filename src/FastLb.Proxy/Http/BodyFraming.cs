namespace FastLb.Proxy.Http;

/// <summary>How the message body that follows a head is delimited (RFC 9112 §6.3).</summary>
internal enum BodyFraming : byte
{
    /// <summary>No body follows the head.</summary>
    None,

    /// <summary>Exactly ContentLength bytes follow.</summary>
    ContentLength,

    /// <summary>A chunked body follows.</summary>
    Chunked,

    /// <summary>Response only: the body runs until the server closes the connection.</summary>
    CloseDelimited,
}
