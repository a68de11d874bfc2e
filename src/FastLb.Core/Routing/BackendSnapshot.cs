using System.Net;

namespace FastLb.Core.Routing;

/// <summary>A backend as one table generation sees it: address, effective weight and its long-lived state.</summary>
internal sealed class BackendSnapshot(BackendState state, IPEndPoint endPoint, int weight, bool draining)
{
    public BackendState State { get; } = state;
    public IPEndPoint EndPoint { get; } = endPoint;
    public string Address => State.Address;

    /// <summary>Effective weight in this generation; 0 takes no new traffic.</summary>
    public int Weight { get; } = weight;

    /// <summary>Drained by the operator (`ctl drain`): weight 0 until `ctl enable`.</summary>
    public bool Draining { get; } = draining;
}
