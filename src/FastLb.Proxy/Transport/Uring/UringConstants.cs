namespace FastLb.Proxy.Transport.Uring;

/// <summary>The io_uring UAPI numbers the transport uses (linux/io_uring.h; identical on every architecture).</summary>
internal static class UringConstants
{
    public const long SysIoUringSetup = 425;
    public const long SysIoUringEnter = 426;
    public const long SysIoUringRegister = 427;

    public const uint SetupClamp = 1u << 4;
    public const uint SetupCqSize = 1u << 3;
    public const uint SetupSubmitAll = 1u << 7;
    public const uint SetupCoopTaskrun = 1u << 8;
    public const uint SetupTaskrunFlag = 1u << 9;
    public const uint SetupSingleIssuer = 1u << 12;
    public const uint SetupDeferTaskrun = 1u << 13;

    public const uint FeatSingleMmap = 1u << 0;
    public const uint FeatNoDrop = 1u << 1;
    public const uint FeatSubmitStable = 1u << 2;
    public const uint FeatFastPoll = 1u << 5;
    public const uint FeatExtArg = 1u << 8;

    public const uint EnterGetEvents = 1u << 0;
    public const uint EnterExtArg = 1u << 3;
    public const uint EnterRegisteredRing = 1u << 4;

    public const uint SqNeedWakeup = 1u << 0;
    public const uint SqCqOverflow = 1u << 1;
    public const uint SqTaskrun = 1u << 2;

    public const long OffSqRing = 0;
    public const long OffCqRing = 0x8000000;
    public const long OffSqes = 0x10000000;

    public const byte OpNop = 0;
    public const byte OpPollAdd = 6;
    public const byte OpTimeout = 11;
    public const byte OpAccept = 13;
    public const byte OpAsyncCancel = 14;
    public const byte OpLinkTimeout = 15;
    public const byte OpConnect = 16;
    public const byte OpClose = 19;
    public const byte OpFilesUpdate = 20;
    public const byte OpSend = 26;
    public const byte OpRecv = 27;
    public const byte OpSplice = 30;
    public const byte OpShutdown = 34;

    public const byte SqeFixedFile = 1 << 0;
    public const byte SqeIoLink = 1 << 2;
    public const byte SqeBufferSelect = 1 << 5;
    public const byte SqeCqeSkipSuccess = 1 << 6;

    public const uint CqeFBuffer = 1u << 0;
    public const uint CqeFMore = 1u << 1;
    public const uint CqeFSockNonEmpty = 1u << 2;
    public const int CqeBufferShift = 16;

    public const ushort RecvMultishot = 1 << 1;
    public const ushort AcceptMultishot = 1 << 0;
    public const uint AsyncCancelAll = 1u << 0;
    public const uint AsyncCancelFd = 1u << 1;
    public const uint AsyncCancelAny = 1u << 2;

    public const uint RegisterFiles = 2;
    public const uint RegisterFilesUpdate = 6;
    public const uint RegisterProbe = 8;
    public const uint RegisterRingFds = 20;
    public const uint UnregisterRingFds = 21;
    public const uint RegisterPbufRing = 22;
    public const uint UnregisterPbufRing = 23;

    public const ushort OpSupported = 1;

    public const uint SpliceFMove = 1;
    public const uint SpliceFNonblock = 2;
    public const uint SpliceFMore = 4;
    public const uint SpliceFFdInFixed = 1u << 31;
}
