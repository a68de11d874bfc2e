using System.IO.Pipelines;
using System.Net.Security;
using FastLb.Core.Config;
using FastLb.Core.Routing;
using FastLb.Proxy.Tls;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Tcp;

/// <remarks>
/// A service with <c>tls</c>: FastLb opens TLS to the backend and relays the client's plain bytes through SslStream,
/// so neither splice nor the reader-to-writer copy loops apply. The client side is a transport over two pipes;
/// the backend side is two loops, one encrypting the client's bytes, one decrypting the backend's. Same semantics as
/// the other relays: the client's FIN becomes close_notify and a FIN to the backend while the other direction runs
/// on, the backend's end of stream a FIN to the client, and a reset or failure on one side resets the other.
/// </remarks>
internal sealed partial class TcpProxyConnection
{
    /// <summary>How much one decrypting read asks for: one TLS record's plaintext.</summary>
    private const int TlsReadSize = 16 * 1024;

    private SocketConnection? _backendConnection; // tls: the backend socket's reader and writer, under _backendSsl
    private SslStream? _backendSsl;
    private long _tlsBytesDown; // plaintext bytes from the backend (written by the decrypting loop only)

    /// <summary>The handshake with the backend just connected, within connect_timeout; null (counted, logged, the connection closed by teardown) when it failed.</summary>
    private async Task<SslStream?> StartTlsAsync(BackendSnapshot backend, ServiceConfig config)
    {
        var connection = new SocketConnection(_backendSocket!, _options.Pool);
        Volatile.Write(ref _backendConnection, connection);
        using var deadline = new CancellationTokenSource(config.ConnectTimeout);
        Volatile.Write(ref _connectTimer, deadline); // Abort cancels it: the handshake ends at once
        try
        {
            if (IsAborted) return null;
            var outcome = await UpstreamTls.For(config.Tls)!.HandshakeAsync(connection, backend.State, deadline.Token).ConfigureAwait(false);
            if (outcome.Stream is null)
            {
                if (!IsAborted) UpstreamTls.Failed(backend.State, outcome);
                return null;
            }
            Volatile.Write(ref _backendSsl, outcome.Stream);
            return outcome.Stream;
        }
        finally
        {
            Volatile.Write(ref _connectTimer, null);
        }
    }

    private async Task TlsRelayAsync(SslStream ssl, SocketConnection backend)
    {
        var upstream = new Pipe(_options.RelayPipe);   // client → backend (plain)
        var downstream = new Pipe(_options.RelayPipe); // backend → client (plain)
        var clientTransport = new SocketTransport(_client, upstream.Writer, downstream.Reader);
        Interlocked.Exchange(ref _clientTransport, clientTransport);
        var clientDone = clientTransport.Start();
        if (IsAborted) clientTransport.Abort();
        var up = EncryptAsync(upstream.Reader, ssl, backend);
        var down = DecryptAsync(ssl, downstream.Writer);
        await clientDone.ConfigureAwait(false);
        await up.ConfigureAwait(false);
        await down.ConfigureAwait(false);
    }

    /// <summary>Client → backend: writes the client's bytes through TLS; at the client's FIN sends close_notify and a FIN, on a failure resets the backend.</summary>
    private static async Task EncryptAsync(PipeReader from, SslStream ssl, SocketConnection backend)
    {
        var failed = false;
        try
        {
            while (true)
            {
                var result = await from.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer) await ssl.WriteAsync(segment).ConfigureAwait(false);
                from.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled) break;
            }
            await ssl.ShutdownAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            failed = true; // the client reset, or the backend failed
        }
        finally
        {
            await from.CompleteAsync().ConfigureAwait(false);
            if (failed) backend.Abort();
            else await backend.Output.CompleteAsync().ConfigureAwait(false); // FIN after close_notify went out
        }
    }

    /// <summary>Backend → client: decrypts into the client's pipe until the backend ends (FIN to the client) or fails (reset).</summary>
    private async Task DecryptAsync(SslStream ssl, PipeWriter to)
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                var n = await ssl.ReadAsync(to.GetMemory(TlsReadSize)).ConfigureAwait(false);
                if (n == 0) break;
                to.Advance(n);
                Volatile.Write(ref _tlsBytesDown, _tlsBytesDown + n);
                var flush = await to.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled) break;
            }
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            await to.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    /// <summary>Teardown of the TLS side: the stream, then the backend socket's reader and writer and the socket.</summary>
    private async ValueTask TeardownTlsAsync()
    {
        if (Volatile.Read(ref _backendSsl) is { } ssl) await ssl.DisposeAsync().ConfigureAwait(false);
        Volatile.Read(ref _backendConnection)?.Dispose();
    }
}
