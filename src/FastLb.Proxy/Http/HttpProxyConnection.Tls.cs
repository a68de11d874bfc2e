using System.IO.Pipelines;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Tls;
using FastLb.Proxy.Tls;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    /// <summary>How much SslStream's pipes read or buffer at once: one TLS record's plaintext.</summary>
    private const int TlsPipeBufferSize = 16 * 1024;

    // strict_sni: the server name the client's ClientHello asked for (ASCII), checked against each request's Host; null when not checked.
    private byte[]? _strictSni;

    /// <summary>
    /// A TLS listener: runs the server handshake over the socket's pipes within handshake_timeout, then points
    /// <see cref="_input"/> and <see cref="_output"/> at the decrypted stream. False when the handshake failed or
    /// timed out (the caller resets the connection).
    /// </summary>
    /// <remarks>
    /// The socket's pipes stay underneath, so closing, lingering and the byte counts work as on a plain connection
    /// (the counts are bytes on the wire, TLS records included). Only TLS listeners pay for this layer.
    /// </remarks>
    private async Task<bool> HandshakeAsync(SocketConnection client, TlsTermination tls)
    {
        var ssl = new SslStream(new DuplexPipeStream(client.Input, client.Output), leaveInnerStreamOpen: false);
        _ssl = ssl;
        // The socket's pipes do not watch cancellation tokens: at the deadline the socket is reset, which fails the handshake's read.
        using var deadline = new CancellationTokenSource(_listener.HandshakeTimeout);
        using var cut = deadline.Token.Register(static c => ((SocketConnection)c!).Abort(), client);
        try
        {
            await ssl.AuthenticateAsServerAsync(TlsTermination.SelectCallback, tls, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
        {
            HandshakeFailed(e, deadline.IsCancellationRequested);
            return false;
        }
        _owner.Traffic.TlsHandshakeDone();
        if (tls.StrictSni && ssl.TargetHostName is { Length: > 0 } sni) _strictSni = System.Text.Encoding.ASCII.GetBytes(sni);
        _input = PipeReader.Create(ssl, new StreamPipeReaderOptions(bufferSize: TlsPipeBufferSize, leaveOpen: true));
        _output = PipeWriter.Create(ssl, new StreamPipeWriterOptions(minimumBufferSize: TlsPipeBufferSize, leaveOpen: true));
        return true;
    }

    /// <summary>strict_sni: false when the request names a host other than the connection's SNI (answered 421). A request without Host passes.</summary>
    private bool HostMatchesSni()
    {
        var host = HttpRequestHead.AuthorityWithoutPort(_request.Authority);
        return host.IsEmpty || System.Text.Ascii.EqualsIgnoreCase(host, _strictSni!);
    }

    /// <summary>Counts a failed handshake by its reason and logs it at the shared bounded rate (a client that only connected and left is not worth a line).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void HandshakeFailed(Exception e, bool timedOut)
    {
        var reason = TlsHandshakeFailures.Classify(e, timedOut);
        _owner.Traffic.TlsHandshakeFailed(reason);
        var what = reason == TlsHandshakeFailure.Timeout
            ? $"not finished within {ConfigDuration.Format(_listener.HandshakeTimeout)}"
            : $"failed ({TlsHandshakeFailures.Name(reason)}): {Innermost(e).Message}";
        if (reason == TlsHandshakeFailure.Closed)
        {
            Log.Debug($"listener '{_listener.Name}': TLS handshake from {_peer?.Address} {what}");
            return;
        }
        if (!ErrorLogLimiter.Shared.TryAcquire(out var suppressed)) return;
        var more = suppressed > 0 ? $" ({suppressed} similar line(s) suppressed)" : "";
        Log.Warn($"listener '{_listener.Name}': TLS handshake from {_peer?.Address} {what}{more}");
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is { } inner) e = inner;
        return e;
    }
}
