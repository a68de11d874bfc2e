using System.Net;
using FastLb.Core.Health;

namespace FastLb.Core.Routing;

/// <summary>
/// A backend as one table generation sees it: address, weights and the health view of this generation, with its
/// long-lived state. Weight and health are read from here on a pick, never from the state, so a pick sees one view.
/// </summary>
internal sealed class BackendSnapshot(
    BackendState state,
    IPEndPoint endPoint,
    int weight,
    bool draining,
    int? pickWeight = null,
    BackendHealthState health = BackendHealthState.Healthy,
    double rampFactor = 1)
{
    public BackendState State { get; } = state;
    public IPEndPoint EndPoint { get; } = endPoint;
    public string Address => State.Address;

    /// <summary>Configured weight in this generation (file or `ctl weight`); 0 takes no new traffic and drains.</summary>
    public int Weight { get; } = weight;

    /// <summary>Drained by the operator (`ctl drain`): weight 0 until `ctl enable`.</summary>
    public bool Draining { get; } = draining;

    /// <summary>
    /// The integer weight balancers use: 0 when the backend is unhealthy, unknown or ejected (unless its pool is in
    /// panic), else its weight ramped by slow start (scaled pool-wide while a ramp runs, see <see cref="SlowStart"/>).
    /// </summary>
    public int PickWeight { get; } = pickWeight ?? weight;

    /// <summary>Health as status shows it when this generation was built.</summary>
    public BackendHealthState Health { get; } = health;

    /// <summary>Slow-start share of full weight when this generation was built (1 = full).</summary>
    public double RampFactor { get; } = rampFactor;

    /// <summary>True when a pick may return this backend.</summary>
    public bool Routable => PickWeight > 0;

    /// <summary>Weight × ramp as status shows it (0 when it takes no traffic).</summary>
    public double EffectiveWeight => Routable ? Math.Round(Weight * RampFactor, 2) : 0;
}
