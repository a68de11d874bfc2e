namespace FastLb.Core.Routing;

/// <summary>Picks one backend of a pool; lock-free and allocation-free.</summary>
internal interface ISelectionPolicy
{
    /// <summary>
    /// Returns a backend, or null when no backend takes traffic. <paramref name="hash"/> is the request's
    /// hash key (used by hash policies); <paramref name="attempt"/> is 0 for the first pick and grows on
    /// each retry so a policy can move to a different backend.
    /// </summary>
    BackendSnapshot? Pick(ulong hash, int attempt);
}
