using FastLb.Core.Config;
using FastLb.Core.Metrics;

namespace FastLb.Core.Diagnostics;

/// <summary>Formats one access log line (text or JSON, ending in '\n') into a span, without allocating.</summary>
/// <remarks>
/// Text: <c>TIME CLIENT LISTENER ROUTE SERVICE POOL BACKEND GENERATION "METHOD PATH" STATUS BYTES_IN BYTES_OUT
/// DURATION_MS UPSTREAM_HEAD_MS RETRIES CAUSE</c>, '-' for what does not apply (ROUTE is <c>models:NAME</c> for an alias). JSON: the same fields under the names
/// docs/operations.md lists, every one always present (null when it does not apply).
/// </remarks>
internal static class AccessLogFormatter
{
    /// <summary>A path longer than this is cut (and ends in "..."), so every line fits the line buffer.</summary>
    public const int MaxPathBytes = 1024;

    /// <summary>Room a line needs at most: every escaped byte of method and path takes up to 6 bytes.</summary>
    public const int MaxLineBytes = 8192;

    private const int MaxMethodBytes = 32;
    private const int MaxModelBytes = 256;

    /// <summary>Writes the line; false when it did not fit <paramref name="destination"/>.</summary>
    public static bool TryFormat(in AccessLogRecord r, AccessLogFormat format, Span<byte> destination, out int written)
    {
        var w = new LineWriter(destination);
        if (format == AccessLogFormat.Json) Json(ref w, r);
        else Text(ref w, r);
        w.Byte((byte)'\n');
        written = w.Overflowed ? 0 : w.Written.Length;
        return !w.Overflowed;
    }

    private static void Text(ref LineWriter w, in AccessLogRecord r)
    {
        w.Time(r.Time);
        w.Byte((byte)' ');
        if (r.Client.IsEmpty) w.Byte((byte)'-');
        else
        {
            var v6 = r.Client.Contains((byte)':');
            if (v6 && r.ClientPort >= 0) w.Byte((byte)'[');
            w.Raw(r.Client);
            if (v6 && r.ClientPort >= 0) w.Byte((byte)']');
            if (r.ClientPort >= 0)
            {
                w.Byte((byte)':');
                w.Long(r.ClientPort);
            }
        }
        w.Byte((byte)' ');
        w.Ascii(r.Listener);
        w.Byte((byte)' ');
        if (r.Route > 0) w.Long(r.Route);
        else if (!r.Alias.IsEmpty)
        {
            w.Raw("models:"u8);
            w.TextEscaped(Cut(r.Alias, MaxModelBytes));
        }
        else w.Byte((byte)'-');
        TextName(ref w, r.Service);
        TextName(ref w, r.Pool);
        TextName(ref w, r.Backend);
        w.Byte((byte)' ');
        if (r.Generation > 0) w.Long(r.Generation);
        else w.Byte((byte)'-');
        w.Raw(" \""u8);
        if (r.Http)
        {
            w.TextEscaped(Cut(r.Method, MaxMethodBytes));
            w.Byte((byte)' ');
            w.TextEscaped(Cut(r.Path, MaxPathBytes));
            if (r.Path.Length > MaxPathBytes) w.Raw("..."u8);
        }
        else
        {
            w.Byte((byte)'-');
        }
        w.Raw("\" "u8);
        if (r.Status > 0) w.Long(r.Status);
        else w.Byte((byte)'-');
        w.Byte((byte)' ');
        w.Long(r.BytesIn);
        w.Byte((byte)' ');
        w.Long(r.BytesOut);
        w.Byte((byte)' ');
        w.Millis(r.DurationMicros);
        w.Byte((byte)' ');
        if (r.UpstreamHeadMicros >= 0) w.Millis(r.UpstreamHeadMicros);
        else w.Byte((byte)'-');
        w.Byte((byte)' ');
        w.Long(r.Retries);
        w.Byte((byte)' ');
        w.Ascii(TerminationCauses.Name(r.Cause, r.Status));
        if (!r.Model.IsEmpty)
        {
            // Model listeners only, so other lines keep their fields.
            w.Raw(" model="u8);
            w.TextEscaped(Cut(r.Model, MaxModelBytes));
            w.Raw(" tokens="u8);
            TextCount(ref w, r.PromptTokens);
            w.Byte((byte)'/');
            TextCount(ref w, r.CompletionTokens);
        }
        if (r.FallbackSteps > 0)
        {
            // Only requests that fell back: the first target, then each step's reason and target.
            w.Raw(" fallback="u8);
            w.Ascii(r.FallbackFromService ?? "-");
            w.Byte((byte)'/');
            w.Ascii(r.FallbackFromPool ?? "-");
            var to = r.Fallback!.To;
            for (var i = 0; i < r.FallbackSteps && i < to.Count; i++)
            {
                w.Byte((byte)':');
                w.Ascii(FallbackReasonNames.Name(FallbackTrail.At(r.FallbackTrail, i)));
                w.Byte((byte)'>');
                w.Ascii(to[i].Name);
            }
            w.Raw(" attempts="u8);
            w.Long(r.FallbackSteps + 1);
        }
    }

    private static void TextCount(ref LineWriter w, long count)
    {
        if (count >= 0) w.Long(count);
        else w.Byte((byte)'-');
    }

    private static void JsonCount(ref LineWriter w, ReadOnlySpan<byte> key, long count)
    {
        w.Raw(key);
        if (count >= 0) w.Long(count);
        else w.Raw("null"u8);
    }

