namespace FastLb.Proxy.Transport;

/// <summary>The peer reset the connection (RST); a relay answers by resetting the other side.</summary>
internal sealed class ConnectionResetException(string message, Exception? inner = null) : IOException(message, inner);
