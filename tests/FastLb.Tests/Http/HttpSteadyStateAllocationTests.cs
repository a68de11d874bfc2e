using System.Buffers;
using FastLb.Proxy.Http;
using Xunit;

namespace FastLb.Tests.Http;

public class HttpSteadyStateAllocationTests
{
    [Fact]
    public void ParseAndWrite_ReusedObjects_AllocateNothing()
    {
        var request = new ReadOnlySequence<byte>(Sequences.Bytes(SampleHeads.BrowserRequest));
        var split = Sequences.Split(Sequences.Bytes(SampleHeads.BrowserRequest), 200);
        var response = new ReadOnlySequence<byte>(Sequences.Bytes(SampleHeads.TypicalResponse));
        var chunked = new ReadOnlySequence<byte>(Sequences.Bytes("5\r\nhello\r\n0\r\nX: 1\r\n\r\n"));
        using var requestHead = new HttpRequestHead();
        using var responseHead = new HttpResponseHead();
        var framer = new HttpBodyFramer();
        var output = new ArrayBufferWriter<byte>(8192);
        byte[] client = "192.0.2.1"u8.ToArray();

        void Once()
        {
            HttpRequestParser.Parse(request, requestHead, out _, out _);
            HttpRequestParser.Parse(split, requestHead, out _, out _);
            requestHead.TryGetCookie("theme"u8, out _);
            output.ResetWrittenCount();
            HttpHeadWriter.WriteRequestHead(output, requestHead, new RequestHeadOptions { ClientAddress = client, Scheme = "http"u8 });
            HttpResponseParser.Parse(response, HttpMethodKind.Get, responseHead, out _, out _);
            output.ResetWrittenCount();
            HttpHeadWriter.WriteResponseHead(output, responseHead, default);
            framer.Reset(BodyFraming.Chunked, -1);
            framer.Advance(chunked, false, out _);
        }

        // Past the first calls (lazy setup) and the call count that queues tier-1 code. A round of 100 runs that
        // allocates nothing shows the steady state; a few rounds, because a loaded runtime may do one-off work on this
        // thread mid-round (a method's tier-up). An allocation per run shows in every round.
        for (int i = 0; i < 50; i++) Once();
        var rounds = new long[5];
        for (int round = 0; round < rounds.Length; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++) Once();
            rounds[round] = GC.GetAllocatedBytesForCurrentThread() - before;
            if (rounds[round] == 0) return;
        }
        Assert.Fail($"every round of 100 runs allocated: {string.Join(", ", rounds)} B");
    }
}