    private static void TextName(ref LineWriter w, string? name)
    {
        w.Byte((byte)' ');
        if (name is null) w.Byte((byte)'-');
        else w.Ascii(name);
    }

    private static void Json(ref LineWriter w, in AccessLogRecord r)
    {
        w.Raw("{\"time\":\""u8);
        w.Time(r.Time);
        w.Raw("\",\"client\":"u8);
        if (r.Client.IsEmpty) w.Raw("null"u8);
        else
        {
            w.Byte((byte)'"');
            w.Raw(r.Client);
            w.Byte((byte)'"');
        }
        w.Raw(",\"client_port\":"u8);
        if (r.ClientPort >= 0) w.Long(r.ClientPort);
        else w.Raw("null"u8);
        w.Raw(",\"listener\":\""u8);
        w.Ascii(r.Listener);
        w.Raw("\",\"route\":"u8);
        if (r.Route > 0) w.Long(r.Route);
        else w.Raw("null"u8);
        JsonName(ref w, ",\"service\":"u8, r.Service);
        JsonName(ref w, ",\"pool\":"u8, r.Pool);
        JsonName(ref w, ",\"backend\":"u8, r.Backend);
        w.Raw(",\"generation\":"u8);
        if (r.Generation > 0) w.Long(r.Generation);
        else w.Raw("null"u8);
        w.Raw(",\"method\":"u8);
        if (r.Http && !r.Method.IsEmpty)
        {
            w.Byte((byte)'"');
            w.JsonEscaped(Cut(r.Method, MaxMethodBytes));
            w.Byte((byte)'"');
        }
        else
        {
            w.Raw("null"u8);
        }
        w.Raw(",\"path\":"u8);
        if (r.Http && !r.Path.IsEmpty)
        {
            w.Byte((byte)'"');
            w.JsonEscaped(Cut(r.Path, MaxPathBytes));
            if (r.Path.Length > MaxPathBytes) w.Raw("..."u8);
            w.Byte((byte)'"');
        }
        else
        {
            w.Raw("null"u8);
        }
        w.Raw(",\"status\":"u8);
        if (r.Status > 0) w.Long(r.Status);
        else w.Raw("null"u8);
        w.Raw(",\"bytes_in\":"u8);
        w.Long(r.BytesIn);
        w.Raw(",\"bytes_out\":"u8);
        w.Long(r.BytesOut);
        w.Raw(",\"duration_ms\":"u8);
        w.Millis(r.DurationMicros);
        w.Raw(",\"upstream_head_ms\":"u8);
        if (r.UpstreamHeadMicros >= 0) w.Millis(r.UpstreamHeadMicros);
        else w.Raw("null"u8);
        w.Raw(",\"retries\":"u8);
        w.Long(r.Retries);
        w.Raw(",\"termination\":\""u8);
        w.Ascii(TerminationCauses.Name(r.Cause, r.Status));
        w.Byte((byte)'"');
        if (!r.Model.IsEmpty)
        {
            w.Raw(",\"model\":\""u8);
            w.JsonEscapedUtf8(Cut(r.Model, MaxModelBytes));
            w.Raw("\",\"alias\":"u8);
            if (r.Alias.IsEmpty) w.Raw("null"u8);
            else
            {
                w.Byte((byte)'"');
                w.JsonEscapedUtf8(Cut(r.Alias, MaxModelBytes));
                w.Byte((byte)'"');
            }
            JsonCount(ref w, ",\"prompt_tokens\":"u8, r.PromptTokens);
            JsonCount(ref w, ",\"completion_tokens\":"u8, r.CompletionTokens);
        }
        if (r.Fallback is { } fallback) JsonFallback(ref w, r, fallback);
        w.Byte((byte)'}');
    }

    /// <summary>Services with <c>fallback:</c> only: null, or where the request went first and each step it took.</summary>
    private static void JsonFallback(ref LineWriter w, in AccessLogRecord r, FallbackConfig fallback)
    {
        w.Raw(",\"fallback\":"u8);
        if (r.FallbackSteps <= 0)
        {
            w.Raw("null"u8);
            return;
        }
        JsonName(ref w, "{\"service\":"u8, r.FallbackFromService);
        JsonName(ref w, ",\"pool\":"u8, r.FallbackFromPool);
        w.Raw(",\"attempts\":"u8);
        w.Long(r.FallbackSteps + 1);
        w.Raw(",\"steps\":["u8);
        for (var i = 0; i < r.FallbackSteps && i < fallback.To.Count; i++)
        {
            if (i > 0) w.Byte((byte)',');
            w.Raw("{\"reason\":\""u8);
            w.Ascii(FallbackReasonNames.Name(FallbackTrail.At(r.FallbackTrail, i)));
            w.Raw("\",\"to\":\""u8);
            w.Ascii(fallback.To[i].Name);
            w.Raw("\"}"u8);
        }
        w.Raw("]}"u8);
    }

    private static void JsonName(ref LineWriter w, ReadOnlySpan<byte> key, string? name)
    {
        w.Raw(key);
        if (name is null)
        {
            w.Raw("null"u8);
            return;
        }
        w.Byte((byte)'"');
        w.Ascii(name);
        w.Byte((byte)'"');
    }

    private static ReadOnlySpan<byte> Cut(ReadOnlySpan<byte> bytes, int max) => bytes.Length <= max ? bytes : bytes[..max];
}
