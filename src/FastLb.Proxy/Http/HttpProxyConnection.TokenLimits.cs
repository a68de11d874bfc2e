using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using FastLb.Core.Config;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    // token_limits: a request is let in while its listener's bucket and its API key's are not empty, and its response's
    // usage (total_tokens, from a JSON body or the last event of a stream) is charged when it ends (EndRecord). The key
    // is hashed at once (SHA-256, first 8 bytes); neither the key nor its hash beyond that is kept or written anywhere.

    /// <summary>True when the request may go on; sets what <see cref="ChargeTokens"/> needs and turns on the usage scan.</summary>
    private bool EnterTokenLimits(TokenLimitsConfig limits, out int retryAfterSeconds)
    {
        var hasKey = TryHashApiKey(out var key);
        if (!_owner.TokenLimiter.TryEnter(limits, hasKey, key, out retryAfterSeconds, out _)) return false;
        _current.TokenLimits = limits;
        _current.HasApiKey = hasKey;
        _current.ApiKey = key;
        _current.ScanUsage = true;
        return true;
    }

    /// <summary>The response ended: its reported tokens are taken from the buckets it entered.</summary>
    private void ChargeTokens(long tokens)
    {
        if (_current.TokenLimits is { } limits) _owner.TokenLimiter.Charge(limits, _current.HasApiKey, _current.ApiKey, tokens);
    }

    /// <summary>The API key of the request (x-api-key, else an Authorization bearer token), hashed.</summary>
    private bool TryHashApiKey(out ulong hash)
    {
        hash = 0;
        if (!_request.TryGetHeader("x-api-key"u8, out var key) || key.IsEmpty)
        {
            if (!_request.TryGetHeader("authorization"u8, out var authorization) || authorization.Length <= 7
                || !Ascii.EqualsIgnoreCase(authorization[..7], "Bearer "u8))
            {
                return false;
            }
            key = authorization[7..].Trim((byte)' ');
            if (key.IsEmpty) return false;
        }
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(key, digest);
        hash = BinaryPrimitives.ReadUInt64BigEndian(digest);
        return true;
    }

    /// <summary>429 with Retry-After for a request over its token budget; closes unless the request body was consumed.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private async ValueTask<Outcome> AnswerTokenLimitAsync(int retryAfterSeconds, bool bodyConsumed)
    {
        var close = !bodyConsumed || _stopping || _closeAfterResponse || !_request.KeepAlive || _request.Version == HttpProtocolVersion.Http10;
        Enter(RequestPhase.Answering);
        MarkAnswer(429);
        if (close && !bodyConsumed) _lingerOnClose = true;
        var body = $$$"""{"error":{"message":"token limit reached; retry after {{{retryAfterSeconds}}} s","type":"rate_limit_exceeded","code":"token_limit"}}""" + "\n";
        var head = $"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: {retryAfterSeconds}\r\n" +
                   $"Content-Length: {body.Length}\r\n{(close ? "Connection: close\r\n" : "")}\r\n";
        _output.Write(Encoding.ASCII.GetBytes(_request.Method == HttpMethodKind.Head ? head : head + body));
        try
        {
            var flush = await _output.FlushAsync().ConfigureAwait(false);
            if (flush.IsCompleted || flush.IsCanceled) return Outcome.Abort;
        }
        catch (Exception)
        {
            return Outcome.Abort;
        }
        return close ? Outcome.Close : Outcome.Next;
    }
}
