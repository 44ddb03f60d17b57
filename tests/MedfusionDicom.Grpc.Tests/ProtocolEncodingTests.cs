namespace MedfusionDicom.Grpc.Tests;

public sealed class ProtocolEncodingTests
{
    [Theory]
    [InlineData("1H", 3600_000.0)]
    [InlineData("2M", 120_000.0)]
    [InlineData("3S", 3000.0)]
    [InlineData("250m", 250.0)]
    [InlineData("1500u", 1.5)]
    [InlineData("99999999n", 99.9999)]
    public void Grpc_timeout_units_parse(string header, double milliseconds)
    {
        Assert.True(GrpcProtocol.TryParseTimeout(header, out var timeout));
        Assert.Equal(milliseconds, timeout.TotalMilliseconds, 3);
    }

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("10")]
    [InlineData("10s")]
    [InlineData("-1S")]
    [InlineData("123456789S")]
    [InlineData("1.5S")]
    public void Malformed_grpc_timeouts_are_refused(string header) => Assert.False(GrpcProtocol.TryParseTimeout(header, out _));

    [Theory]
    [InlineData(0.0005, "1u")]
    [InlineData(250.0, "250000u")]
    [InlineData(200_000.0, "200000m")]
    [InlineData(400_000_000.0, "400000S")]
    public void Grpc_timeouts_format_in_the_finest_unit_that_fits_eight_digits(double milliseconds, string expected) =>
        Assert.Equal(expected, GrpcProtocol.FormatTimeout(TimeSpan.FromMilliseconds(milliseconds)));

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("100% sure", "100%25 sure")]
    [InlineData("größe", "gr%C3%B6%C3%9Fe")]
    [InlineData("a\r\nb", "a%0D%0Ab")]
    public void Grpc_message_is_percent_encoded_and_decoded(string message, string wire)
    {
        Assert.Equal(wire, GrpcProtocol.PercentEncode(message));
        Assert.Equal(message, GrpcProtocol.PercentDecode(wire));
    }

    [Fact]
    public void Malformed_percent_escapes_decode_as_they_are() => Assert.Equal("50%zz%", GrpcProtocol.PercentDecode("50%zz%"));

    [Fact]
    public void Metadata_keys_are_lower_cased_and_binary_keys_need_bytes()
    {
        var metadata = new Metadata().Add("X-Request-Id", "abc").Add("trace-bin", [1, 2]);

        Assert.Equal("abc", metadata.GetValue("x-request-id"));
        Assert.Equal([1, 2], metadata.GetValueBytes("TRACE-BIN"));
        Assert.Throws<ArgumentException>(() => metadata.Add("trace-bin", "text"));
        Assert.Throws<ArgumentException>(() => metadata.Add("plain", [1]));
        Assert.Throws<ArgumentException>(() => metadata.Add("bad key", "x"));
        Assert.Throws<ArgumentException>(() => metadata.Add("k", "line\nbreak"));
    }

    [Fact]
    public void Binary_headers_decode_with_or_without_padding_and_comma_joined()
    {
        var metadata = MetadataHeaders.FromHeaders([new("k-bin", ["AAE", "AgM=,BA=="]), new("grpc-status", ["0"]), new("k2-bin", ["%%%"])]);

        Assert.Equal([[0, 1], [2, 3], [4]], metadata.GetAll("k-bin").Select(e => e.ValueBytes));
        Assert.Null(metadata.Get("grpc-status"));
        Assert.Null(metadata.Get("k2-bin"));
    }
}
