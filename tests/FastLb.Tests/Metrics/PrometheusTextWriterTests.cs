using FastLb.Host.Admin;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.Tests.Metrics;

public class PrometheusTextWriterTests
{
    [Fact]
    public void Samples_EscapeLabelValues_AndReuseEachLabelSet()
    {
        var w = new PrometheusTextWriter(new byte[16]); // too small on purpose: the writer grows it
        string[] odd = ["backend", "a\"b\\c\nd", "pool", "blue"];
        w.Family("fastlb_test_total", "counter", "Test counter.");
        w.Sample("fastlb_test_total", odd, 1);
        w.Sample("fastlb_test_total", odd, "code", "2xx", 2.5);
        w.Sample("fastlb_test_total", [], 3);

        Assert.Equal(
            "# HELP fastlb_test_total Test counter.\n# TYPE fastlb_test_total counter\n" +
            "fastlb_test_total{backend=\"a\\\"b\\\\c\\nd\",pool=\"blue\"} 1\n" +
            "fastlb_test_total{backend=\"a\\\"b\\\\c\\nd\",pool=\"blue\",code=\"2xx\"} 2.5\n" +
            "fastlb_test_total 3\n",
            w.ToString());
        Assert.Empty(PrometheusExposition.Validate(w.ToString()));
    }

    [Fact]
    public void Histogram_CumulativeBucketsEndInInf_WithAndWithoutLabels()
    {
        var w = new PrometheusTextWriter();
        w.Family("fastlb_test_seconds", "histogram", "Test histogram.");
        w.Histogram("fastlb_test_seconds", ["pool", "blue"], [0.001, 0.5], [1, 3], 4, 1.25);
        w.Histogram("fastlb_test_seconds", [], [0.001, 0.5], [0, 0], 0, 0);

        var text = w.ToString();
        Assert.Contains("fastlb_test_seconds_bucket{pool=\"blue\",le=\"0.001\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("fastlb_test_seconds_bucket{pool=\"blue\",le=\"+Inf\"} 4\n", text, StringComparison.Ordinal);
        Assert.Contains("fastlb_test_seconds_sum{pool=\"blue\"} 1.25\n", text, StringComparison.Ordinal);
        Assert.Contains("fastlb_test_seconds_bucket{le=\"0.5\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("fastlb_test_seconds_count 0\n", text, StringComparison.Ordinal);
        Assert.Empty(PrometheusExposition.Validate(text));
    }

    [Fact]
    public void Family_WrittenTwice_IsABug()
    {
        var w = new PrometheusTextWriter();
        w.Family("fastlb_x", "gauge", "X.");
        Assert.Throws<InvalidOperationException>(() => w.Family("fastlb_x", "gauge", "X."));
    }
}
