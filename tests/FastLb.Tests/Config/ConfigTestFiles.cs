namespace FastLb.Tests.Config;

/// <summary>YAML fixtures shared by the config tests.</summary>
internal static class ConfigTestFiles
{
    /// <summary>A full example with two mistakes: routes to services it never defines, and hash_on with round_robin.</summary>
    public const string DesignExample = """
        workers: 2                        # data-plane threads / event loops; default: the core count
        admin:
          control_socket: ./fastlb.sock   # Unix domain socket, created mode 0600
          listen: 127.0.0.1:9901          # optional admin HTTP: /metrics /status / (dashboard), read-only
        defaults:
          connect_timeout: 2s
          idle_timeout: 60s
          drain_timeout: 30s
        listeners:
          - name: web
            bind: 0.0.0.0:8080
            protocol: http                # http | tcp
            routes:                       # http only; first match wins
              - match: { host: api.example.com, path_prefix: /v1/ }
                service: api
              - match: { header: { name: x-fastlb-pool, value: green } }
                service: web
                pool: green               # pin: preview green before the swap
              - service: web              # no match = catch-all
          - name: pg
            bind: 0.0.0.0:5432
            protocol: tcp
            service: postgres             # tcp listeners name one service
        services:
          web:
            balance: round_robin          # round_robin (smooth weighted) | least_request | random | hash
            hash_on: client_ip            # with balance: hash (client_ip | header:NAME | cookie:NAME)
            active: blue                  # the pool that takes traffic ...
            # split: { blue: 90, green: 10 }   # ... or a weighted split across pools
            drain_timeout: 30s
            pools:
              blue:
                - { address: 10.0.0.1:8080, weight: 3 }
                - 10.0.0.2:8080           # short form, weight 1
              green:
                - 10.0.1.1:8080
        """;

    /// <summary>
    /// <see cref="DesignExample"/> made loadable: hash_on dropped from the round_robin service (it only applies with
    /// balance: hash) and the api and postgres services it routes to added.
    /// </summary>
    public static readonly string DesignExampleFixed = DesignExample
        .Replace("    hash_on: client_ip            # with balance: hash (client_ip | header:NAME | cookie:NAME)\n", "")
        + """

          api:
            connect_timeout: 500ms
            idle_timeout: 1m
            pools:
              v1: [ 10.0.2.1:9000, 10.0.2.2:9000 ]
          postgres:
            balance: least_request
            split: { primary: 100, replica: 0 }
            pools:
              primary: [ "10.0.3.1:5432" ]
              replica:
                - { address: 10.0.3.2:5432, weight: 0 }
        """;

    /// <summary>A small valid file that tests edit to introduce one error.</summary>
    public const string Minimal = """
        listeners:
          - name: web
            bind: 127.0.0.1:8080
            protocol: http
            routes:
              - service: web
        services:
          web:
            active: blue
            pools:
              blue: [ 127.0.0.1:9001 ]
              green: [ 127.0.0.1:9002 ]
        """;
}
