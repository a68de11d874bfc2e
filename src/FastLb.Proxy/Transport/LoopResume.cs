namespace FastLb.Proxy.Transport;

/// <summary>A task that completes on an event loop's thread once that loop runs it (see <see cref="EpollLoop.DelayAsync"/>).</summary>
internal sealed class LoopResume : TaskCompletionSource, IThreadPoolWorkItem
{
    // No RunContinuationsAsynchronously: the awaiting code continues inline, on the loop's thread.
    public void Execute() => TrySetResult();

    /// <summary>Waits about <paramref name="milliseconds"/>, then continues on <paramref name="loop"/>'s thread.</summary>
    public static async Task AfterDelayAsync(EpollLoop loop, int milliseconds)
    {
        await Task.Delay(milliseconds).ConfigureAwait(false);
        if (loop.IsStopping) return; // nothing would run the resume; the caller finds its socket closed
        var resume = new LoopResume();
        loop.Post(resume);
        await resume.Task.ConfigureAwait(false);
    }
}
