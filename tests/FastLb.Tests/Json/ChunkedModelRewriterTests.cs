using System.Buffers;
using System.Text;
using FastLb.Core.Json;
using FastLb.Tests.Http;
using Xunit;

namespace FastLb.Tests.Json;

public sealed class ChunkedModelRewriterTests
{
    /// <summary>One chunk as the client framed it: its size line (digits and extension, no CRLF) and data.</summary>
    private sealed record Chunk(string SizeLine, byte[] Data);

    /// <summary>
    /// The body cut into chunks of <paramref name="size"/> data bytes. Size lines vary the way clients may write them:
    /// lower and upper case hex, leading zeros, an extension with whitespace.
    /// </summary>
    private static List<Chunk> Frame(byte[] body, int size)
    {
        var chunks = new List<Chunk>();
        for (int i = 0, n = 0; i < body.Length; i += size, n++)
        {
            int take = Math.Min(size, body.Length - i);
            var line = (n % 3) switch
            {
                0 => $"{take:x}",
                1 => $"00{take:X} ;ext=\"v\"",
                _ => $"{take:x};a=1;b",
            };
            chunks.Add(new Chunk(line, body[i..(i + take)]));
        }
        return chunks;
    }

    private const string LastChunk = "0;end\r\nx-trailer: t\r\n\r\n";

    private static byte[] Wire(IEnumerable<Chunk> chunks)
    {
        var wire = new List<byte>();
        foreach (var c in chunks)
        {
            wire.AddRange(Encoding.ASCII.GetBytes(c.SizeLine + "\r\n"));
            wire.AddRange(c.Data);
            wire.AddRange("\r\n"u8.ToArray());
        }
        wire.AddRange(Encoding.ASCII.GetBytes(LastChunk));
        return [.. wire];
    }

    /// <summary>
    /// What the rewrite must produce, chunk by chunk: a chunk that does not touch the value is unchanged; one that does
    /// keeps its extension and carries its bytes around the value (and the replacement, where the value starts) under a
    /// new size; one left empty is dropped. The last chunk and trailers are unchanged.
    /// </summary>
    private static byte[] Expected(List<Chunk> chunks, long valueStart, int valueLength, byte[] replacement)
    {
        var result = new List<Chunk>();
        long offset = 0;
        foreach (var c in chunks)
        {
            long start = offset, end = offset + c.Data.Length;
            offset = end;
            var data = new List<byte>();
            for (long at = start; at < end; at++)
            {
                if (at == valueStart) data.AddRange(replacement);
                if (at < valueStart || at >= valueStart + valueLength) data.Add(c.Data[at - start]);
            }
            if (data.Count == c.Data.Length && data.SequenceEqual(c.Data)) result.Add(c);
            else if (data.Count > 0)
            {
                int digits = 0;
                while (digits < c.SizeLine.Length && Uri.IsHexDigit(c.SizeLine[digits])) digits++;
                var sizeLine = data.Count == c.Data.Length ? c.SizeLine : $"{data.Count:x}{c.SizeLine[digits..]}";
                result.Add(new Chunk(sizeLine, [.. data]));
            }
        }
        return Wire(result);
    }

