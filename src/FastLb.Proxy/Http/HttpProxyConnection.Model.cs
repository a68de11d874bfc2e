using System.Runtime.CompilerServices;
using FastLb.Core.Config;
using FastLb.Core.Json;
using FastLb.Core.Routing;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    /// <summary>How long routing waits for the body bytes that hold the model before it routes without one.</summary>
    private static readonly TimeSpan ModelPeekWait = TimeSpan.FromSeconds(10);

    private byte[]? _modelName; // made on the first request of a model listener: others never need it

    /// <summary>
    /// Routes a request on a listener with model routes: by the model header, else by the top-level "model" of a JSON
    /// body, peeked without consuming it (the body pump later forwards the same bytes unchanged). Sets
    /// <see cref="RequestState.ModelMissing"/> when no model could be read.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<CompiledRoute?> MatchByModelAsync(ListenerRoutes routes)
    {
        if (_request.TryGetHeader(routes.ModelHeader, out var header) && !header.IsEmpty)
        {
            return routes.Match(_request, header);
        }
        int length = 0;
        if (IsJsonPost() && !_request.IsChunked && _request.ContentLength > 0)
        {
            length = await PeekModelAsync(routes.Config.MaxBodyPeek).ConfigureAwait(false);
        }
        _current.ModelMissing = length <= 0;
        return length > 0 ? routes.Match(_request, _modelName.AsSpan(0, length)) : routes.Match(_request);
    }

    private bool IsJsonPost()
    {
        if (_request.Method != HttpMethodKind.Post || !_request.TryGetHeader("content-type"u8, out var type)) return false;
        var mediaType = type;
        int semicolon = type.IndexOf((byte)';');
        if (semicolon >= 0) mediaType = type[..semicolon];
        return System.Text.Ascii.EqualsIgnoreCase(mediaType.Trim((byte)' '), "application/json"u8);
    }

    /// <summary>Reads (without consuming) the Content-Length body's first bytes until the model is decided; the model's length in <see cref="_modelName"/>, or 0.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> PeekModelAsync(int maxPeek)
    {
        var input = _input;
        long contentLength = _request.ContentLength;
        Watch(input, null, ModelPeekWait);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var body = buffer.Slice(0, Math.Min(buffer.Length, contentLength));
                var scan = JsonModelScanner.Scan(body, maxPeek, bodyComplete: body.Length == contentLength);
                var waitForMore = scan.Status == ModelScanStatus.NeedMore && !result.IsCompleted && !result.IsCanceled && !Expired && !_stopping;
                int length = 0;
                if (scan.Status == ModelScanStatus.Found)
                {
                    _modelName ??= new byte[ConfigBinder.MaxModelNameBytes];
                    if (!JsonModelScanner.TryDecodeValue(body, scan, _modelName, out length)) length = 0;
                }
                // Nothing is consumed: the body pump forwards these bytes from the start.
                input.AdvanceTo(buffer.Start, waitForMore ? buffer.End : buffer.Start);
                if (!waitForMore) return length;
            }
        }
        finally
        {
            Unwatch();
        }
    }
}
