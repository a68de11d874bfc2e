namespace FastLb.Proxy.Http;

/// <summary>One header field line as offsets into the head buffer; the value has its surrounding whitespace trimmed.</summary>
internal readonly record struct HeaderEntry(ByteRange Name, ByteRange Value, KnownHeader Known);