    private static (ModelRewrite Rewrite, byte[] Wire, byte[] Expected) Prepare(string json, string upstream, int chunkSize)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var chunks = Frame(body, chunkSize);
        var wire = Wire(chunks);
        var scan = ChunkedModelScanner.Scan(new ReadOnlySequence<byte>(wire), JsonModelScanner.DefaultMaxBodyPeek);
        Assert.Equal(ModelScanStatus.Found, scan.Status);
        var replacement = JsonStringEscaper.Escape(upstream);
        var rewrite = new ModelRewrite(scan.ValueOffset, scan.ValueLength, replacement);
        return (rewrite, wire, Expected(chunks, scan.ValueOffset, scan.ValueLength, replacement));
    }

    /// <summary>Feeds <paramref name="wire"/> to a rewriter in pieces cut at <paramref name="cuts"/>, each piece a sequence of one segment per byte when <paramref name="perByte"/>.</summary>
    private static byte[] Rewrite(ModelRewrite rewrite, byte[] wire, bool perByte, params int[] cuts)
    {
        var rewriter = new ChunkedModelRewriter(rewrite);
        var output = new ArrayBufferWriter<byte>();
        int start = 0;
        foreach (var cut in cuts.Append(wire.Length))
        {
            var piece = wire[start..cut];
            rewriter.Write(perByte ? Sequences.PerByte(piece) : new ReadOnlySequence<byte>(piece), output);
            start = cut;
        }
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Decodes a chunked body (framing checked strictly), for what a backend's parser reads.</summary>
    private static byte[] Decode(byte[] wire)
    {
        var body = new List<byte>();
        int i = 0;
        while (true)
        {
            int lf = Array.IndexOf(wire, (byte)'\n', i);
            Assert.True(lf > i && wire[lf - 1] == '\r', "size line ends in CRLF");
            var line = Encoding.ASCII.GetString(wire, i, lf - 1 - i);
            int digits = 0;
            while (digits < line.Length && Uri.IsHexDigit(line[digits])) digits++;
            var size = Convert.ToInt32(line[..digits], 16);
            i = lf + 1;
            if (size == 0) return [.. body];
            body.AddRange(wire.AsSpan(i, size).ToArray());
            i += size;
            Assert.Equal("\r\n", Encoding.ASCII.GetString(wire, i, 2));
            i += 2;
        }
    }

    // Every escape JSON has (in the key and the value), unicode raw and escaped, a surrogate pair, an empty value.
    public static TheoryData<string, string> Bodies => new()
    {
        { """{"model":"gpt-4o-latest","messages":[{"role":"user","content":"keep \"model\":\"gpt-4o-latest\""}]}""", "llama-3.1-70b-instruct-v2" },
        { """{"messages":[{"model":"keep"}],"mod\u0065l":"gpt\u002d4o","n":1}""", "a-much-longer-upstream-name-than-the-client-sent" },
        { """{"model":"\u0067pt-\"4o\"\\\/\b\f\n\r\t\ud83d\ude00 é","n":1}""", "x" },
        { """{"model":"","n":1}""", "filled" },
        { """{"model":"short"}""", "quote\" backslash\\ newline\n tab\t bell\u0007 é 😀" },
        { """{"model":"same-length"}""", "SAME-LENGTH" },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public void Write_EveryChunkSize_OnlyTheModelAndItsChunkSizesChange(string json, string upstream)
    {
        foreach (var size in new[] { 1, 2, 3, 5, 8, 13, 64, 100_000 })
        {
            var (rewrite, wire, expected) = Prepare(json, upstream, size);
            var output = Rewrite(rewrite, wire, perByte: false);
            Assert.Equal(Encoding.Latin1.GetString(expected), Encoding.Latin1.GetString(output));
            using var parsed = System.Text.Json.JsonDocument.Parse(Decode(output));
            Assert.Equal(upstream, parsed.RootElement.GetProperty("model").GetString());
            // Every other property arrives as the client wrote it.
            using var sent = System.Text.Json.JsonDocument.Parse(json);
            foreach (var property in sent.RootElement.EnumerateObject())
            {
                if (property.NameEquals("model")) continue;
                Assert.Equal(property.Value.GetRawText(), parsed.RootElement.GetProperty(property.Name).GetRawText());
            }
        }
    }

    [Theory]
    [MemberData(nameof(Bodies))]
    public void Write_InputSplitAnywhere_SameOutput(string json, string upstream)
    {
        foreach (var size in new[] { 1, 4, 64 })
        {
            var (rewrite, wire, expected) = Prepare(json, upstream, size);
            for (int cut = 0; cut <= wire.Length; cut++) Assert.Equal(expected, Rewrite(rewrite, wire, perByte: false, cut));
            Assert.Equal(expected, Rewrite(rewrite, wire, perByte: true));
            Assert.Equal(expected, Rewrite(rewrite, wire, perByte: false, [.. Enumerable.Range(1, wire.Length - 1)]));
        }
    }

    [Fact]
    public void Write_ValueInsideOneChunk_OnlyThatChunkReframed()
    {
        // {"model":"abc"} as {"mod | el":" | abc | "}
        var wire = Encoding.ASCII.GetBytes("5\r\n{\"mod\r\n5;x=1\r\nel\":\"\r\n3\r\nabc\r\n2\r\n\"}\r\n0\r\nT: v\r\n\r\n");
        var output = Rewrite(new ModelRewrite(10, 3, "xy"u8.ToArray()), wire, perByte: false);
        Assert.Equal("5\r\n{\"mod\r\n5;x=1\r\nel\":\"\r\n2\r\nxy\r\n2\r\n\"}\r\n0\r\nT: v\r\n\r\n", Encoding.ASCII.GetString(output));
    }

    [Fact]
    public void Write_ValueAcrossChunks_FirstCarriesTheNameMiddleDroppedLastShrinks()
    {
        // {"model":"abc"} as {"model":"a | b | c"}
        var wire = Encoding.ASCII.GetBytes("B\r\n{\"model\":\"a\r\n1;mid\r\nb\r\n3\r\nc\"}\r\n0\r\n\r\n");
        var output = Rewrite(new ModelRewrite(10, 3, "xy"u8.ToArray()), wire, perByte: false);
        Assert.Equal("c\r\n{\"model\":\"xy\r\n2\r\n\"}\r\n0\r\n\r\n", Encoding.ASCII.GetString(output));
    }

    [Fact]
    public void Write_EmptyValueAtAChunkStart_NameGoesIntoTheChunkWithTheClosingQuote()
    {
        // {"model":""} as {"model":" | "}
        var wire = Encoding.ASCII.GetBytes("a\r\n{\"model\":\"\r\n2\r\n\"}\r\n0\r\n\r\n");
        var output = Rewrite(new ModelRewrite(10, 0, "new"u8.ToArray()), wire, perByte: false);
        Assert.Equal("a\r\n{\"model\":\"\r\n5\r\nnew\"}\r\n0\r\n\r\n", Encoding.ASCII.GetString(output));
    }
}
