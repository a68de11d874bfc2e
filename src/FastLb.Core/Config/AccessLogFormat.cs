namespace FastLb.Core.Config;

/// <summary>How an access log line is written (<c>access_log: format</c>).</summary>
internal enum AccessLogFormat : byte
{
    /// <summary>One line of space-separated fields, '-' for a field that does not apply.</summary>
    Text,

    /// <summary>One JSON object per line, every field always present (null when it does not apply).</summary>
    Json,
}
