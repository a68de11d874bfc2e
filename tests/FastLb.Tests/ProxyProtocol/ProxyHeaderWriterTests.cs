using System.Net;
using System.Text;
using FastLb.Core.ProxyProtocol;
using Xunit;

namespace FastLb.Tests.ProxyProtocol;

public class ProxyHeaderWriterTests
{
    [Fact]
    public void Write_V1Ipv4_TheSpecificationsLine()
    {
        var buffer = new byte[ProxyHeaderWriter.MaxLength];
        var n = ProxyHeaderWriter.Write(buffer, 1, IPEndPoint.Parse("203.0.113.9:56324"), IPEndPoint.Parse("10.0.0.1:443"));

        Assert.Equal("PROXY TCP4 203.0.113.9 10.0.0.1 56324 443\r\n", Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public void Write_V1MixedFamilies_BothAsIpv6()
    {
        var buffer = new byte[ProxyHeaderWriter.MaxLength];
        var n = ProxyHeaderWriter.Write(buffer, 1, IPEndPoint.Parse("[::ffff:203.0.113.9]:1"), IPEndPoint.Parse("[2001:db8::1]:2"));

        Assert.Equal("PROXY TCP6 ::ffff:203.0.113.9 2001:db8::1 1 2\r\n", Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Theory]
    [InlineData(1, "203.0.113.9:56324", "10.0.0.1:443")]
    [InlineData(2, "203.0.113.9:56324", "10.0.0.1:443")]
    [InlineData(1, "[2001:db8::9]:1", "[2001:db8::1]:65535")]
    [InlineData(2, "[2001:db8::9]:1", "[2001:db8::1]:65535")]
    public void Write_ThenParse_RoundTrips(int version, string source, string destination)
    {
        var buffer = new byte[ProxyHeaderWriter.MaxLength];
        var n = ProxyHeaderWriter.Write(buffer, version, IPEndPoint.Parse(source), IPEndPoint.Parse(destination));

        Assert.Equal(ProxyParseStatus.Complete, ProxyHeaderParser.TryParse(buffer.AsSpan(0, n), ProxyVersions.Both, out var header, out var consumed));
        Assert.Equal(n, consumed);
        Assert.Equal(version, header.Version);
        Assert.Equal(IPEndPoint.Parse(source), header.SourceEndPoint());
        Assert.Equal(IPEndPoint.Parse(destination), header.DestinationEndPoint());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Write_NoAddresses_UnknownOrLocal(int version)
    {
        var buffer = new byte[ProxyHeaderWriter.MaxLength];
        var n = ProxyHeaderWriter.Write(buffer, version, null, null);

        Assert.Equal(ProxyParseStatus.Complete, ProxyHeaderParser.TryParse(buffer.AsSpan(0, n), ProxyVersions.Both, out var header, out _));
        Assert.Equal(ProxyCommand.Local, header.Command);
    }
}
