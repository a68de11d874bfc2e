using System.Runtime.CompilerServices;
using FastLb.Core.Config;
using FastLb.Core.Json;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    private byte[]? _modelName; // made on the first request of a model listener: others never need it

    /// <summary>
    /// Routes a request on a listener with model routes: by the model header, else by the top-level "model" of a JSON
    /// body (Content-Length or chunked), peeked without consuming it (the body pump later forwards the same bytes).
    /// Sets <see cref="RequestState.ModelMissing"/> when no model could be read, and <see cref="RequestState.ModelRewrite"/>
    /// when the matched alias renames the model read from the body.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<CompiledRoute?> MatchByModelAsync(ListenerRoutes routes)
    {
        _current.ScanUsage = true;
        if (_request.TryGetHeader(routes.ModelHeader, out var header) && !header.IsEmpty)
        {
            _modelName ??= new byte[ConfigBinder.MaxModelNameBytes];
            if (header.TryCopyTo(_modelName)) _current.ModelLength = header.Length;
            return CountByModel(routes, routes.Match(_request, header), header);
        }
        int length = 0;
        if (IsJsonPost() && (_request.IsChunked || _request.ContentLength > 0))
        {
            length = await PeekModelAsync(routes.Config).ConfigureAwait(false);
        }
        _current.ModelMissing = length <= 0;
        _current.ModelLength = Math.Max(length, 0);
        if (length <= 0) return CountByModel(routes, routes.Match(_request), default);
        var route = CountByModel(routes, routes.Match(_request, _modelName.AsSpan(0, length)), _modelName.AsSpan(0, length));
        // A Content-Length body gets the new length in its head; a chunked one is re-framed as it streams.
        if (route?.ModelRewrite is { } rewrite)
        {
            _current.ModelRewrite = new ModelRewrite(_current.ModelScan.ValueOffset, _current.ModelScan.ValueLength, rewrite);
        }
        return route;
    }

    /// <summary>Names the per-model series the request will be counted in (<see cref="CompiledRoute.ModelLabel"/>); returns <paramref name="route"/>.</summary>
    private CompiledRoute? CountByModel(ListenerRoutes routes, CompiledRoute? route, ReadOnlySpan<byte> model)
    {
        if (route is null || routes.ModelTraffic is null) return route;
        _current.ModelTraffic = routes.ModelTraffic;
        _current.ModelLabel = route.ModelLabel(model);
        return route;
    }

    /// <summary>Adds the request that ended to its model's counters on the pool that served it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RecordByModel(BackendState backend, long durationTicks, TokenUsage usage)
    {
        // Time to the first body byte the client got (for a stream: the first event), else to the response head.
        var firstByte = _current.FirstBodyTicks > 0 ? _current.FirstBodyTicks - _current.RequestStartTicks
            : _current.ResponseHeadTicks >= 0 ? _current.ExchangeStartTicks + _current.ResponseHeadTicks - _current.RequestStartTicks
            : -1;
        var stream = _current.UsageSse ? durationTicks : -1;
        _current.ModelTraffic!.Get(backend.Service, backend.Pool, _current.ModelLabel!)
            .Record(_current.Status, firstByte, stream, usage.PromptTokens, usage.CompletionTokens);
    }

    /// <summary>A model request token_limits refused before a pool was chosen: counted on the pool label <see cref="ModelLabels.NoPool"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountTokenLimitRefusal(string service) =>
        _current.ModelTraffic?.Get(service, ModelLabels.NoPool, _current.ModelLabel!).Record(429, -1, -1, 0, 0);

    private bool IsJsonPost()
    {
        if (_request.Method != HttpMethodKind.Post || !_request.TryGetHeader("content-type"u8, out var type)) return false;
        var mediaType = type;
        int semicolon = type.IndexOf((byte)';');
        if (semicolon >= 0) mediaType = type[..semicolon];
        return System.Text.Ascii.EqualsIgnoreCase(mediaType.Trim((byte)' '), "application/json"u8);
    }

    /// <summary>
    /// Reads (without consuming) the body's first bytes until the model is decided or <c>model_peek_timeout</c> passes;
    /// the model's length in <see cref="_modelName"/>, or 0. A chunked body is scanned through its framing.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> PeekModelAsync(ListenerConfig config)
    {
        var input = _input;
        var chunked = _request.IsChunked;
        long contentLength = _request.ContentLength;
        int maxPeek = config.MaxBodyPeek;
        Watch(input, null, config.ModelPeekTimeout);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var body = chunked ? buffer : buffer.Slice(0, Math.Min(buffer.Length, contentLength));
                var scan = chunked
                    ? ChunkedModelScanner.Scan(body, maxPeek)
                    : JsonModelScanner.Scan(body, maxPeek, bodyComplete: body.Length == contentLength);
                var waitForMore = scan.Status == ModelScanStatus.NeedMore && !result.IsCompleted && !result.IsCanceled && !Expired && !_stopping;
                int length = 0;
                if (scan.Status == ModelScanStatus.Found)
                {
                    _modelName ??= new byte[ConfigBinder.MaxModelNameBytes];
                    var decoded = chunked
                        ? ChunkedModelScanner.TryDecodeValue(body, scan, _modelName, out length)
                        : JsonModelScanner.TryDecodeValue(body, scan, _modelName, out length);
                    if (decoded) _current.ModelScan = scan;
                    else length = 0;
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

    /// <summary>A model listener's response: its usage is read as the body passes when it is JSON or an event stream.</summary>
    private void StartUsageScan()
    {
        _current.UsageSse = IsEventStream();
        _current.ScanUsage = _current.UsageSse || IsJsonResponse();
        _current.UsageChunked = _response.Framing == BodyFraming.Chunked;
        _current.UsageFraming = default;
        _current.JsonUsage = UsageScanState.Start();
        _current.SseUsage = SseUsageScanState.Start();
    }

    private bool IsJsonResponse()
    {
        if (!_response.TryGetHeader("content-type"u8, out var type)) return false;
        int semicolon = type.IndexOf((byte)';');
        if (semicolon >= 0) type = type[..semicolon];
        return System.Text.Ascii.EqualsIgnoreCase(type.Trim((byte)' '), "application/json"u8);
    }

    /// <summary>Feeds forwarded response body bytes (chunk framing stripped in place) to the usage scan.</summary>
    private void FeedUsage(in System.Buffers.ReadOnlySequence<byte> body)
    {
        foreach (var segment in body)
        {
            var span = segment.Span;
            if (!_current.UsageChunked)
            {
                FeedUsageData(span);
                continue;
            }
            int i = 0;
            while (i < span.Length && !_current.UsageFraming.IsDone && !_current.UsageFraming.IsInvalid)
            {
                var data = _current.UsageFraming.NextData(span, ref i);
                if (!data.IsEmpty) FeedUsageData(data);
            }
        }
    }

    private void FeedUsageData(ReadOnlySpan<byte> data)
    {
        if (_current.UsageSse) _current.SseUsage.Feed(data);
        else _current.JsonUsage.Feed(data);
    }

    /// <summary>The usage the response reported, or none.</summary>
    private TokenUsage ReportedUsage() =>
        !_current.ScanUsage ? TokenUsage.None : _current.UsageSse ? _current.SseUsage.Result : _current.JsonUsage.Result;
}
