using FastLb.Core.Routing;

namespace FastLb.Tests.Traffic;

/// <summary>Stands in for a proxied connection: runs on one backend and records being aborted.</summary>
internal sealed class FakeConnection(BackendState state) : IDrainable
{
    private DrainLink _drainLink;

    /// <summary>The backend it runs on (see <see cref="BackendState.Acquire"/>).</summary>
    public ref DrainLink DrainLink => ref _drainLink;

    public bool Aborted { get; private set; }

    public static FakeConnection Open(BackendState state)
    {
        var c = new FakeConnection(state);
        state.Acquire(c);
        return c;
    }

    public void Abort()
    {
        if (Aborted) return;
        Aborted = true;
        state.Release(this);
    }

    public void Close() => state.Release(this);
}
