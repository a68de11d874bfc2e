namespace FastLb.Proxy.Transport;

/// <summary><c>io: io_uring</c> was asked for on a host where the io_uring transport cannot run; the message says why.</summary>
internal sealed class IoUnavailableException(string message) : Exception(message);
