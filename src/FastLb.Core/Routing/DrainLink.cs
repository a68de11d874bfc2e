namespace FastLb.Core.Routing;

/// <summary>
/// The links a connection carries so the <see cref="BackendState"/> it runs on can keep it in an intrusive list:
/// registering a connection (per TCP connection, per HTTP request) then allocates nothing.
/// </summary>
internal struct DrainLink
{
    internal BackendState? Owner;
    internal IDrainable? Previous;
    internal IDrainable? Next;
}
