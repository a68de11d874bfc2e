namespace FastLb.Tests.Http;

/// <summary>Realistic heads shared by tests and benchmarks.</summary>
internal static class SampleHeads
{
    public const string BrowserRequest =
        "GET /products/list?page=2&sort=price HTTP/1.1\r\n" +
        "Host: shop.example.com\r\n" +
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n" +
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
        "Accept-Language: en-US,en;q=0.9\r\n" +
        "Accept-Encoding: gzip, deflate, br\r\n" +
        "Referer: https://shop.example.com/\r\n" +
        "Cookie: session=abc123; theme=dark; _ga=GA1.2.3\r\n" +
        "Connection: keep-alive\r\n" +
        "Upgrade-Insecure-Requests: 1\r\n" +
        "Sec-Fetch-Dest: document\r\n" +
        "Sec-Fetch-Mode: navigate\r\n" +
        "Sec-Fetch-Site: same-origin\r\n" +
        "Cache-Control: max-age=0\r\n" +
        "\r\n";

    public const string TypicalResponse =
        "HTTP/1.1 200 OK\r\n" +
        "Date: Thu, 26 Nov 2026 10:00:00 GMT\r\n" +
        "Server: nginx\r\n" +
        "Content-Type: text/html; charset=utf-8\r\n" +
        "Content-Length: 5120\r\n" +
        "Connection: keep-alive\r\n" +
        "Cache-Control: private, max-age=0\r\n" +
        "Set-Cookie: session=abc123; Path=/; HttpOnly; Secure\r\n" +
        "Vary: Accept-Encoding\r\n" +
        "\r\n";
}
