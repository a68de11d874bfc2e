namespace FastLb.Tests.Limits;

/// <summary>A timestamp source tests move by hand (ticks of 100 ns).</summary>
internal sealed class SteppedClock : TimeProvider
{
    private long _ticks = TimeSpan.TicksPerDay;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}
