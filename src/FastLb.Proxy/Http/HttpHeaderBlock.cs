using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;

namespace FastLb.Proxy.Http;

/// <summary>Owns the copied bytes of one message head and its header fields as offsets; reused for every message on a connection.</summary>
/// <remarks>
/// The buffer is rented lazily and only replaced when a larger head arrives, and the entry arrays only grow, so once a
/// connection has seen its largest head, parsing allocates nothing.
/// </remarks>
internal sealed class HttpHeaderBlock : IDisposable
{
    private byte[] _buffer = [];
    private HeaderEntry[] _entries = new HeaderEntry[16];
    private int _count;
    private ByteRange[] _connectionTokens = new ByteRange[4];
    private int _connectionTokenCount;

    public int Count => _count;

    /// <summary>Connection options other than close, keep-alive and upgrade: names of extra hop-by-hop headers.</summary>
    public int ConnectionTokenCount => _connectionTokenCount;

    public ConnectionOptions ConnectionOptions { get; private set; }

    public ReadOnlySpan<byte> Bytes => _buffer;

    public ReadOnlySpan<byte> this[ByteRange range] => new(_buffer, range.Start, range.Length);

    public HeaderEntry GetEntry(int index)
    {
        if ((uint)index >= (uint)_count) ThrowIndex();
        return _entries[index];
    }

    public ReadOnlySpan<byte> GetName(int index) => this[GetEntry(index).Name];

    public ReadOnlySpan<byte> GetValue(int index) => this[GetEntry(index).Value];

    public ReadOnlySpan<byte> GetConnectionToken(int index)
    {
        if ((uint)index >= (uint)_connectionTokenCount) ThrowIndex();
        return this[_connectionTokens[index]];
    }

