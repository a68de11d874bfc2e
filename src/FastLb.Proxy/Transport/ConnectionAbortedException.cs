namespace FastLb.Proxy.Transport;

/// <summary>The connection was cut locally (abort, drain deadline, shutdown) or failed; the stream is incomplete.</summary>
internal sealed class ConnectionAbortedException(string message, Exception? inner = null) : IOException(message, inner);
