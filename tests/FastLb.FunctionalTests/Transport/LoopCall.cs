using FastLb.Proxy.Transport;

namespace FastLb.FunctionalTests.Transport;

/// <summary>Runs a function on an event loop's thread (posted, as the proxies' timers do) and hands its result back.</summary>
internal sealed class LoopCall<T>(Func<T> function) : IThreadPoolWorkItem
{
    private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static Task<T> RunAsync(EpollLoop loop, Func<T> function)
    {
        var call = new LoopCall<T>(function);
        loop.Post(call);
        return call._done.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public void Execute()
    {
        try
        {
            _done.SetResult(function());
        }
        catch (Exception e)
        {
            _done.SetException(e);
        }
    }
}