    /// <summary>Returns a buffer of at least <paramref name="size"/> bytes for a fresh head; old contents are not kept.</summary>
    public Span<byte> PrepareBuffer(int size)
    {
        if (_buffer.Length < size)
        {
            var old = _buffer;
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1024));
            if (old.Length > 0) ArrayPool<byte>.Shared.Return(old);
        }
        return _buffer;
    }

    public void Reset()
    {
        _count = 0;
        _connectionTokenCount = 0;
        ConnectionOptions = ConnectionOptions.None;
    }

    /// <summary>Parses the field lines in [<paramref name="pos"/>, <paramref name="end"/>); every line ends in CRLF (checked by the scanner).</summary>
    public bool ParseFieldLines(int pos, int end, out string? errorReason)
    {
        _count = 0;
        var buffer = _buffer;
        while (pos < end)
        {
            var rest = new ReadOnlySpan<byte>(buffer, pos, end - pos);
            int lf = rest.IndexOf((byte)'\n');
            var line = rest[..(lf - 1)];

            // Covers obs-fold (§5.2) and a whitespace line before the first field (§2.2); both are request-smuggling vectors.
            if (HttpChars.IsOws(line[0])) return Fail("Field line starts with whitespace", out errorReason);
            int colon = line.IndexOf((byte)':');
            if (colon < 0) return Fail("Field line without colon", out errorReason);
            if (colon == 0) return Fail("Empty field name", out errorReason);
            var name = line[..colon];
            // Also catches whitespace between the name and the colon (RFC 9112 §5.1).
            if (name.IndexOfAnyExcept(HttpChars.TokenChars) >= 0) return Fail("Invalid field name", out errorReason);

            int vs = colon + 1, ve = line.Length;
            while (vs < ve && HttpChars.IsOws(line[vs])) vs++;
            while (ve > vs && HttpChars.IsOws(line[ve - 1])) ve--;
            if (line[vs..ve].IndexOfAny(HttpChars.InvalidFieldChars) >= 0)
                return Fail("Invalid character in field value", out errorReason);

            if (_count == _entries.Length) Array.Resize(ref _entries, _count * 2);
            _entries[_count++] = new HeaderEntry(
                new ByteRange(pos, colon), new ByteRange(pos + vs, ve - vs), HttpChars.Classify(name));
            pos += lf + 1;
        }
        errorReason = null;
        return true;
    }

    /// <summary>Adds the options of one Connection field line; false when a member is not a token.</summary>
    public bool AddConnectionTokens(ByteRange value)
    {
        var buffer = _buffer;
        int pos = value.Start, end = value.Start + value.Length;
        while (pos <= end)
        {
            int rel = new ReadOnlySpan<byte>(buffer, pos, end - pos).IndexOf((byte)',');
            int itemEnd = rel < 0 ? end : pos + rel;
            int s = pos, e = itemEnd;
            while (s < e && HttpChars.IsOws(buffer[s])) s++;
            while (e > s && HttpChars.IsOws(buffer[e - 1])) e--;
            var token = new ReadOnlySpan<byte>(buffer, s, e - s);
            // Empty list members are allowed by the #rule (RFC 9110 §5.6.1).
            if (!token.IsEmpty)
            {
                if (!HttpChars.IsToken(token)) return false;
                if (Ascii.EqualsIgnoreCase(token, "close"u8)) ConnectionOptions |= ConnectionOptions.Close;
                else if (Ascii.EqualsIgnoreCase(token, "keep-alive"u8)) ConnectionOptions |= ConnectionOptions.KeepAlive;
                else if (Ascii.EqualsIgnoreCase(token, "upgrade"u8)) ConnectionOptions |= ConnectionOptions.Upgrade;
                else
                {
                    if (_connectionTokenCount == _connectionTokens.Length)
                        Array.Resize(ref _connectionTokens, _connectionTokenCount * 2);
                    _connectionTokens[_connectionTokenCount++] = new ByteRange(s, e - s);
                }
            }
            pos = itemEnd + 1;
        }
        return true;
    }

    /// <summary>True when a Connection header named <paramref name="name"/>, which makes that header hop-by-hop.</summary>
    public bool IsNominatedByConnection(ReadOnlySpan<byte> name)
    {
        var tokens = _connectionTokens;
        for (int i = 0; i < _connectionTokenCount; i++)
        {
            if (Ascii.EqualsIgnoreCase(this[tokens[i]], name)) return true;
        }
        return false;
    }

    /// <summary>Index of the first field of a known kind, or -1.</summary>
    public int IndexOf(KnownHeader known)
    {
        var entries = _entries;
        for (int i = 0; i < _count; i++)
        {
            if (entries[i].Known == known) return i;
        }
        return -1;
    }

    /// <summary>Value of the first field named <paramref name="name"/> (case-insensitive).</summary>
    public bool TryGetValue(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        var entries = _entries;
        for (int i = 0; i < _count; i++)
        {
            if (entries[i].Name.Length == name.Length && Ascii.EqualsIgnoreCase(this[entries[i].Name], name))
            {
                value = this[entries[i].Value];
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>Finds cookie <paramref name="name"/> (case-sensitive, RFC 6265 §5.4) across all Cookie lines.</summary>
    public bool TryGetCookie(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        var entries = _entries;
        for (int i = 0; i < _count; i++)
        {
            if (entries[i].Known != KnownHeader.Cookie) continue;
            var list = this[entries[i].Value];
            while (true)
            {
                int semi = list.IndexOf((byte)';');
                var pair = HttpChars.TrimOws(semi < 0 ? list : list[..semi]);
                int eq = pair.IndexOf((byte)'=');
                if (eq >= 0 && HttpChars.TrimOws(pair[..eq]).SequenceEqual(name))
                {
                    value = HttpChars.TrimOws(pair[(eq + 1)..]);
                    // A quoted cookie-value keeps its content only (RFC 6265 §4.1.1).
                    if (value.Length >= 2 && value[0] == '"' && value[^1] == '"') value = value[1..^1];
                    return true;
                }
                if (semi < 0) break;
                list = list[(semi + 1)..];
            }
        }
        value = default;
        return false;
    }

    public void Dispose()
    {
        var old = _buffer;
        _buffer = [];
        _count = 0;
        if (old.Length > 0) ArrayPool<byte>.Shared.Return(old);
    }

    private static bool Fail(string reason, out string? errorReason)
    {
        errorReason = reason;
        return false;
    }

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowIndex() => throw new ArgumentOutOfRangeException("index");
}
