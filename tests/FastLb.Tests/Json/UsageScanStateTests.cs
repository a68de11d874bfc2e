using System.Text;
using FastLb.Core.Json;
using FastLb.Tests.Http;
using Xunit;

namespace FastLb.Tests.Json;

public sealed class UsageScanStateTests
{
    private const string Completion =
        """{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"\"usage\": {\"prompt_tokens\": 99}"},"usage":{"prompt_tokens":98}}],"usage":{"prompt_tokens":12,"prompt_tokens_details":{"cached_tokens":5},"completion_tokens":34,"total_tokens":46},"model":"m"}""";

    private static TokenUsage Scan(params byte[][] pieces)
    {
        var state = UsageScanState.Start();
        foreach (var piece in pieces) state.Feed(piece);
        return state.Result;
    }

    [Fact]
    public void Feed_CompletionResponse_TopLevelUsageOnly()
    {
        Assert.Equal(new TokenUsage(12, 34, 46), Scan(Encoding.UTF8.GetBytes(Completion)));
    }

    [Fact]
    public void Feed_SplitAtEveryOffset_SameUsage()
    {
        var bytes = Encoding.UTF8.GetBytes(Completion);
        for (int offset = 1; offset < bytes.Length; offset++)
        {
            Assert.Equal(new TokenUsage(12, 34, 46), Scan(bytes[..offset], bytes[offset..]));
        }
        var state = UsageScanState.Start();
        foreach (var b in bytes) state.Feed([b]);
        Assert.Equal(new TokenUsage(12, 34, 46), state.Result);
    }

    [Theory]
    [InlineData("""{"choices":[]}""")]
    [InlineData("""{"usage":null}""")]
    [InlineData("""{"data":{"usage":{"total_tokens":3}}}""")]
    [InlineData("""{"usage":{"total_tokens":3""")] // cut before the object closed
    [InlineData("[DONE]")]
    public void Feed_NoTopLevelUsage_None(string json)
    {
        Assert.True(Scan(Encoding.UTF8.GetBytes(json)).IsNone);
    }

    [Fact]
    public void Feed_PartialUsage_MissingCountsAreMinusOne()
    {
        var usage = Scan("""{ "usage" : { "prompt_tokens" : 7 , "completion_tokens":0 } }"""u8.ToArray());
        Assert.Equal(new TokenUsage(7, 0, -1), usage);
        Assert.Equal(7, usage.Tokens);
    }

    private static string Sse(params string[] data) => string.Concat(data.Select(d => $"data: {d}\n\n"));

    [Fact]
    public void Sse_LastDataEventWithUsageWins_SplitAnywhere()
    {
        var stream = ": keep-alive\n\nevent: message\n" + Sse(
            """{"choices":[{"delta":{"content":"data: {\"usage\":{\"total_tokens\":1}}"}}],"usage":null}""",
            """{"choices":[{"delta":{"content":"hi"}}]}""",
            """{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}""",
            "[DONE]");
        var bytes = Encoding.UTF8.GetBytes(stream.Replace("\n\n", "\r\n\r\n", StringComparison.Ordinal));
        for (int offset = 0; offset < bytes.Length; offset += 3)
        {
            var state = SseUsageScanState.Start();
            state.Feed(bytes.AsSpan(0, offset));
            state.Feed(bytes.AsSpan(offset));
            Assert.Equal(new TokenUsage(10, 20, 30), state.Result);
        }
    }

    [Fact]
    public void Sse_NoUsageEvent_None()
    {
        var state = SseUsageScanState.Start();
        state.Feed(Encoding.UTF8.GetBytes(Sse("""{"choices":[{"delta":{"content":"x"}}]}""", "[DONE]")));
        Assert.True(state.Result.IsNone);
    }

    [Fact]
    public void Feed_AllocatesNothing()
    {
        var bytes = Encoding.UTF8.GetBytes(Completion);
        var sse = Encoding.UTF8.GetBytes(Sse(Completion, "[DONE]"));
        var state = UsageScanState.Start();
        state.Feed(bytes);
        var warm = SseUsageScanState.Start();
        warm.Feed(sse);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            state = UsageScanState.Start();
            state.Feed(bytes);
            var events = SseUsageScanState.Start();
            events.Feed(sse);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(46, state.Result.Tokens);
    }
}
