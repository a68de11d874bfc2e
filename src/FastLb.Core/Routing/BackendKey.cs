namespace FastLb.Core.Routing;

/// <summary>Identity of a backend across reloads: service, pool and address.</summary>
internal readonly record struct BackendKey(string Service, string Pool, string Address);
