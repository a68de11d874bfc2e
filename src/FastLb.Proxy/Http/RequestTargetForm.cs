namespace FastLb.Proxy.Http;

/// <summary>The request-target forms FastLb accepts (RFC 9112 §3.2); authority-form is never accepted because CONNECT is refused.</summary>
internal enum RequestTargetForm : byte
{
    /// <summary><c>/path?query</c>.</summary>
    Origin,

    /// <summary><c>http://host[:port]/path</c>; route by its authority, forward as origin-form.</summary>
    Absolute,

    /// <summary><c>*</c>, with OPTIONS only.</summary>
    Asterisk,
}
