namespace FastLb.Core.Traffic;

/// <summary>A control command was refused; the message says why and names the valid choices.</summary>
internal sealed class TrafficException(string message) : Exception(message);
