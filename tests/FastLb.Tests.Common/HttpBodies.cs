using System.Globalization;
using System.Text;

namespace FastLb.Tests.Common;

/// <summary>Strict chunked decoding for test peers: a framing error throws instead of guessing.</summary>
internal static class HttpBodies
{
    private static readonly byte[] Crlf = "\r\n"u8.ToArray();

    /// <summary>Decodes one chunked body into <paramref name="sink"/>; returns the trailer lines.</summary>
    public static async Task<List<string>> ReadChunkedAsync(BufferedSocketReader reader, Action<ReadOnlySpan<byte>> sink, CancellationToken ct)
    {
        while (true)
        {
            var line = await reader.ReadThroughAsync(Crlf, 4096, ct).ConfigureAwait(false)
                       ?? throw new EndOfStreamException("connection closed before a chunk-size line");
            var text = Encoding.Latin1.GetString(line, 0, line.Length - 2);
            var sizeText = text.Split(';')[0];
            if (sizeText.Length == 0 || !long.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0)
                throw new InvalidDataException($"bad chunk-size line '{text}'");
            if (size == 0)
            {
                var trailers = new List<string>();
                while (true)
                {
                    var trailer = await reader.ReadThroughAsync(Crlf, 32 * 1024, ct).ConfigureAwait(false)
                                  ?? throw new EndOfStreamException("connection closed inside trailers");
                    if (trailer.Length == 2) return trailers;
                    trailers.Add(Encoding.Latin1.GetString(trailer, 0, trailer.Length - 2));
                }
            }
            await reader.ReadExactlyAsync(size, sink, ct).ConfigureAwait(false);
            var end = await reader.ReadExactlyAsync(2, ct).ConfigureAwait(false);
            if (end[0] != '\r' || end[1] != '\n') throw new InvalidDataException("chunk data not followed by CRLF");
        }
    }

    /// <summary>Chunked encoding of <paramref name="data"/> in chunks of the given sizes (cycled), then the last chunk.</summary>
    public static byte[] Chunked(ReadOnlySpan<byte> data, int[] chunkSizes, string trailers = "")
    {
        using var ms = new MemoryStream(data.Length + data.Length / 64 + 64);
        var at = 0;
        for (var i = 0; at < data.Length; i++)
        {
            var size = Math.Min(chunkSizes[i % chunkSizes.Length], data.Length - at);
            ms.Write(Encoding.ASCII.GetBytes(size.ToString("x", CultureInfo.InvariantCulture) + "\r\n"));
            ms.Write(data.Slice(at, size));
            ms.Write(Crlf);
            at += size;
        }
        ms.Write(Encoding.ASCII.GetBytes("0\r\n" + trailers + "\r\n"));
        return ms.ToArray();
    }
}
