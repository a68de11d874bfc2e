namespace FastLb.Proxy.Transport;

/// <summary>Work another thread (or a continuation) leaves for a ring loop's next submission: arm or cancel one of a socket's operations.</summary>
internal readonly record struct RingRequest(RingOp Op, EpollSocket? Socket, ulong Token);
