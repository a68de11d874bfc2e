namespace FastLb.Proxy.Http;

/// <summary>Request methods recognised without comparing strings; anything else is <see cref="Custom"/>.</summary>
internal enum HttpMethodKind : byte
{
    Custom,
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
}
