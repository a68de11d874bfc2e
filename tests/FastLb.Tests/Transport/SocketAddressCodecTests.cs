using System.Net;
using FastLb.Proxy.Transport;
using Xunit;

namespace FastLb.Tests.Transport;

/// <summary>A peer's address survives the trip through a kernel sockaddr and the socket's inline form.</summary>
public class SocketAddressCodecTests
{
    [Theory]
    [InlineData("203.0.113.9", 56324)]
    [InlineData("127.0.0.1", 1)]
    [InlineData("2001:db8::9", 443)]
    [InlineData("::ffff:192.0.2.7", 8080)]
    [InlineData("fe80::1%3", 65535)]
    public void WrittenSockaddr_ReadBackInlineAndAsEndPoint_SameAddressAndPort(string address, int port)
    {
        var endPoint = new IPEndPoint(IPAddress.Parse(address), port);
        Span<byte> sockaddr = stackalloc byte[SocketAddressCodec.MaxLength];
        var length = SocketAddressCodec.Write(endPoint, sockaddr);

        Assert.Equal(endPoint, SocketAddressCodec.Read(sockaddr[..length]));
        Assert.Equal(endPoint, SocketAddressCodec.ReadPeer(sockaddr[..length]).ToEndPoint());
        Assert.Equal(endPoint, PeerAddress.From(endPoint).ToEndPoint());
    }

    [Fact]
    public void NoAddress_ReadsAsNone()
    {
        Assert.Null(SocketAddressCodec.Read(new byte[8]));
        Assert.Null(default(PeerAddress).ToEndPoint());
        Assert.Null(PeerAddress.From(null).ToEndPoint());
    }
}
