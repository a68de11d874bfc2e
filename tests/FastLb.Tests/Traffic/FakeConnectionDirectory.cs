using FastLb.Core.Routing;

namespace FastLb.Tests.Traffic;

/// <summary>Stands in for the proxy's listeners: the connections opened through it, for drain deadlines to cut.</summary>
internal sealed class FakeConnectionDirectory : IConnectionDirectory
{
    private readonly List<FakeConnection> _opened = [];

    public IEnumerable<IDrainable> Connections => _opened;

    public FakeConnection Open(BackendState state)
    {
        var connection = FakeConnection.Open(state);
        _opened.Add(connection);
        return connection;
    }
}
