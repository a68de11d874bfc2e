using FastLb.Core.Config;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy;

/// <summary>Serves the accepted client connections of a listener; the HTTP proxy plugs in here.</summary>
/// <remarks>
/// The listener registers the connection <see cref="Create"/> returns (drain, shutdown) and calls its
/// <see cref="System.Threading.IThreadPoolWorkItem.Execute"/> on the accepting thread, so it must return at its first
/// wait. The connection owns <c>client</c>, closes it, and calls <see cref="ProxyListener.Unregister"/> exactly once
/// when it ends. <see cref="IProxyConnection.RequestClose"/> means the listener stops accepting (removed by a reload,
/// or the server stops): finish the request in flight, start no new one. When the drain timeout passes the server
/// calls <see cref="Core.Routing.IDrainable.Abort"/>.
/// </remarks>
internal interface IConnectionHandler
{
    IProxyConnection Create(EpollSocket client, ProxyListener listener, ListenerConfig config);
}
