using System.Buffers;
using System.Text;

namespace FastLb.Proxy.Http;

/// <summary>Character classes and small syntax checks from RFC 9110/9112, vectorised through <see cref="SearchValues{T}"/>.</summary>
internal static class HttpChars
{
    /// <summary>tchar (RFC 9110 §5.6.2).</summary>
    public static readonly SearchValues<byte> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>Bytes never allowed in a field value, reason phrase or chunk extension: CTLs except HTAB, and DEL (RFC 9110 §5.5).</summary>
    public static readonly SearchValues<byte> InvalidFieldChars = SearchValues.Create(BuildInvalidFieldChars());

    /// <summary>reg-name characters (RFC 3986 §3.2.2) minus ',' so that a combined <c>Host: a,b</c> is rejected.</summary>
    private static readonly SearchValues<byte> s_regNameChars =
        SearchValues.Create("!$&'()*+-.;=_~%0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>Characters inside an IPv6 literal's brackets.</summary>
    private static readonly SearchValues<byte> s_ipLiteralChars = SearchValues.Create(":.0123456789ABCDEFabcdef"u8);

    private static byte[] BuildInvalidFieldChars()
    {
        var bytes = new byte[32];
        int n = 0;
        for (int b = 0; b < 0x20; b++)
        {
            if (b != '\t') bytes[n++] = (byte)b;
        }
        bytes[n++] = 0x7F;
        return bytes[..n];
    }

    public static bool IsToken(ReadOnlySpan<byte> s) => !s.IsEmpty && s.IndexOfAnyExcept(TokenChars) < 0;

    public static bool IsOws(byte b) => b == ' ' || b == '\t';

    public static ReadOnlySpan<byte> TrimOws(ReadOnlySpan<byte> s)
    {
        int start = 0, end = s.Length;
        while (start < end && IsOws(s[start])) start++;
        while (end > start && IsOws(s[end - 1])) end--;
        return s[start..end];
    }

    /// <summary>Parses a Content-Length value, a list of identical decimals (RFC 9110 §8.6), into <paramref name="length"/>.</summary>
    /// <remarks><paramref name="length"/> is -1 before the first Content-Length line; a later line must repeat the same number.</remarks>
    public static bool TryParseContentLength(ReadOnlySpan<byte> value, ref long length)
    {
        while (true)
        {
            int comma = value.IndexOf((byte)',');
            var item = TrimOws(comma < 0 ? value : value[..comma]);
            if (!TryParseDecimal(item, out long n)) return false;
            if (length >= 0 && length != n) return false;
            length = n;
            if (comma < 0) return true;
            value = value[(comma + 1)..];
        }
    }

    /// <summary>1*DIGIT into a non-negative long; rejects signs, hex, separators and anything past long.MaxValue.</summary>
    public static bool TryParseDecimal(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.IsEmpty) return false;
        long n = 0;
        foreach (byte b in s)
        {
            uint d = (uint)(b - '0');
            if (d > 9) return false;
            // Check before multiplying so the value can never wrap.
            if (n > (long.MaxValue - d) / 10) return false;
            n = n * 10 + d;
        }
        value = n;
        return true;
    }

    /// <summary>Validates <c>uri-host [ ":" port ]</c> as used by Host and absolute-form targets: no userinfo, path or list.</summary>
    public static bool IsValidAuthority(ReadOnlySpan<byte> s, bool allowEmpty)
    {
        if (s.IsEmpty) return allowEmpty;
        ReadOnlySpan<byte> rest;
        if (s[0] == '[')
        {
            int close = s.IndexOf((byte)']');
            if (close < 2 || s[1..close].IndexOfAnyExcept(s_ipLiteralChars) >= 0) return false;
            rest = s[(close + 1)..];
        }
        else
        {
            int colon = s.IndexOf((byte)':');
            var host = colon < 0 ? s : s[..colon];
            if (host.IsEmpty || host.IndexOfAnyExcept(s_regNameChars) >= 0) return false;
            rest = colon < 0 ? default : s[colon..];
        }
        if (rest.IsEmpty) return true;
        if (rest[0] != ':' || rest.Length < 2 || rest.Length > 6) return false;
        return TryParseDecimal(rest[1..], out long port) && port <= 65535;
    }

    /// <summary>True when a comma-separated list contains <paramref name="token"/>, compared case-insensitively.</summary>
    public static bool ListContains(ReadOnlySpan<byte> list, ReadOnlySpan<byte> token)
    {
        while (true)
        {
            int comma = list.IndexOf((byte)',');
            if (Ascii.EqualsIgnoreCase(TrimOws(comma < 0 ? list : list[..comma]), token)) return true;
            if (comma < 0) return false;
            list = list[(comma + 1)..];
        }
    }

    /// <summary>Classifies a header name by length first so most names cost one length switch.</summary>
    public static KnownHeader Classify(ReadOnlySpan<byte> name)
    {
        switch (name.Length)
        {
            case 2: return Ascii.EqualsIgnoreCase(name, "TE"u8) ? KnownHeader.TE : KnownHeader.Other;
            case 4: return Ascii.EqualsIgnoreCase(name, "Host"u8) ? KnownHeader.Host : KnownHeader.Other;
            case 6:
                if (Ascii.EqualsIgnoreCase(name, "Cookie"u8)) return KnownHeader.Cookie;
                if (Ascii.EqualsIgnoreCase(name, "Expect"u8)) return KnownHeader.Expect;
                return KnownHeader.Other;
            case 7:
                if (Ascii.EqualsIgnoreCase(name, "Upgrade"u8)) return KnownHeader.Upgrade;
                if (Ascii.EqualsIgnoreCase(name, "Trailer"u8)) return KnownHeader.Trailer;
                return KnownHeader.Other;
            case 10:
                if (Ascii.EqualsIgnoreCase(name, "Connection"u8)) return KnownHeader.Connection;
                if (Ascii.EqualsIgnoreCase(name, "Keep-Alive"u8)) return KnownHeader.KeepAlive;
                return KnownHeader.Other;
            case 14: return Ascii.EqualsIgnoreCase(name, "Content-Length"u8) ? KnownHeader.ContentLength : KnownHeader.Other;
            case 15: return Ascii.EqualsIgnoreCase(name, "X-Forwarded-For"u8) ? KnownHeader.XForwardedFor : KnownHeader.Other;
            case 16:
                if (Ascii.EqualsIgnoreCase(name, "Proxy-Connection"u8)) return KnownHeader.ProxyConnection;
                if (Ascii.EqualsIgnoreCase(name, "X-Forwarded-Host"u8)) return KnownHeader.XForwardedHost;
                return KnownHeader.Other;
            case 17:
                if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8)) return KnownHeader.TransferEncoding;
                if (Ascii.EqualsIgnoreCase(name, "X-Forwarded-Proto"u8)) return KnownHeader.XForwardedProto;
                return KnownHeader.Other;
            default: return KnownHeader.Other;
        }
    }
}
