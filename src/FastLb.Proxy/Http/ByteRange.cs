namespace FastLb.Proxy.Http;

/// <summary>An offset and length into a head's byte buffer; stands in for a string so parsing allocates nothing.</summary>
internal readonly record struct ByteRange(int Start, int Length);
