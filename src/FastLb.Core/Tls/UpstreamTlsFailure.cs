namespace FastLb.Core.Tls;

/// <summary>Why a TLS handshake FastLb started with a backend failed (service <c>tls</c>).</summary>
internal enum UpstreamTlsFailure
{
    /// <summary>The backend's certificate does not chain to a trusted root (the ca file, or the system's), or is expired.</summary>
    Untrusted,

    /// <summary>The backend's certificate does not name the server FastLb asked for (sni, or the backend's address).</summary>
    NameMismatch,

    /// <summary>The backend sent no certificate.</summary>
    NoCertificate,

    /// <summary>The handshake did not finish within connect_timeout.</summary>
    Timeout,

    /// <summary>The backend closed or reset the connection, spoke no TLS, or refused ours (no shared version or cipher, client certificate refused).</summary>
    Handshake,
}
