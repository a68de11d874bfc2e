using System.Buffers;
using System.Text;
using FastLb.Core.Json;
using FastLb.Tests.Http;
using Xunit;

namespace FastLb.Tests.Json;

public sealed class ModelRewriteTests
{
    /// <summary>Rewrites the body's model through <see cref="ModelRewrite"/>, the body cut into pieces at <paramref name="cuts"/>.</summary>
    private static string Rewrite(string json, string upstreamName, params int[] cuts)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var scan = JsonModelScanner.Scan(new ReadOnlySequence<byte>(body), JsonModelScanner.DefaultMaxBodyPeek, bodyComplete: true);
        Assert.Equal(ModelScanStatus.Found, scan.Status);
        var rewrite = new ModelRewrite(scan.ValueOffset, scan.ValueLength, JsonStringEscaper.Escape(upstreamName));
        var output = new ArrayBufferWriter<byte>();
        int start = 0;
        foreach (var cut in cuts.Append(body.Length))
        {
            rewrite.Write(new ReadOnlySequence<byte>(body, start, cut - start), start, output);
            start = cut;
        }
        Assert.Equal(rewrite.RewrittenLength(body.Length), output.WrittenCount);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>The model a JSON parser reads from the rewritten body.</summary>
    private static string? ParsedModel(string json) => System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("model").GetString();

    [Theory]
    [InlineData("""{"model":"gpt-4o-latest","messages":[]}""", "llama-3.1-70b-instruct-v2")]
    [InlineData("""{"messages":[{"model":"keep"}],"model":"a"}""", "a-much-longer-upstream-name")]
    [InlineData("""{"model":"\u0067pt-\"4o\"\\\/\b\f\n\r\t\ud83d\ude00","n":1}""", "x")]
    [InlineData("""{"model":"","n":1}""", "filled")]
    [InlineData("""{"model":"short"}""", "quote\" backslash\\ newline\n tab\t bell\u0007 é 😀")]
    public void Write_AnySplit_OnlyTheModelChanges(string json, string upstream)
    {
        var body = Encoding.UTF8.GetBytes(json);
        for (int cut = 0; cut <= body.Length; cut++)
        {
            var rewritten = Rewrite(json, upstream, cut);
            Assert.Equal(upstream, ParsedModel(rewritten));
            // Everything but the value is byte-identical: the text around the model string is unchanged.
            var scan = JsonModelScanner.Scan(new ReadOnlySequence<byte>(body), JsonModelScanner.DefaultMaxBodyPeek, bodyComplete: true);
            var before = Encoding.UTF8.GetString(body, 0, (int)scan.ValueOffset);
            var after = Encoding.UTF8.GetString(body, (int)scan.ValueOffset + scan.ValueLength, body.Length - (int)scan.ValueOffset - scan.ValueLength);
            Assert.StartsWith(before, rewritten, StringComparison.Ordinal);
            Assert.EndsWith(after, rewritten, StringComparison.Ordinal);
        }
        Assert.Equal(upstream, ParsedModel(Rewrite(json, upstream, [.. Enumerable.Range(1, body.Length - 1)])));
    }

    [Fact]
    public void Escape_ControlCharactersAndQuotes_ValidJsonString()
    {
        var name = "a\"b\\c\u0001\u001f/é";
        var escaped = Encoding.UTF8.GetString(JsonStringEscaper.Escape(name));
        Assert.Equal("a\\\"b\\\\c\\u0001\\u001f/é", escaped);
        Assert.Equal(name, System.Text.Json.JsonSerializer.Deserialize<string>("\"" + escaped + "\""));
    }
}
