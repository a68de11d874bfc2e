using System.Text;
using FastLb.Core.Routing;

namespace FastLb.Tests.Routing;

/// <summary>A request view built from strings, for route-matching tests.</summary>
internal sealed class FakeRequest(string method, string host, string path, Dictionary<string, string>? headers = null, Dictionary<string, string>? cookies = null) : IHttpRequestView
{
    private readonly byte[] _method = Encoding.ASCII.GetBytes(method);
    private readonly byte[] _host = Encoding.ASCII.GetBytes(host);
    private readonly byte[] _path = Encoding.ASCII.GetBytes(path);

    public ReadOnlySpan<byte> Method => _method;
    public ReadOnlySpan<byte> Path => _path;
    public ReadOnlySpan<byte> Host => _host;

    public bool TryGetHeader(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value) => TryGet(headers, Encoding.ASCII.GetString(name), StringComparer.OrdinalIgnoreCase, out value);

    public bool TryGetCookie(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value) => TryGet(cookies, Encoding.ASCII.GetString(name), StringComparer.Ordinal, out value);

    private static bool TryGet(Dictionary<string, string>? map, string name, StringComparer comparer, out ReadOnlySpan<byte> value)
    {
        foreach (var (k, v) in map ?? [])
        {
            if (comparer.Equals(k, name))
            {
                value = Encoding.ASCII.GetBytes(v);
                return true;
            }
        }
        value = default;
        return false;
    }
}
