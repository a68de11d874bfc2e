namespace FastLb.Proxy.Health;

/// <summary>Where a backend's check stands.</summary>
internal enum ProbePhase : byte
{
    /// <summary>Waiting for its next due time.</summary>
    Idle,

    /// <summary>Non-blocking connect in progress.</summary>
    Connecting,

    /// <summary>HTTP: the request went out; reading the status line.</summary>
    Reading,

    /// <summary>HTTP over the service's TLS: a <see cref="TlsCheck"/> has the socket (handshake, request, status line).</summary>
    Tls,
}
