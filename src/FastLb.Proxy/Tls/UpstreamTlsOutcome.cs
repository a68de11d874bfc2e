using System.Net.Security;
using FastLb.Core.Tls;

namespace FastLb.Proxy.Tls;

/// <summary>How a TLS handshake with a backend ended: the stream to use, or why there is none.</summary>
/// <param name="Stream">The authenticated stream; null when the handshake failed.</param>
/// <param name="Failure">Why it failed (meaningless on success).</param>
/// <param name="Detail">What the TLS library or the verification said, for the log line.</param>
internal readonly record struct UpstreamTlsOutcome(SslStream? Stream, UpstreamTlsFailure Failure, string? Detail);
