using System.Security.Authentication;
using System.Text;
using FastLb.Core.Tls;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.Tests.Tls;

public class ClientHelloParserTests
{
    private static readonly byte[] WithSni = TestCertificates.CaptureClientHello("Api.Example.com");

    private static ClientHelloStatus Read(byte[] data, out string name)
    {
        var scratch = new byte[ClientHelloParser.MaxHandshakeLength + 4];
        var buffer = new byte[ClientHelloParser.MaxServerNameLength];
        var status = ClientHelloParser.TryReadServerName(data, scratch, buffer, out var length);
        name = Encoding.ASCII.GetString(buffer, 0, length);
        return status;
    }

    /// <summary>The same handshake message re-framed into records of at most <paramref name="size"/> bytes.</summary>
    private static byte[] Fragment(byte[] records, int size)
    {
        var message = records.AsSpan(5, records[3] << 8 | records[4]).ToArray();
        var result = new List<byte>();
        for (var i = 0; i < message.Length; i += size)
        {
            var n = Math.Min(size, message.Length - i);
            result.AddRange([22, 3, 1, (byte)(n >> 8), (byte)n]);
            result.AddRange(message.AsSpan(i, n).ToArray());
        }
        return [.. result];
    }

    [Theory]
    [InlineData(SslProtocols.None)]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public void TryReadServerName_RealClientHello_LowercasedName(SslProtocols protocols)
    {
        Assert.Equal(ClientHelloStatus.Complete, Read(TestCertificates.CaptureClientHello("Api.Example.com", protocols), out var name));
        Assert.Equal("api.example.com", name);
    }

    [Fact]
    public void TryReadServerName_NoSni_CompleteWithoutName()
    {
        Assert.Equal(ClientHelloStatus.Complete, Read(TestCertificates.CaptureClientHello(""), out var name));
        Assert.Equal("", name);
    }

    [Fact]
    public void TryReadServerName_EveryPrefix_Incomplete()
    {
        for (var n = 0; n < WithSni.Length; n++)
        {
            Assert.Equal(ClientHelloStatus.Incomplete, Read(WithSni[..n], out _));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100)]
    public void TryReadServerName_FragmentedIntoRecords_JoinedAndRead(int size)
    {
        var fragmented = Fragment(WithSni, size);

        Assert.Equal(ClientHelloStatus.Complete, Read(fragmented, out var name));
        Assert.Equal("api.example.com", name);
        Assert.Equal(ClientHelloStatus.Incomplete, Read(fragmented[..^1], out _));
    }

    [Fact]
    public void TryReadServerName_HttpRequest_InvalidAtTheFirstByte()
    {
        Assert.Equal(ClientHelloStatus.Invalid, Read("G"u8.ToArray(), out _));
        Assert.Equal(ClientHelloStatus.Invalid, Read("GET / HTTP/1.1\r\n\r\n"u8.ToArray(), out _));
    }

    [Fact]
    public void TryReadServerName_Garbage20KiB_Invalid()
    {
        var garbage = new byte[20 * 1024];
        new Random(7).NextBytes(garbage);
        garbage[0] = 22;
        garbage[1] = 3;
        garbage[3] = 0x50; // a record of 20480 bytes: past the 2^14 bound

        Assert.Equal(ClientHelloStatus.Invalid, Read(garbage, out _));
        Assert.Equal(ClientHelloStatus.Invalid, Read(new byte[20 * 1024], out _));
    }

    public static TheoryData<string, byte[]> Malformed()
    {
        byte[] Patch(int index, byte value)
        {
            var copy = (byte[])WithSni.Clone();
            copy[index] = value;
            return copy;
        }
        var data = new TheoryData<string, byte[]>
        {
            { "alert record", Patch(0, 21) },
            { "record version 2", Patch(1, 2) },
            { "ServerHello, not ClientHello", Patch(5, 2) },
            { "message longer than its record, then application data", [.. Patch(8, (byte)(WithSni[8] + 1)), 23, 3, 3, 0, 1, 0] },
            { "message shorter than its record", Patch(8, (byte)(WithSni[8] - 1)) },
            { "session id of 33 bytes", Patch(5 + 4 + 34, 33) },
            { "empty record", [22, 3, 1, 0, 0] },
            { "only a record header and a huge message", [22, 3, 1, 0, 4, 1, 0x01, 0, 0] },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void TryReadServerName_Malformed_Invalid(string why, byte[] data)
    {
        Assert.True(Read(data, out _) == ClientHelloStatus.Invalid, why);
    }

    [Fact]
    public void TryReadServerName_EveryTruncatedExtensionBlock_NeverComplete()
    {
        // Shrink the record and message lengths with the bytes: a ClientHello cut inside its extensions is malformed, never read.
        for (var cut = 1; cut < 60; cut++)
        {
            var copy = WithSni[..^cut];
            var record = (WithSni[3] << 8 | WithSni[4]) - cut;
            copy[3] = (byte)(record >> 8);
            copy[4] = (byte)record;
            var message = record - 4;
            copy[6] = (byte)(message >> 16);
            copy[7] = (byte)(message >> 8);
            copy[8] = (byte)message;
            Assert.Equal(ClientHelloStatus.Invalid, Read(copy, out _));
        }
    }

    [Fact]
    public void TryReadServerName_AllocatesNothing()
    {
        var fragmented = Fragment(WithSni, 50);
        Read(WithSni, out _);
        var scratch = new byte[ClientHelloParser.MaxHandshakeLength + 4];
        var name = new byte[ClientHelloParser.MaxServerNameLength];
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            ClientHelloParser.TryReadServerName(WithSni, scratch, name, out _);
            ClientHelloParser.TryReadServerName(fragmented, scratch, name, out _);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
