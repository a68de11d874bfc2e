namespace FastLb.Host.Control;

/// <summary>
/// Who may hold a control-socket connection now: at most <see cref="Shared"/> clients in all and <see cref="PerUid"/>
/// per user, plus <see cref="Reserve"/> more slots only root and the process's own user may take. So clients of one
/// user (a stuck monitoring agent, a flood) cannot lock the operator out, and an emergency rollback as root always
/// finds a slot. Idle clients are also cut after the command deadline (see <see cref="ControlServer"/>).
/// </summary>
internal sealed class ControlClientSlots(int ownerUid, int shared = ControlClientSlots.DefaultShared, int perUid = ControlClientSlots.DefaultPerUid, int reserve = ControlClientSlots.DefaultReserve)
{
    public const int DefaultShared = 16;
    public const int DefaultPerUid = 8;
    public const int DefaultReserve = 4;

    private readonly Lock _lock = new();
    private readonly Dictionary<int, int> _byUid = [];
    private int _total;

    public int Shared => shared;
    public int PerUid => perUid;
    public int Reserve => reserve;

    /// <summary>The most connections served at once: the shared slots and the reserve.</summary>
    public int Capacity => shared + reserve;

    /// <summary>Takes a slot for a peer of <paramref name="uid"/>; null on success, else why not (for the refusal reply).</summary>
    public string? TryEnter(int uid)
    {
        var privileged = uid == 0 || uid == ownerUid;
        lock (_lock)
        {
            var mine = _byUid.GetValueOrDefault(uid);
            if (uid != 0 && mine >= perUid)
            {
                return $"too many control connections from uid {uid} (at most {perUid} at once)";
            }
            if (_total >= shared + (privileged ? reserve : 0))
            {
                return $"too many control clients (at most {shared}; {reserve} more are kept for root and uid {ownerUid})";
            }
            _byUid[uid] = mine + 1;
            _total++;
            return null;
        }
    }

    /// <summary>Gives back the slot <see cref="TryEnter"/> took for <paramref name="uid"/>.</summary>
    public void Leave(int uid)
    {
        lock (_lock)
        {
            var left = _byUid.GetValueOrDefault(uid) - 1;
            if (left <= 0) _byUid.Remove(uid);
            else _byUid[uid] = left;
            _total--;
        }
    }
}
