namespace FastLb.Core.Diagnostics;

/// <summary>How log lines are written (<c>log_format</c>).</summary>
internal enum LogFormat
{
    /// <summary><c>2026-12-02T10:00:00.000Z info  message</c>: for people and plain files.</summary>
    Text,

    /// <summary><c>{"time":"…","level":"info","msg":"…"}</c>, one object per line: for journald, Loki and other collectors.</summary>
    Json,
}
