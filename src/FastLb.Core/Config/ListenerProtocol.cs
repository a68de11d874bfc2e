namespace FastLb.Core.Config;

internal enum ListenerProtocol
{
    Tcp,
    Http,
}
