namespace FastLb.Proxy.Transport;

/// <summary>Work another thread (or a continuation) leaves for a ring loop's next submission: arm a socket's poll, or cancel it (<see cref="Fd"/> -1).</summary>
internal readonly record struct RingRequest(int Fd, ulong Token);
