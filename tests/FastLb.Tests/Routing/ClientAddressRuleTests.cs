using System.Net;
using System.Text;
using FastLb.Core.Routing;
using Xunit;

namespace FastLb.Tests.Routing;

public class ClientAddressRuleTests
{
    private static readonly ClientAddressRule Rule = new([IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("2001:db8::/32")]);

    [Theory]
    [InlineData("10.1.2.3", true)]
    [InlineData("::ffff:10.1.2.3", true)]
    [InlineData("11.1.2.3", false)]
    [InlineData("2001:db8::1", true)]
    [InlineData("2001:db9::1", false)]
    public void IsTrusted_PeerInOrOutOfTheNetworks(string peer, bool trusted)
    {
        Assert.Equal(trusted, Rule.IsTrusted(IPAddress.Parse(peer)));
        Assert.False(ClientAddressRule.TrustNone.IsTrusted(IPAddress.Parse(peer)));
    }

    [Theory]
    [InlineData("203.0.113.9", "203.0.113.9")]
    [InlineData("203.0.113.9, 10.0.0.2", "203.0.113.9")]
    [InlineData("198.51.100.1, 203.0.113.9, 10.0.0.2,10.0.0.3", "203.0.113.9")]
    [InlineData("garbage, 10.0.0.2", "10.0.0.2")]
    [InlineData("203.0.113.9, 10.0.0.2:1234", "10.0.0.1")]
    public void Resolve_ChainFromTrustedPeer_RightmostUntrustedHop(string chain, string expected)
    {
        var client = IPAddress.Parse("10.0.0.1");

        Assert.True(Rule.Resolve(Encoding.ASCII.GetBytes(chain), ref client));
        Assert.Equal(IPAddress.Parse(expected), client);
    }

    [Fact]
    public void Resolve_AllHopsTrusted_ContinuesWithTheLastOne()
    {
        var client = IPAddress.Parse("10.0.0.1");

        Assert.False(Rule.Resolve("10.9.9.9, 10.0.0.2"u8, ref client));
        Assert.Equal(IPAddress.Parse("10.9.9.9"), client);
    }
}
