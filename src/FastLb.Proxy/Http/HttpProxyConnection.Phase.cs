using FastLb.Core.Config;
using FastLb.Core.Json;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    /// <summary>Where the request in flight is. Only the connection's loop moves it; other threads only read it.</summary>
    /// <remarks>
    /// Idle → ReadingHead → Routing → ConnectingUpstream → SendingRequest → AwaitingResponseHead → ResponseBody → Done
    /// → Idle. A stale or reset reused connection goes back from SendingRequest or AwaitingResponseHead to
    /// ConnectingUpstream (RetryFresh); a 101 goes from AwaitingResponseHead to Tunnel; any phase before ResponseBody
    /// may end in Answering (FastLb's own 4xx/5xx). The loop waits for backend bytes (Outcome.AwaitResponse) only in
    /// AwaitingResponseHead and ResponseBody, and the phase says which step reads them.
    /// </remarks>
    private enum RequestPhase : byte
    {
        /// <summary>Between requests: the keep-alive wait (request_head_timeout before the first). No heads rented, nothing counted.</summary>
        Idle,

        /// <summary>The first byte arrived: the heads are rented and the head is read whole within request_head_timeout.</summary>
        ReadingHead,

        /// <summary>The head parsed: the table is read once and a route matched (model peek, first chunk line check).</summary>
        Routing,

        /// <summary>A backend is picked and a pooled connection rented or a new one opened (connect_timeout per attempt).</summary>
        ConnectingUpstream,

        /// <summary>The head goes out on <see cref="_upstream"/>; from here until Done the request is counted on its backend.</summary>
        SendingRequest,

        /// <summary>Waiting for the final response head (response_head_timeout, extended by body upload); the body pump may run. A drain deadline answers 503.</summary>
        AwaitingResponseHead,

        /// <summary>The response head went to the client and the body streams (idle_timeout). A drain deadline resets: the head is out.</summary>
        ResponseBody,

        /// <summary>After a 101: bytes both ways until both ends close (idle_timeout closes both politely).</summary>
        Tunnel,

        /// <summary>FastLb writes its own answer (4xx, 5xx); an exchange still open is cut when the request ends.</summary>
        Answering,

        /// <summary>The exchange is closed and the backend uncounted; the request is recorded next, then Idle.</summary>
        Done,
    }

    /// <summary>
    /// Everything one request owns that the connection's loop alone reads and writes. Reset whole in one place
    /// (<see cref="FinishRequest"/>), so nothing of one request leaks into the next and an idle connection keeps no
    /// snapshot alive. State other threads touch stays on the connection: <see cref="_phase"/>, <see cref="_upstream"/>,
    /// <see cref="_drainCut"/>, <see cref="_connecting"/>.
    /// </summary>
    private struct RequestState
    {
        // Routing and ConnectingUpstream: how the request was routed, for picking another backend when one fails
        // before answering. Set once per request (SendRequestAsync).
        public ServiceConfig? Service;
        public ServiceSnapshot? Routed;
        public PoolSnapshot? Pinned;
        public PoolSnapshot? Sticky;      // sticky_split: the pool this client keeps during a split (not a pin: drains cut it)
        public byte[]? SetCookie;         // sticky_split by cookie: the Set-Cookie line for a client assigned by share now
        public ulong Hash;
        public bool ModelMissing;         // a model route found no model in the header or the JSON body
        public ModelScanResult ModelScan; // where the body's model lies (Found only when it was read from the body)
        public ModelRewrite ModelRewrite; // a models: alias's rewrite of the forwarded body, or none
        public int ModelLength;           // bytes of the model in _modelName (header or body), for the access log
        public ModelTrafficRegistry? ModelTraffic; // per-model counters (model listeners); ModelLabel names the series
        public string? ModelLabel;        // the config's name for the request's model, or a folded value (never client bytes)
        public long FirstBodyTicks;       // when the first response body byte went to the client (model listeners), or 0

        // ResponseBody on a model listener: token usage read from the body as it passes (JSON or server-sent events).
        public bool ScanUsage;
        public bool UsageSse;
        public bool UsageChunked;
        public ChunkFraming UsageFraming;
        public UsageScanState JsonUsage;
        public SseUsageScanState SseUsage;
        public BackendSnapshot? Picked;   // the backend of the last connect attempt
        public BackendSnapshot? TriedA, TriedB;
        public int Attempts;              // connect attempts (each a different backend), over every target
        public int TargetAttempts;        // connect attempts on the current target (the routed one, then each fallback)
        public int Retries;               // requests sent again after a stale or reset connection
        public PoolSnapshot? Unavailable; // the routed pool has nothing healthy: answer its 503
        public MirrorTarget? Mirror;      // the route's mirror, until the request's copy is decided (BeginMirror)
        public bool OutOfDescriptors;     // a connect found this process out of descriptors: 503, not the backend's fault

        // fallback: of the routed service (null when it has none): the targets tried after the routed one, and the
        // body bytes held to send again (the connection's _replay). Set once per request by SendRequestAsync.
        public FallbackConfig? Fallback;
        public ServiceSnapshot? FallbackOrigin;
        public RoutingTable? FallbackTable;
        public int FallbackStep;          // entries of fallback.to moved to so far
        public ulong FallbackTrail;       // for the access log: why each step was taken, 4 bits a step (see FallbackTrail)
        public string? FallbackFromService; // where the request went before its first fallback
        public string? FallbackFromPool;
        public FallbackReasons FailReason; // why ConnectNextAsync found no backend: connect_failure, or 429 for one a Retry-After ejected
        public volatile bool Replayable;  // every body byte read from the client is held (or the body is empty); the pump clears it
        public bool Exchanged;            // a head went to a backend: a fallback from here on must replay
        public bool Replaying;            // the next exchange first sends the held body bytes, then pumps the rest
        public volatile bool BodyReceived; // the pump read the whole body from the client
        public bool ClientBytesSent;      // a 1xx went to the client: no fallback any more

        // token_limits: the buckets the request entered, charged with its usage when it ends (null = none).
        public TokenLimitsConfig? TokenLimits;
        public bool HasApiKey;
        public ulong ApiKey;              // the key's hash, never the key

        // SendingRequest to Done: the backend the request is counted on (BackendState.Acquire), released by EndRequestAsync.
        public BackendState? Counted;
        public bool CountedPinned;        // the route pins the pool (preview): a pool drain deadline spares it

        // Per exchange (reset by StartExchangeAsync: a retry is a new exchange).
        public bool MayRetry;
        public volatile bool RequestBodyDone;    // written by the body pump
        public volatile bool RequestBodyInvalid; // the pump cut a body with bad framing: 400, not 502

        // ResponseBody.
        public bool Dechunk;              // an HTTP/1.0 client: the chunked body goes out de-chunked, delimited by the close
        public bool CloseClient;          // the response says Connection: close

        // What is counted of the request (BeginRecord .. EndRecord): status sent, backend, time to the response
        // head, cause, and where it went for the access log (kept after EndRequestAsync released the routing above).
        public bool Recording;
        public long RequestStartTicks;
        public long ExchangeStartTicks;
        public long ResponseHeadTicks;
        public BackendState? StatsBackend;
        public int Status;
        public bool ResponseCut;
        public TerminationCause Cause;
        public long Generation;
        public int RouteNumber;
        public byte[]? RouteAlias;        // the models: alias that routed the request, logged in place of a route number
        public string? LogService;
        public string? LogPool;
        public string? LogBackend;
    }

    // Written only by the connection's loop; read by the drain ticker (CutAtDrainDeadline) and the loop's own wake-ups.
    private volatile RequestPhase _phase;
    private RequestState _current;

    /// <summary>Moves the request in flight to <paramref name="phase"/>.</summary>
    private void Enter(RequestPhase phase) => _phase = phase;

    /// <summary>The heads are rented for a request whose first byte arrived.</summary>
    private void BeginRequest()
    {
        RentHeads(); // an idle keep-alive connection holds no head buffers
        BeginRecord();
        Enter(RequestPhase.ReadingHead);
    }

    /// <summary>The one place a request's state ends: counts it, returns its heads and resets <see cref="_current"/>.</summary>
    private void FinishRequest(SocketConnection client)
    {
        EndRecord(client);
        ReturnHeads();
        _replay?.Release();
        System.Diagnostics.Debug.Assert(_current.Counted is null, "EndRequestAsync releases the backend count before the state is reset");
        _current = default;
        Enter(RequestPhase.Idle);
    }
}
