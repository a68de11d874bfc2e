namespace FastLb.Core.Routing;

/// <summary>A live connection the drain logic can cut when its pool's drain deadline passes.</summary>
internal interface IDrainable
{
    /// <summary>Closes the connection at once; idempotent.</summary>
    void Abort();

    /// <summary>The backend the connection runs on; only <see cref="BackendState"/> touches it.</summary>
    ref DrainLink DrainLink { get; }
}
