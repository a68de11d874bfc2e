namespace FastLb.Core.Routing;

/// <summary>
/// x mod d for a fixed 32-bit divisor without a division instruction: Lemire, Kaser and Kurz, "Faster Remainder
/// by Direct Computation" (2019). Two multiplications; exact for every 32-bit x and d ≥ 1.
/// </summary>
internal readonly struct FastModulus
{
    private readonly ulong _multiplier;
    private readonly uint _divisor;

    public FastModulus(uint divisor)
    {
        ArgumentOutOfRangeException.ThrowIfZero(divisor);
        _divisor = divisor;
        // ceil(2^64 / d); wraps to 0 for d = 1, which yields x mod 1 = 0 as it should.
        _multiplier = unchecked(ulong.MaxValue / divisor + 1);
    }

    public uint Divisor => _divisor;

    public uint Mod(uint value) => (uint)Math.BigMul(unchecked(_multiplier * value), _divisor, out _);
}
