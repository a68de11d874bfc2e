using System.Net;
using System.Text;
using FastLb.Core.ProxyProtocol;
using Xunit;

namespace FastLb.Tests.ProxyProtocol;

public class ProxyHeaderParserTests
{
    private static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static ProxyParseStatus Parse(byte[] data, out ProxyHeader header, out int consumed, ProxyVersions versions = ProxyVersions.Both) =>
        ProxyHeaderParser.TryParse(data, versions, out header, out consumed);

    private static ProxyParseStatus Parse(string text, out ProxyHeader header, out int consumed, ProxyVersions versions = ProxyVersions.Both) =>
        Parse(Encoding.ASCII.GetBytes(text), out header, out consumed, versions);

    [Fact]
    public void TryParse_V1Tcp4_SourceAndDestination()
    {
        var text = "PROXY TCP4 203.0.113.9 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\n";

        Assert.Equal(ProxyParseStatus.Complete, Parse(text, out var header, out var consumed));
        Assert.Equal(text.IndexOf('\n') + 1, consumed);
        Assert.Equal(ProxyCommand.Proxy, header.Command);
        Assert.Equal(1, header.Version);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.9"), 56324), header.SourceEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 443), header.DestinationEndPoint());
    }

    [Theory]
    [InlineData("2001:db8::1", "2001:db8::2")]
    [InlineData("::1", "::")]
    [InlineData("fe80:0:0:0:1:2:3:4", "1:2:3:4:5:6:7:8")]
    [InlineData("::ffff:192.0.2.1", "64:ff9b::10.0.0.1")]
    [InlineData("1::", "1:2:3:4:5:6:7::")]
    public void TryParse_V1Tcp6_MatchesIPAddressParse(string source, string destination)
    {
        Assert.Equal(ProxyParseStatus.Complete, Parse($"PROXY TCP6 {source} {destination} 1 65535\r\n", out var header, out _));
        Assert.Equal(new IPEndPoint(IPAddress.Parse(source), 1), header.SourceEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Parse(destination), 65535), header.DestinationEndPoint());
    }

    [Theory]
    [InlineData("PROXY UNKNOWN\r\n")]
    [InlineData("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n")]
    public void TryParse_V1Unknown_LocalWithoutAddresses(string text)
    {
        Assert.Equal(ProxyParseStatus.Complete, Parse(text, out var header, out var consumed));
        Assert.Equal(text.Length, consumed);
        Assert.Equal(ProxyCommand.Local, header.Command);
        Assert.Null(header.SourceEndPoint());
    }

    [Theory]
    [InlineData("P")]
    [InlineData("PROXY")]
    [InlineData("PROXY TCP4 203.0.113.9 10.0.0.1 5632")]
    [InlineData("PROXY TCP4 203.0.113.9 10.0.0.1 56324 443\r")]
    public void TryParse_V1Prefix_Incomplete(string text)
    {
        Assert.Equal(ProxyParseStatus.Incomplete, Parse(text, out _, out _));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]                                  // not a header at all
    [InlineData("PROXX TCP4 1.2.3.4 5.6.7.8 1 2\r\n")]                  // wrong signature
    [InlineData("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n")]                  // case matters
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n")]                    // LF without CR
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n")]                // stray CR
    [InlineData("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n")]                  // unknown protocol
    [InlineData("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n")]                 // double space
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n")]                 // trailing space
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n")]                    // a field missing
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n")]                // a field too many
    [InlineData("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n")]                    // three octets
    [InlineData("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n")]                // five octets
    [InlineData("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n")]                // octet past 255
    [InlineData("PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n")]                 // leading zero (octal?)
    [InlineData("PROXY TCP4 1.2..4 5.6.7.8 1 2\r\n")]                   // empty octet
    [InlineData("PROXY TCP4 ::1 5.6.7.8 1 2\r\n")]                      // IPv6 in TCP4
    [InlineData("PROXY TCP6 1.2.3.4 ::1 1 2\r\n")]                      // IPv4 in TCP6
    [InlineData("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n")]            // nine groups
    [InlineData("PROXY TCP6 1::2::3 ::1 1 2\r\n")]                      // two "::"
    [InlineData("PROXY TCP6 12345::1 ::1 1 2\r\n")]                     // five hex digits
    [InlineData("PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n")]                // seven groups without "::"
    [InlineData("PROXY TCP6 :1 ::1 1 2\r\n")]                           // single leading colon
    [InlineData("PROXY TCP6 1: ::1 1 2\r\n")]                           // single trailing colon
    [InlineData("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n")]                 // zone ids are not allowed
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n")]              // port past 65535
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n")]                 // port with a leading zero
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n")]                 // negative port
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 123456\r\n")]             // six-digit port
    [InlineData("PROXY UNKNOWNX\r\n")]                                  // not UNKNOWN
    [InlineData("PROXY \r\n")]                                          // nothing after the prefix
    [InlineData("PROXY TCP4 1.2.3.4\x01")]                               // a control byte before the line ends
    public void TryParse_V1Malformed_Invalid(string text)
    {
        Assert.Equal(ProxyParseStatus.Invalid, Parse(text, out _, out var consumed));
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void TryParse_V1LongerThan107Bytes_Invalid()
    {
        var text = "PROXY UNKNOWN " + new string('a', 100) + "\r\n";

        Assert.Equal(ProxyParseStatus.Invalid, Parse(text, out _, out _));
        Assert.Equal(ProxyParseStatus.Invalid, Parse(text[..107], out _, out _)); // no LF within the bound: refused without waiting
    }

    [Fact]
    public void TryParse_V1OnlyV2Accepted_Invalid()
    {
        Assert.Equal(ProxyParseStatus.Invalid, Parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", out _, out _, ProxyVersions.V2));
    }

    private static byte[] V2(byte versionCommand, byte familyProtocol, byte[] block)
    {
        var data = new byte[16 + block.Length];
        Signature.CopyTo(data, 0);
        data[12] = versionCommand;
        data[13] = familyProtocol;
        data[14] = (byte)(block.Length >> 8);
        data[15] = (byte)block.Length;
        block.CopyTo(data, 16);
        return data;
    }

    private static byte[] Inet4Block(params byte[] tlvs) =>
        [203, 0, 113, 9, 10, 0, 0, 1, 0xDC, 0x04, 0x01, 0xBB, .. tlvs];

    [Fact]
    public void TryParse_V2Inet_SourceAndDestination()
    {
        var data = V2(0x21, 0x11, Inet4Block());

        Assert.Equal(ProxyParseStatus.Complete, Parse([.. data, (byte)'G', (byte)'E', (byte)'T'], out var header, out var consumed));
        Assert.Equal(data.Length, consumed);
        Assert.Equal(2, header.Version);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.9"), 56324), header.SourceEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 443), header.DestinationEndPoint());
    }

    [Fact]
    public void TryParse_V2Inet6_SourceAndDestination()
    {
        var source = IPAddress.Parse("2001:db8::9").GetAddressBytes();
        var destination = IPAddress.Parse("2001:db8::1").GetAddressBytes();
        var data = V2(0x21, 0x21, [.. source, .. destination, 0, 80, 1, 0]);

        Assert.Equal(ProxyParseStatus.Complete, Parse(data, out var header, out _));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::9"), 80), header.SourceEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 256), header.DestinationEndPoint());
    }

    [Fact]
    public void TryParse_V2WithTlvs_SkipsThem()
    {
        // PP2_TYPE_ALPN "h2", PP2_TYPE_AUTHORITY "example.com", an empty NOOP.
        byte[] tlvs = [0x01, 0, 2, (byte)'h', (byte)'2', 0x02, 0, 11, .. "example.com"u8, 0x04, 0, 0];
        var data = V2(0x21, 0x11, Inet4Block(tlvs));

        Assert.Equal(ProxyParseStatus.Complete, Parse(data, out var header, out var consumed));
        Assert.Equal(data.Length, consumed);
        Assert.Equal(IPAddress.Parse("203.0.113.9"), header.SourceEndPoint()!.Address);
    }

    [Theory]
    [InlineData(0x20, 0x00)] // LOCAL: a health check from the balancer itself
    [InlineData(0x20, 0x11)] // LOCAL with an address block: ignored
    [InlineData(0x21, 0x00)] // PROXY with AF_UNSPEC: keep the peer
    public void TryParse_V2LocalOrUnspec_KeepsThePeer(byte versionCommand, byte familyProtocol)
    {
        var data = V2(versionCommand, familyProtocol, familyProtocol == 0 ? [] : Inet4Block());

        Assert.Equal(ProxyParseStatus.Complete, Parse(data, out var header, out var consumed));
        Assert.Equal(data.Length, consumed);
        Assert.Equal(ProxyCommand.Local, header.Command);
        Assert.Null(header.SourceEndPoint());
    }

    [Fact]
    public void TryParse_V2Unix_KeepsThePeer()
    {
        Assert.Equal(ProxyParseStatus.Complete, Parse(V2(0x21, 0x31, new byte[216]), out var header, out _));
        Assert.Equal(ProxyCommand.Local, header.Command);
    }

    [Fact]
    public void TryParse_V2EveryPrefix_Incomplete()
    {
        var data = V2(0x21, 0x11, Inet4Block(0x04, 0, 1, 0));
        for (var n = 1; n < data.Length; n++)
        {
            Assert.Equal(ProxyParseStatus.Incomplete, Parse(data[..n], out _, out _));
        }
    }

    public static TheoryData<string, byte[]> MalformedV2 => new()
    {
        { "bad signature", [.. Signature[..11], 0x0B, 0x21, 0x11, 0, 12, .. Inet4Block()] },
        { "version 1 in the v2 frame", V2(0x11, 0x11, Inet4Block()) },
        { "version 3", V2(0x31, 0x11, Inet4Block()) },
        { "command 2", V2(0x22, 0x11, Inet4Block()) },
        { "family 4", V2(0x21, 0x41, Inet4Block()) },
        { "INET over DGRAM", V2(0x21, 0x12, Inet4Block()) },
        { "INET over UNSPEC protocol", V2(0x21, 0x10, Inet4Block()) },
        { "INET6 over DGRAM", V2(0x21, 0x22, new byte[36]) },
        { "UNSPEC with a protocol", V2(0x21, 0x01, []) },
        { "UNIX over protocol 3", V2(0x21, 0x33, new byte[216]) },
        { "INET block too short", V2(0x21, 0x11, new byte[11]) },
        { "INET6 block too short", V2(0x21, 0x21, new byte[35]) },
        { "UNIX block too short", V2(0x21, 0x31, new byte[215]) },
        { "TLV header cut", V2(0x21, 0x11, Inet4Block(0x01, 0)) },
        { "TLV longer than the block", V2(0x21, 0x11, Inet4Block(0x01, 0, 5, 1, 2)) },
        { "length past the bound", [.. Signature, 0x21, 0x11, 0xFF, 0xFF] },
    };

    [Theory]
    [MemberData(nameof(MalformedV2))]
    public void TryParse_V2Malformed_Invalid(string why, byte[] data)
    {
        Assert.True(Parse(data, out _, out _) == ProxyParseStatus.Invalid, why);
    }

    [Fact]
    public void TryParse_V2OnlyV1Accepted_Invalid()
    {
        Assert.Equal(ProxyParseStatus.Invalid, Parse(V2(0x21, 0x11, Inet4Block()), out _, out _, ProxyVersions.V1));
    }

    [Fact]
    public void TryParse_Empty_Incomplete()
    {
        Assert.Equal(ProxyParseStatus.Incomplete, Parse([], out _, out _));
    }

    [Fact]
    public void TryParse_Header_AllocatesNothing()
    {
        var v1 = Encoding.ASCII.GetBytes("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n");
        var v2 = V2(0x21, 0x11, Inet4Block());
        ProxyHeaderParser.TryParse(v1, ProxyVersions.Both, out _, out _);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            ProxyHeaderParser.TryParse(v1, ProxyVersions.Both, out _, out _);
            ProxyHeaderParser.TryParse(v2, ProxyVersions.Both, out _, out _);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
