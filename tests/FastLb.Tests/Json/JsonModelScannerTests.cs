using System.Buffers;
using System.Text;
using FastLb.Core.Json;
using FastLb.Tests.Http;
using Xunit;

namespace FastLb.Tests.Json;

public sealed class JsonModelScannerTests
{
    private const int Peek = JsonModelScanner.DefaultMaxBodyPeek;

    private static ModelScanResult Scan(string json, int peek = Peek, bool complete = true) =>
        JsonModelScanner.Scan(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json)), peek, complete);

    private static string? Model(ReadOnlySequence<byte> body, int peek = Peek, bool complete = true)
    {
        var scan = JsonModelScanner.Scan(body, peek, complete);
        if (scan.Status != ModelScanStatus.Found) return null;
        Span<byte> name = stackalloc byte[256];
        Assert.True(JsonModelScanner.TryDecodeValue(body, scan, name, out int written));
        return Encoding.UTF8.GetString(name[..written]);
    }

    private static string? Model(string json, int peek = Peek) =>
        Model(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json)), peek);

    private static string Raw(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var scan = JsonModelScanner.Scan(new ReadOnlySequence<byte>(bytes), Peek, bodyComplete: true);
        Assert.Equal(ModelScanStatus.Found, scan.Status);
        return Encoding.UTF8.GetString(bytes, (int)scan.ValueOffset, scan.ValueLength);
    }

    [Theory]
    [InlineData("""{"model":"gpt-4o","messages":[]}""", "gpt-4o")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"stream":true,"model":"llama-3.1-70b"}""", "llama-3.1-70b")]
    [InlineData(""" { "temperature" : 0.5e-3 , "n":1, "x":null, "y":false, "model" : "m" } """, "m")]
    [InlineData("{\r\n\t\"model\"\r\n:\t\"tabs\"\n}", "tabs")]
    [InlineData("""{"model":""}""", "")]
    public void Scan_TopLevelModel_Found(string json, string expected)
    {
        Assert.Equal(expected, Model(json));
        Assert.Equal(expected, Raw(json));
    }

    [Theory]
    [InlineData("""{"model":"a\"b"}""", "a\"b")]
    [InlineData("""{"model":"a\\b"}""", "a\\b")]
    [InlineData("""{"model":"a\/b"}""", "a/b")]
    [InlineData("""{"model":"a\bb"}""", "a\bb")]
    [InlineData("""{"model":"a\fb"}""", "a\fb")]
    [InlineData("""{"model":"a\nb"}""", "a\nb")]
    [InlineData("""{"model":"a\rb"}""", "a\rb")]
    [InlineData("""{"model":"a\tb"}""", "a\tb")]
    [InlineData("""{"model":"\u0041\u00e9\u20AC"}""", "Aé€")]
    [InlineData("""{"model":"x\ud83d\ude00y"}""", "x😀y")]
    [InlineData("""{"model":"\\\""}""", "\\\"")]
    [InlineData("""{"model":"ünïcødé-模型"}""", "ünïcødé-模型")]
    public void Scan_EveryEscapeInModel_DecodedAndRawRangeExact(string json, string expected)
    {
        Assert.Equal(expected, Model(json));
        var scan = Scan(json);
        Assert.True(scan.ValueHasEscapes || !json.Contains('\\', StringComparison.Ordinal));
        // The raw range is exactly the bytes between the quotes, escapes kept, so a rewrite can replace it.
        int open = json.IndexOf(":\"", StringComparison.Ordinal) + 2;
        Assert.Equal(json[open..^2], Raw(json));
    }

    [Theory]
    [InlineData("""{"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00 \"model\": \"no\"","model":"yes"}""")]
    [InlineData("""{"a":{"model":"no"},"model":"yes"}""")]
    [InlineData("""{"a":[{"model":"no"},["model","no"]],"model":"yes"}""")]
    [InlineData("""{"a":"}","b":"]","c":"{[","model":"yes"}""")]
    [InlineData("""{"a":{"b":{"c":[[[{"model":"no"}]]]}},"model":"yes","z":{"model":"no"}}""")]
    public void Scan_SkipsStringsAndNestedModels_FindsTopLevel(string json)
    {
        Assert.Equal("yes", Model(json));
    }

    [Theory]
    [InlineData("""{"a":{"model":"no"}}""")]
    [InlineData("""{"messages":[{"model":"no"}]}""")]
    [InlineData("""{"x":"\"model\":\"no\""}""")]
    [InlineData("""{"Model":"no","MODEL":"no","models":"no","mode":"no","model ":"no","modelx":"no"}""")]
    [InlineData("""{}""")]
    [InlineData(""" { } """)]
    public void Scan_NoTopLevelModel_NotFound(string json)
    {
        Assert.Equal(ModelScanStatus.NotFound, Scan(json).Status);
    }

    [Theory]
    [InlineData("""{"\u006dodel":"yes"}""")]
    [InlineData("""{"mod\u0065l":"yes"}""")]
    [InlineData("""{"\u006D\u006F\u0064\u0065\u006C":"yes"}""")]
    public void Scan_EscapedModelKey_Matches(string json)
    {
        Assert.Equal("yes", Model(json));
    }

    [Theory]
    [InlineData("""{"model":"a","model":"b"}""")]
    [InlineData("""{"model":"a","x":{"y":1},"mod\u0065l":"b"}""")]
    public void Scan_DuplicateTopLevelModel_Invalid(string json)
    {
        Assert.Equal(ModelScanStatus.Invalid, Scan(json).Status);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("[]")]
    [InlineData("\"model\"")]
    [InlineData("""{"model":5}""")]
    [InlineData("""{"model":null}""")]
    [InlineData("""{"model":{"name":"x"}}""")]
    [InlineData("""{"model":["x"]}""")]
    [InlineData("""{"model":"a\x"}""")]
    [InlineData("""{"model":"a\u12G4"}""")]
    [InlineData("""{"s":"\q","model":"m"}""")]
    [InlineData("{\"s\":\"a\u0001b\",\"model\":\"m\"}")]
    [InlineData("{\"model\":\"a\nb\"}")]
    [InlineData("""{"a":[}""")]
    [InlineData("""{"a":{]}""")]
    [InlineData("""{"a" "b"}""")]
    [InlineData("""{"a":1 "model":"m"}""")]
    [InlineData("""{"a":1,}""")]
    [InlineData("""{,"model":"m"}""")]
    [InlineData("""{model:"m"}""")]
    [InlineData("{\"model\":\"m\\\"")]
    [InlineData("""{"model":"m",""")]
    public void Scan_Malformed_Invalid(string json)
    {
        Assert.Equal(ModelScanStatus.Invalid, Scan(json).Status);
    }

    [Fact]
    public void Scan_NestingBeyondMaxDepth_Invalid()
    {
        var deep = "{\"a\":" + new string('[', JsonModelScanner.MaxDepth) + new string(']', JsonModelScanner.MaxDepth) + ",\"model\":\"m\"}";
        var ok = "{\"a\":" + new string('[', JsonModelScanner.MaxDepth - 1) + new string(']', JsonModelScanner.MaxDepth - 1) + ",\"model\":\"m\"}";
        Assert.Equal(ModelScanStatus.Invalid, Scan(deep).Status);
        Assert.Equal("m", Model(ok));
    }

    private const string AllEscapes =
        """{"messages":[{"role":"user","content":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00 {\"model\":\"no\"} [x]"}],"n":-1.5E+3,"t":true,"model":"gpt-\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t-4o","stream":false}""";

    private const string AllEscapesModel = "gpt-é😀\"\\/\b\f\n\r\t-4o";

    [Fact]
    public void Scan_SplitAtEveryOffset_SameResult()
    {
        var bytes = Encoding.UTF8.GetBytes(AllEscapes);
        var whole = JsonModelScanner.Scan(new ReadOnlySequence<byte>(bytes), Peek, bodyComplete: true);
        Assert.Equal(AllEscapesModel, Model(new ReadOnlySequence<byte>(bytes)));
        for (int offset = 1; offset < bytes.Length; offset++)
        {
            var split = Sequences.Split(bytes, offset);
            var scan = JsonModelScanner.Scan(split, Peek, bodyComplete: true);
            Assert.Equal(whole.Status, scan.Status);
            Assert.Equal(whole.ValueOffset, scan.ValueOffset);
            Assert.Equal(whole.ValueLength, scan.ValueLength);
            Assert.Equal(AllEscapesModel, Model(split));
        }
        for (int a = 1; a < bytes.Length; a += 7)
        {
            for (int b = a + 1; b < bytes.Length; b += 5) Assert.Equal(AllEscapesModel, Model(Sequences.Split(bytes, a, b)));
        }
        Assert.Equal(AllEscapesModel, Model(Sequences.PerByte(bytes)));
    }

    [Fact]
    public void Scan_EveryPrefixOfValidBody_NeedMore()
    {
        var bytes = Encoding.UTF8.GetBytes(AllEscapes);
        for (int length = 0; length < bytes.Length; length++)
        {
            var prefix = Sequences.PerByte(bytes[..length]);
            Assert.Equal(ModelScanStatus.NeedMore, JsonModelScanner.Scan(prefix, Peek, bodyComplete: false).Status);
        }
    }

    [Fact]
    public void Scan_EveryPrefixWithPeekAtItsLength_FoundOnlyOnceModelStringEnded()
    {
        var bytes = Encoding.UTF8.GetBytes(AllEscapes);
        int valueEnd = AllEscapes.IndexOf("-4o\"", StringComparison.Ordinal) + 3;
        valueEnd = Encoding.UTF8.GetByteCount(AllEscapes[..valueEnd]);
        for (int peek = 1; peek < bytes.Length; peek++)
        {
            var scan = JsonModelScanner.Scan(new ReadOnlySequence<byte>(bytes), peek, bodyComplete: false);
            Assert.Equal(peek > valueEnd ? ModelScanStatus.Found : ModelScanStatus.NotFound, scan.Status);
        }
    }

    [Fact]
    public void Scan_ModelBeyondPeek_NotFound()
    {
        string json = "{\"input\":\"" + new string('x', 70_000) + "\",\"model\":\"late\"}";
        Assert.Equal(ModelScanStatus.NotFound, Scan(json).Status);
        Assert.Equal("late", Model(json, peek: 80_000));
    }

    [Fact]
    public void Scan_HugeBodyModelWithinPeek_FoundAndOnlyPeekExamined()
    {
        string json = "{\"model\":\"early\",\"input\":\"" + new string('x', 1_000_000) + "\"}";
        Assert.Equal("early", Model(json));
        // A second model beyond the peek is not seen: the first one is what routing used.
        string twice = "{\"model\":\"early\",\"input\":\"" + new string('x', 100_000) + "\",\"model\":\"late\"}";
        Assert.Equal("early", Model(twice));
    }

    [Fact]
    public void Scan_ModelFoundButObjectOpen_WaitsForDuplicatesUntilEndOrPeek()
    {
        Assert.Equal(ModelScanStatus.NeedMore, Scan("""{"model":"m","messages":[""", complete: false).Status);
        Assert.Equal(ModelScanStatus.Invalid, Scan("""{"model":"m","messages":[""", complete: true).Status);
        Assert.Equal(ModelScanStatus.Found, Scan("""{"model":"m","messages":[""", peek: 20, complete: false).Status);
    }

    [Fact]
    public void TryDecodeValue_LoneSurrogateOrTooSmall_False()
    {
        foreach (var json in new[] { """{"model":"\ud83d"}""", """{"model":"\ude00x"}""", """{"model":"\ud83d\u0041"}""" })
        {
            var body = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json));
            var scan = JsonModelScanner.Scan(body, Peek, bodyComplete: true);
            Assert.Equal(ModelScanStatus.Found, scan.Status);
            Assert.False(JsonModelScanner.TryDecodeValue(body, scan, new byte[16], out _));
        }
        var plain = new ReadOnlySequence<byte>("{\"model\":\"abcdef\"}"u8.ToArray());
        var found = JsonModelScanner.Scan(plain, Peek, bodyComplete: true);
        Assert.False(JsonModelScanner.TryDecodeValue(plain, found, new byte[5], out _));
        Assert.True(JsonModelScanner.TryDecodeValue(plain, found, new byte[6], out int written));
        Assert.Equal(6, written);
    }

    [Fact]
    public void Scan_AllocatesNothing()
    {
        var body = Sequences.Split(Encoding.UTF8.GetBytes(AllEscapes), 17, 90);
        Span<byte> name = stackalloc byte[64];
        var scan = JsonModelScanner.Scan(body, Peek, bodyComplete: true);
        JsonModelScanner.TryDecodeValue(body, scan, name, out _);
        // The fewest bytes over a few rounds: a round can catch the runtime's own one-off work on this thread (a
        // method moving to its optimized code), while an allocation of the scan shows in every round.
        long fewest = long.MaxValue;
        for (int round = 0; round < 5 && fewest != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++)
            {
                scan = JsonModelScanner.Scan(body, Peek, bodyComplete: true);
                JsonModelScanner.TryDecodeValue(body, scan, name, out _);
            }
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, fewest);
    }
}
