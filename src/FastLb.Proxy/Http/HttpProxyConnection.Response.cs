using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using FastLb.Core.Config;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    private enum ResponseRead : byte
    {
        Complete,

        /// <summary>The backend closed or reset before sending any byte (a stale pooled connection).</summary>
        Stale,

        /// <summary>The head is malformed or truncated: 502.</summary>
        Invalid,

        /// <summary>No response head within response_head_timeout: 504.</summary>
        TimedOut,

        /// <summary>The client went away while a 1xx was relayed.</summary>
        ClientGone,
    }

    /// <summary>Reads the final response head into <see cref="_response"/>, relaying 1xx interim responses (not 101) to the client.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ResponseRead> ReadResponseHeadAsync(UpstreamConnection upstream, ServiceConfig config)
    {
        var input = upstream.Input;
        var gotBytes = false;
        // The deadline runs from the request head; body upload progress (Touch) extends it.
        Watch(input, null, config.ResponseHeadTimeout);
        try
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await input.ReadAsync().ConfigureAwait(false);
                }
                catch (Exception)
                {
                    return gotBytes ? ResponseRead.Invalid : ResponseRead.Stale; // reset by the backend
                }
                var buffer = result.Buffer;
                if (buffer.IsEmpty)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                }
                else
                {
                    gotBytes = true;
                    var status = HttpResponseParser.Parse(buffer, _request.Method, _response, out var consumed, out var examined);
                    input.AdvanceTo(consumed, examined);
                    if (status == HttpParseStatus.Error) return ResponseRead.Invalid;
                    if (status == HttpParseStatus.Complete)
                    {
                        if (!_response.IsInformational || _response.StatusCode == 101) return ResponseRead.Complete;
                        // 1xx (100 Continue, 103 Early Hints): relay to HTTP/1.1 clients, then wait for the final head.
                        if (_request.Version == HttpProtocolVersion.Http11 && !await RelayInterimAsync().ConfigureAwait(false))
                        {
                            return ResponseRead.ClientGone;
                        }
                        Touch();
                        continue;
                    }
                }
                if (result.IsCompleted) return gotBytes ? ResponseRead.Invalid : ResponseRead.Stale;
                if (_expired) return ResponseRead.TimedOut;
            }
        }
        finally
        {
            Unwatch();
        }
    }

    private async ValueTask<bool> RelayInterimAsync()
    {
        HttpHeadWriter.WriteResponseHead(_output, _response, default);
        try
        {
            var flush = await _output.FlushAsync().ConfigureAwait(false);
            return !flush.IsCompleted && !flush.IsCanceled;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>Streams the response body to the client (the head is already written, unflushed); false when either side failed.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ForwardResponseBodyAsync(UpstreamConnection upstream, ServiceConfig config, bool dechunk)
    {
        var input = upstream.Input;
        var output = _output;
        _responseBody.Reset(_response);
        if (dechunk) _dechunker.Reset();
        Watch(input, output, config.IdleTimeout);
        try
        {
            if (_response.Framing == BodyFraming.None) return await FlushClientAsync(output).ConfigureAwait(false);
            while (true)
            {
                // Body bytes that came with the head go out in the same flush; otherwise flush the head before waiting.
                if (!input.TryRead(out var result))
                {
                    if (!await FlushClientAsync(output).ConfigureAwait(false)) return false;
                    result = await input.ReadAsync().ConfigureAwait(false);
                }
                var buffer = result.Buffer;
                var status = _responseBody.Advance(buffer, result.IsCompleted, out var forward);
                if (forward > 0)
                {
                    var body = buffer.Slice(0, forward);
                    if (dechunk) _dechunker.Decode(body, output);
                    else foreach (var segment in body) output.Write(segment.Span);
                }
                input.AdvanceTo(buffer.GetPosition(forward));
                if (forward > 0 || status == BodyParseStatus.Done)
                {
                    Touch();
                    if (!await FlushClientAsync(output).ConfigureAwait(false)) return false;
                }
                if (status == BodyParseStatus.Done) return true;
                if (status == BodyParseStatus.Error || result.IsCompleted || _expired) return false;
            }
        }
        catch (Exception)
        {
            return false; // either side reset
        }
        finally
        {
            Unwatch();
        }
    }

    private static async ValueTask<bool> FlushClientAsync(PipeWriter output)
    {
        var flush = await output.FlushAsync().ConfigureAwait(false);
        return !flush.IsCompleted && !flush.IsCanceled;
    }
}
