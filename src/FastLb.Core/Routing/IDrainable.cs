namespace FastLb.Core.Routing;

/// <summary>A live connection the drain logic can cut when its pool's drain deadline passes.</summary>
internal interface IDrainable
{
    /// <summary>Closes the connection at once; idempotent.</summary>
    void Abort();

    /// <summary>
    /// The drain deadline of its pool or backend passed: HTTP answers a request still waiting for its response head
    /// with 503 and closes; anything else is cut as by <see cref="Abort"/>.
    /// </summary>
    void CutAtDrainDeadline() => Abort();

    /// <summary>The backend the connection runs on; only <see cref="BackendState"/> touches it.</summary>
    ref DrainLink DrainLink { get; }
}
