namespace FastLb.Proxy.Transport;

/// <summary>What a <see cref="RingRequest"/> asks a ring loop to submit for a socket.</summary>
internal enum RingOp : byte
{
    /// <summary>Arm the socket's multishot readiness poll.</summary>
    ArmPoll,

    /// <summary>Arm the socket's multishot receive into the loop's provided buffers.</summary>
    ArmReceive,

    /// <summary>Stop the socket's receive for now (its reader fell behind; a later ArmReceive resumes it).</summary>
    PauseReceive,

    /// <summary>Cancel the socket's poll (it closed).</summary>
    CancelPoll,

    /// <summary>Cancel the socket's receive (it closed).</summary>
    CancelReceive,

    /// <summary>Cancel the send whose user_data is the request's token (its socket closed).</summary>
    CancelSend,

    /// <summary>Arm the listener's single-shot accept in the slot the request's token names.</summary>
    ArmAccept,

    /// <summary>Cancel the listener's accepts in the kernel (it stops accepting, or is at a limit).</summary>
    CancelAccepts,

    /// <summary>Clear the closed socket's index in the loop's registered file table (it had neither poll nor receive to cancel).</summary>
    ReleaseFile,

    /// <summary>Close the descriptor the request's token holds (IORING_OP_CLOSE): its socket's last reference is gone.</summary>
    Close,
}
