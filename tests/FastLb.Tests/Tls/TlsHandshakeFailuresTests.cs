using System.Security.Authentication;
using FastLb.Core.Tls;
using Xunit;

namespace FastLb.Tests.Tls;

/// <summary>Failed handshakes are classified from the messages SslStream and OpenSSL give (as seen on Linux).</summary>
public sealed class TlsHandshakeFailuresTests
{
    private static AuthenticationException OpenSsl(string reason) =>
        new AuthenticationException("Authentication failed, see inner exception.",
            new InvalidOperationException("SSL Handshake failed with OpenSSL error - SSL_ERROR_SSL.", new InvalidOperationException(reason)));

    [Theory]
    [InlineData("error:0A000102:SSL routines::unsupported protocol", "protocol")]
    [InlineData("error:0A0000EB:SSL routines::no application protocol", "protocol")]
    [InlineData("error:0A0000C1:SSL routines::no shared cipher", "protocol")]
    [InlineData("error:0A00009C:SSL routines::http request", "not_tls")]
    [InlineData("error:0A0000C7:SSL routines::peer did not return a certificate", "client_certificate")]
    [InlineData("error:0A000412:SSL routines::sslv3 alert bad certificate", "other")]
    public void Classify_OpenSslReason_Named(string reason, string expected) =>
        Assert.Equal(expected, TlsHandshakeFailures.Name(TlsHandshakeFailures.Classify(OpenSsl(reason), timedOut: false)));

    [Fact]
    public void Classify_SslStreamMessages_Named()
    {
        Assert.Equal(TlsHandshakeFailure.NotTls, TlsHandshakeFailures.Classify(new AuthenticationException("Cannot determine the frame size or a corrupted frame was received."), false));
        Assert.Equal(TlsHandshakeFailure.Closed, TlsHandshakeFailures.Classify(new IOException("Received an unexpected EOF or 0 bytes from the transport stream."), false));
        Assert.Equal(TlsHandshakeFailure.ClientCertificate, TlsHandshakeFailures.Classify(new AuthenticationException("The remote certificate was rejected by the provided RemoteCertificateValidationCallback."), false));
        Assert.Equal(TlsHandshakeFailure.Timeout, TlsHandshakeFailures.Classify(new IOException("reset"), timedOut: true));
        Assert.Equal("client_certificate", TlsHandshakeFailures.Name(TlsHandshakeFailure.ClientCertificate));
    }
}
