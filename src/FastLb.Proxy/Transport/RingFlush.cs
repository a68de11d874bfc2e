namespace FastLb.Proxy.Transport;

/// <summary>Posted to a ring loop by <see cref="EpollLoop.FlushRing"/>: submits the loop's queued ring work now, then releases the waiter.</summary>
internal sealed class RingFlush(EpollLoop loop) : IThreadPoolWorkItem
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Execute()
    {
        try
        {
            loop.FlushRingInline();
        }
        finally
        {
            _done.TrySetResult();
        }
    }

    /// <summary>Waits for the flush; false when <paramref name="timeout"/> passed first (a stopped or stuck loop).</summary>
    public bool Wait(TimeSpan timeout) => _done.Task.Wait(timeout);
}
