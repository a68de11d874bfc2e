using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using FastLb.Core.Diagnostics;
using FastLb.Proxy.Tls;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    /// <summary>How much SslStream's pipes read or buffer at once: one TLS record's plaintext.</summary>
    private const int TlsPipeBufferSize = 16 * 1024;

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
            Log.Debug(deadline.IsCancellationRequested
                ? $"listener '{_listener.Name}': TLS handshake from {_peer?.Address} not finished within {_listener.HandshakeTimeout.TotalSeconds:0.###}s"
                : $"listener '{_listener.Name}': TLS handshake from {_peer?.Address} failed: {e.Message}");
            return false;
        }
        _input = PipeReader.Create(ssl, new StreamPipeReaderOptions(bufferSize: TlsPipeBufferSize, leaveOpen: true));
        _output = PipeWriter.Create(ssl, new StreamPipeWriterOptions(minimumBufferSize: TlsPipeBufferSize, leaveOpen: true));
        return true;
    }
}
