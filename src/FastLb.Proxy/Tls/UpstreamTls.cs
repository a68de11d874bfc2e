using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Routing;
using FastLb.Core.Tls;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Tls;

/// <summary>
/// The client side of a service's <c>tls</c>: what every new upstream connection of the service runs before its first
/// byte (HTTP and TCP alike). Verification is offline (no OCSP, CRL or AIA fetch) against the ca file or the system's
/// roots, and checks the name asked for (sni, else the backend's address).
/// </summary>
/// <remarks>
/// One per tls config, built by the first connection that needs it and dropped with its config; a reload builds a new
/// one, so connections opened after it use the new settings. Pooled connections carry the one they were opened with
/// (<see cref="SameSettings"/>).
/// </remarks>
internal sealed class UpstreamTls
{
    private static readonly ConditionalWeakTable<UpstreamTlsConfig, UpstreamTls> Built = [];

    /// <summary>The server-auth EKU: a backend certificate restricted to other purposes is refused.</summary>
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private readonly X509ChainPolicy? _chainPolicy;
    private readonly SslStreamCertificateContext? _clientCertificate;

    private UpstreamTls(UpstreamTlsConfig config)
    {
        Config = config;
        if (config.Verify)
        {
            _chainPolicy = new X509ChainPolicy
            {
                TrustMode = config.Authorities is null ? X509ChainTrustMode.System : X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                DisableCertificateDownloads = true,
            };
            if (config.Authorities is { } authorities) _chainPolicy.CustomTrustStore.AddRange(authorities);
            _chainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        }
        if (config.ClientCertificate is { } client)
        {
            _clientCertificate = SslStreamCertificateContext.Create(client, config.ClientChain, offline: true);
        }
    }

    public UpstreamTlsConfig Config { get; }

    /// <summary>The client side for a service's tls config; null when the service speaks plain to its backends.</summary>
    public static UpstreamTls? For(UpstreamTlsConfig? config) =>
        config is null ? null : Built.GetValue(config, static c => new UpstreamTls(c));

    /// <summary>True when connections opened with <paramref name="a"/> may serve a service configured with <paramref name="b"/> (both plain, or the same TLS settings).</summary>
    public static bool SameSettings(UpstreamTls? a, UpstreamTls? b) =>
        ReferenceEquals(a, b) || (a is not null && b is not null && a.Config.Fingerprint == b.Config.Fingerprint);

    /// <summary>The server name asked for and verified when connecting to <paramref name="address"/> (host:port).</summary>
    public string TargetHostFor(string address) => Config.Sni ?? HostOf(address);

    private static string HostOf(string address)
    {
        if (address.StartsWith('['))
        {
            var close = address.IndexOf(']', StringComparison.Ordinal);
            return close > 0 ? address[1..close] : address;
        }
        var colon = address.LastIndexOf(':');
        return colon > 0 ? address[..colon] : address;
    }

    /// <summary>
    /// Runs the client handshake with <paramref name="backend"/> over <paramref name="connection"/>'s pipes until
    /// <paramref name="deadline"/> fires (the socket is then reset), and counts it on the backend. On failure the stream
    /// is disposed and the outcome says why; the caller closes the socket and calls <see cref="Failed"/>.
    /// </summary>
    public async Task<UpstreamTlsOutcome> HandshakeAsync(SocketConnection connection, BackendState backend, CancellationToken deadline)
    {
        // The socket's pipes do not watch cancellation tokens: at the deadline the socket is reset, which fails the handshake's read.
        using var cut = deadline.Register(static c => ((SocketConnection)c!).Abort(), connection);
        return await HandshakeAsync(new DuplexPipeStream(connection.Input, connection.Output), backend, deadline).ConfigureAwait(false);
    }

    /// <summary>The handshake over any stream that honours <paramref name="deadline"/> (see the overload above).</summary>
    public async Task<UpstreamTlsOutcome> HandshakeAsync(Stream transport, BackendState backend, CancellationToken deadline)
    {
        var outcome = await AuthenticateAsync(transport, backend.Address, deadline).ConfigureAwait(false);
        if (outcome.Stream is null) backend.Tls.Failed(outcome.Failure);
        else backend.Tls.Completed();
        return outcome;
    }

    /// <summary>
    /// The handshake itself, counted nowhere (health checks use it: their handshakes are not the backend's traffic).
    /// On failure <paramref name="transport"/> is disposed and the outcome says why.
    /// </summary>
    public async Task<UpstreamTlsOutcome> AuthenticateAsync(Stream transport, string address, CancellationToken deadline)
    {
        var verdict = new Verdict(Config.Verify);
        var ssl = new SslStream(transport, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = TargetHostFor(address),
            EnabledSslProtocols = Config.Protocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CertificateChainPolicy = _chainPolicy,
            ClientCertificateContext = _clientCertificate,
            RemoteCertificateValidationCallback = verdict.Validate,
        };
        try
        {
            await ssl.AuthenticateAsClientAsync(options, deadline).ConfigureAwait(false);
            return new UpstreamTlsOutcome(ssl, default, null);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            var reason = verdict.Failure ?? (deadline.IsCancellationRequested ? UpstreamTlsFailure.Timeout : UpstreamTlsFailure.Handshake);
            return new UpstreamTlsOutcome(null, reason, verdict.Detail ?? Innermost(e).Message);
        }
    }

    /// <summary>
    /// A failed handshake with a backend: counted toward its ejection like a failed connect, and logged with its
    /// reason at the shared bounded rate. The connection is never used in plain text instead.
    /// </summary>
    public static void Failed(BackendState backend, UpstreamTlsOutcome outcome)
    {
        backend.RecordFailure(outcome.Failure is UpstreamTlsFailure.Handshake or UpstreamTlsFailure.Timeout ? "tls handshake failed" : "tls verification failed");
        if (!ErrorLogLimiter.Shared.TryAcquire(out var suppressed)) return;
        var more = suppressed > 0 ? $" ({suppressed} similar line(s) suppressed)" : "";
        Log.Warn($"service '{backend.Service}' pool '{backend.Pool}' backend {backend.Address}: upstream TLS failed ({UpstreamTlsFailures.Name(outcome.Failure)}): {outcome.Detail}; connection closed, not used{more}");
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is { } inner) e = inner;
        return e;
    }

    /// <summary>One handshake's verification: SslStream reports the chain and name errors here, and the reason is kept for the log and the metric.</summary>
    private sealed class Verdict(bool verify)
    {
        public UpstreamTlsFailure? Failure { get; private set; }
        public string? Detail { get; private set; }

        public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
        {
            if (!verify || errors == SslPolicyErrors.None) return true;
            if ((errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
            {
                Failure = UpstreamTlsFailure.NoCertificate;
                Detail = "the backend sent no certificate";
            }
            else if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
            {
                Failure = UpstreamTlsFailure.Untrusted;
                var status = chain is null ? "" : string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
                Detail = $"certificate '{certificate?.Subject}' is not trusted ({status})";
            }
            else
            {
                Failure = UpstreamTlsFailure.NameMismatch;
                Detail = $"certificate '{certificate?.Subject}' does not name '{((SslStream)sender).TargetHostName}'";
            }
            return false;
        }
    }
}
