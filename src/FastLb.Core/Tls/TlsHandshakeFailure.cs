namespace FastLb.Core.Tls;

/// <summary>Why a client's TLS handshake with a terminating listener did not finish (counted per listener, named in status and /metrics).</summary>
internal enum TlsHandshakeFailure : byte
{
    /// <summary>Not finished within the listener's handshake_timeout.</summary>
    Timeout,

    /// <summary>The client closed or reset the connection before the handshake finished.</summary>
    Closed,

    /// <summary>The first bytes were not a TLS handshake (plain HTTP to a TLS port, garbage).</summary>
    NotTls,

    /// <summary>No protocol version, cipher suite or application protocol both sides accept.</summary>
    Protocol,

    /// <summary>client_auth: the client sent no certificate though one is required, or one that does not chain to the ca.</summary>
    ClientCertificate,

    /// <summary>Anything else (an alert from the client, a malformed message).</summary>
    Other,
}
