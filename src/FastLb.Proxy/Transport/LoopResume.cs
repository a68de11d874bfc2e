using System.Runtime.CompilerServices;

namespace FastLb.Proxy.Transport;

/// <summary>
/// Awaited, continues on an event loop's thread (see <see cref="EpollLoop.DelayAsync"/>): the continuation is posted
/// to the loop, so it never runs on the awaiting thread, even when the loop is quicker than the await.
/// </summary>
internal sealed class LoopResume(EpollLoop loop) : IThreadPoolWorkItem, ICriticalNotifyCompletion
{
    private Action? _continuation;

    public LoopResume GetAwaiter() => this;

    public bool IsCompleted => false;

    public void GetResult()
    {
    }

    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation)
    {
        _continuation = continuation;
        loop.Post(this);
    }

    public void Execute() => _continuation!();

    /// <summary>Waits about <paramref name="milliseconds"/>, then continues on <paramref name="loop"/>'s thread.</summary>
    public static async Task AfterDelayAsync(EpollLoop loop, int milliseconds)
    {
        await Task.Delay(milliseconds).ConfigureAwait(false);
        if (loop.IsStopping) return; // nothing would run the resume; the caller finds its socket closed
        await new LoopResume(loop);
    }
}
