namespace FastLb.Core.Json;

/// <summary>The outcome of one scan: a status and, when found, where the model string's raw (still escaped) bytes lie.</summary>
internal readonly struct ModelScanResult(ModelScanStatus status, long valueOffset, int valueLength, bool valueHasEscapes)
{
    public ModelScanStatus Status { get; } = status;

    /// <summary>Offset from the start of the body of the first byte after the value's opening quote.</summary>
    public long ValueOffset { get; } = valueOffset;

    /// <summary>Length of the raw value between its quotes, escapes undecoded.</summary>
    public int ValueLength { get; } = valueLength;

    /// <summary>True when the raw value holds a backslash escape, so its bytes differ from the model name.</summary>
    public bool ValueHasEscapes { get; } = valueHasEscapes;

    public static ModelScanResult Of(ModelScanStatus status) => new(status, 0, 0, false);
}
