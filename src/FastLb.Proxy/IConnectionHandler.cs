using FastLb.Core.Config;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy;

/// <summary>Serves one accepted client connection of a listener; the HTTP proxy plugs in here.</summary>
/// <remarks>
/// The handler owns <c>client</c> while <see cref="HandleAsync"/> runs and the server disposes it afterwards.
/// <c>ct</c> is canceled when the listener stops accepting (removed by a reload, or the server stops): finish
/// the request in flight, start no new one, and return. When the drain timeout passes the server resets the
/// socket itself, so a handler blocked on I/O sees it fail. Exceptions are logged and never reach the accept loop.
/// </remarks>
internal interface IConnectionHandler
{
    Task HandleAsync(EpollSocket client, ListenerConfig listener, CancellationToken ct);
}
