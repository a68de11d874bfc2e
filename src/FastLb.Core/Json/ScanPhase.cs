namespace FastLb.Core.Json;

/// <summary>Where <see cref="ScanState"/> stands in the top-level object.</summary>
internal enum ScanPhase : byte
{
    Start,
    ExpectKeyOrClose,
    ExpectKey,
    Key,
    ExpectColon,
    ExpectValue,
    ValueString,
    ValueScalar,
    Nested,
    AfterValue,
    Closed,
    Invalid,
}
