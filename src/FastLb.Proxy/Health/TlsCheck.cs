using System.Net.Sockets;
using FastLb.Core.Tls;
using FastLb.Proxy.Tls;

namespace FastLb.Proxy.Health;

/// <summary>
/// One http check over TLS (a service with <c>tls</c>): the prober connected the socket; this runs the service's own
/// handshake (sni, ca, verify, client_cert), sends the check's request and reads the status line, then hands itself
/// back to the prober. The prober owns the deadline: at it, <see cref="Dispose"/> closes the socket under the check.
/// </summary>
/// <remarks>
/// Control plane: an SslStream per check, continuations on the thread pool. At most one per backend is in flight
/// (checks of a backend never overlap) and each ends by the check's timeout, so the work stays bounded.
/// </remarks>
internal sealed class TlsCheck : IDisposable
{
    private readonly Socket _socket;
    private volatile bool _handshakeDone;

    /// <param name="fd">The connected, non-blocking check socket; this check owns it from now on.</param>
    public TlsCheck(ProbeTarget target, int fd)
    {
        Target = target;
        Sequence = target.Sequence;
        _socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true)) { NoDelay = true }; // the request follows the handshake's last flight at once
    }

    public ProbeTarget Target { get; }

    /// <summary>The target's check this one is; a result for an older check (cut at its deadline) is ignored.</summary>
    public uint Sequence { get; }

    /// <summary>True once the handshake verified: a timeout after it is the backend's answer, not TLS.</summary>
    public bool HandshakeDone => _handshakeDone;

    /// <summary>The status code read; 0 when the check failed before it.</summary>
    public int Status { get; private set; }

    /// <summary>A fixed text naming why the check failed ("tls: certificate not trusted"); null when a status was read.</summary>
    public string? Error { get; private set; }

    /// <summary>What the TLS library or the verification said, for the log line of a state change.</summary>
    public string? Detail { get; private set; }

    /// <summary>Runs the check and calls <paramref name="done"/> once, whatever happens (the prober reads the result after it).</summary>
    public async Task RunAsync(UpstreamTls tls, byte[] request, string address, Action<TlsCheck> done)
    {
        try
        {
            var outcome = await tls.AuthenticateAsync(new NetworkStream(_socket, ownsSocket: false), address, CancellationToken.None).ConfigureAwait(false);
            if (outcome.Stream is not { } ssl)
            {
                Error = UpstreamTlsFailures.CheckError(outcome.Failure);
                Detail = outcome.Detail;
                return;
            }
            _handshakeDone = true;
            await using (ssl.ConfigureAwait(false))
            {
                await ssl.WriteAsync(request).ConfigureAwait(false);
                var line = new byte[ProbeTarget.StatusLineBytes];
                var n = await ssl.ReadAtLeastAsync(line, line.Length, throwOnEndOfStream: false).ConfigureAwait(false);
                if (n < line.Length)
                {
                    Error = "closed before the status line";
                    return;
                }
                var status = HealthProber.ParseStatus(line);
                if (status < 0) Error = "invalid status line";
                else Status = status;
            }
        }
        catch (Exception e)
        {
            // Reset or closed mid-check, or the socket closed under it at the deadline (then the result is ignored).
            Error = _handshakeDone ? "connection closed" : UpstreamTlsFailures.CheckError(UpstreamTlsFailure.Handshake);
            Detail = e.Message;
        }
        finally
        {
            done(this);
        }
    }

    /// <summary>Closes the socket (with a reset: the prober set SO_LINGER 0), which ends any operation in flight.</summary>
    public void Dispose() => _socket.Dispose();
}
