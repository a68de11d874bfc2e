namespace FastLb.Core.Tls;

/// <summary>The metric label of each <see cref="TlsHandshakeFailure"/>, and how a failed handshake is classified.</summary>
internal static class TlsHandshakeFailures
{
    public const int Count = (int)TlsHandshakeFailure.Other + 1;

    private static readonly string[] Names = ["timeout", "closed", "not_tls", "protocol", "client_certificate", "other"];

    public static string Name(TlsHandshakeFailure reason) => Names[(int)reason];

    /// <summary>
    /// Classifies a failed handshake from its exception chain. The TLS library only says why in its messages
    /// (OpenSSL's reason strings, SslStream's own texts), so this matches on those; anything unknown is Other.
    /// </summary>
    public static TlsHandshakeFailure Classify(Exception e, bool timedOut)
    {
        if (timedOut) return TlsHandshakeFailure.Timeout;
        var text = new System.Text.StringBuilder();
        for (var x = e; x is not null; x = x.InnerException) text.Append(x.Message).Append(' ');
        var all = text.ToString();
        if (Has(all, "frame size") || Has(all, "corrupted frame") || Has(all, "wrong version number") || Has(all, "http request") || Has(all, "unknown protocol") || Has(all, "record layer failure")) return TlsHandshakeFailure.NotTls;
        if (Has(all, "unsupported protocol") || Has(all, "no shared cipher") || Has(all, "no application protocol") || Has(all, "version too low")
            || Has(all, "no suitable signature") || Has(all, "no protocols available")) return TlsHandshakeFailure.Protocol;
        if (Has(all, "remote certificate") || Has(all, "peer did not return a certificate") || Has(all, "certificate verify failed")) return TlsHandshakeFailure.ClientCertificate;
        if (Has(all, "unexpected eof") || Has(all, "0 bytes") || Has(all, "connection reset") || Has(all, "broken pipe") || Has(all, "transport connection")
            || e is IOException && e.InnerException is null or System.Net.Sockets.SocketException or IOException) return TlsHandshakeFailure.Closed;
        return TlsHandshakeFailure.Other;
    }

    private static bool Has(string text, string part) => text.Contains(part, StringComparison.OrdinalIgnoreCase);
}
