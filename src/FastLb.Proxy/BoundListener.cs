using System.Net;
using FastLb.Core.Config;

namespace FastLb.Proxy;

/// <summary>A listener that is accepting: its name and the address it actually bound (port 0 resolved).</summary>
internal sealed record BoundListener(string Name, IPEndPoint EndPoint, ListenerProtocol Protocol);
