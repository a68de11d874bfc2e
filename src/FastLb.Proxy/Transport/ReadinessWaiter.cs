using System.Threading.Tasks.Sources;

namespace FastLb.Proxy.Transport;

/// <summary>The reusable awaitable one direction of an <see cref="EpollSocket"/> parks on: no allocation per wait.</summary>
/// <remarks>
/// Readiness completes the continuation inline on the event loop (the point of the design: a request is handled on
/// the thread that saw its bytes). A close completes it through the thread pool instead, because a close can come
/// from any thread, possibly one holding locks the woken code would take again.
/// </remarks>
internal sealed class ReadinessWaiter : IValueTaskSource<bool>
{
    private ManualResetValueTaskSourceCore<bool> _core;

    public short Version => _core.Version;

    /// <summary>Arms the waiter for one more wait; only the single consumer of its direction calls it.</summary>
    public void Reset()
    {
        _core.Reset();
        _core.RunContinuationsAsynchronously = false;
    }

    /// <summary>Completes the wait armed by <see cref="Reset"/>: true = ready, false = the socket closed.</summary>
    public void Complete(bool ready)
    {
        if (!ready) _core.RunContinuationsAsynchronously = true;
        _core.SetResult(ready);
    }

    public bool GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
