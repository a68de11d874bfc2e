namespace FastLb.Core.Config;

/// <summary>Which kernel interface the data plane's event loops use (<c>io</c>, top level).</summary>
internal enum IoMode
{
    /// <summary>io_uring where the kernel has what the transport needs and it is the measured better choice, else epoll.</summary>
    Auto,

    /// <summary>epoll readiness plus one syscall per socket operation (works on every Linux kernel and sandbox).</summary>
    Epoll,

    /// <summary>One io_uring per event loop; start fails, saying why, where io_uring is unavailable.</summary>
    IoUring,
}
