using System.Net.Sockets;
using FastLb.Core.Config;

namespace FastLb.Proxy;

/// <summary>A listening socket handed over by the process this one replaces, with the listener it served there.</summary>
/// <param name="Name">The listener's name in the other process's config.</param>
/// <param name="Bind">The bind address as that config wrote it (port 0 included), which a listener here must match to take it.</param>
/// <param name="Protocol">The protocol it served.</param>
/// <param name="Socket">The socket; it stays open (and keeps its backlog) until a listener here takes it or the hand-off ends.</param>
internal sealed record InheritedListener(string Name, string Bind, ListenerProtocol Protocol, Socket Socket);
