using System.Net;
using System.Text;
using MedfusionDicom.Dimse.Tests;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>
/// Mutated STOW-RS bodies and QIDO-RS URLs, 10,000 in all from a fixed seed: every answer is below 500 and comes in
/// time, and the gateway's managed memory is as flat at the end as after the first thousand.
/// </summary>
public sealed class DicomWebFuzzTests
{
    private const int Requests = 10_000;
    private const string Boundary = "fuzz-boundary";

    private static readonly string[] Keys =
    [
        "PatientName", "PatientID", "StudyDate", "StudyTime", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "Modality",
        "ModalitiesInStudy", "SeriesNumber", "InstanceNumber", "AccessionNumber", "00100010", "0020000D", "includefield", "fuzzymatching",
        "limit", "offset", "EthnicGroup", "", "x;y", "%00", "PatientName[0]",
    ];

    private static readonly string[] Values =
    [
        "", "*", "?", "A*B?", "'", "\"", "';--", "\"; DROP TABLE instances;--", "%00", "%2500", "1.2.840.10008.5.1.4.1.1.4", "1.2..3", "1.2.3,4.5",
        "20200101-20201231", "-20201231", "20200101-", "2020-01-01", "99999999", "-1", "2147483648", "0", "all", "true", "false", "yes",
        "\u00e9\u00e8\u4e2d\u6587", "\\", "\\\\", "a\\b", "%ff%fe", "%", "[", "]", "(0010,0010)", "NaN", "1e9", "  ", "\t",
    ];

    private static readonly string[] Paths =
    [
        "studies", "series", "instances", "studies/{study}/series", "studies/{study}/instances", "studies/{study}/series/{series}/instances",
        "studies/{study}/metadata", "studies/{study}/series/{series}/metadata", "studies/{study}/series/{series}/instances/{instance}/frames/1",
        "studies/{study}/series/{series}/instances/{instance}/rendered", "studies/{study}/series/{series}/thumbnail",
        "studies/{study}/series/{series}/instances/{instance}/bulkdata/7FE00010",
    ];

    [Fact]
    public async Task Ten_thousand_mutated_STOW_bodies_and_QIDO_URLs_get_no_5xx_no_hang_and_leave_memory_flat()
    {
        await using var gateway = await DicomWebPeers.StartGatewayAsync();
        var root = gateway.Options.DicomWeb.Url;
        var instance = await File.ReadAllBytesAsync(TestSeries.Mr(gateway.Dir, 1)[0]);
        var seed = Body(instance, instance);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var failures = new List<string>();
        long afterWarmUp = 0;

        for (var batch = 0; batch < Requests / 100; batch++)
        {
            var requests = Enumerable.Range(batch * 100, 100).Select(n => Task.Run(async () =>
            {
                var random = new Random(n);
                using var request = n % 2 == 0 ? MutatedStow(random, root, seed) : MutatedQuery(random, root);
                var description = $"#{n} {request.Method} {Shorten(request.RequestUri!.OriginalString)}";
                try
                {
                    using var answer = await http.SendAsync(request);
                    await answer.Content.ReadAsByteArrayAsync();
                    if ((int)answer.StatusCode >= 500) return $"{description}: {(int)answer.StatusCode}";
                }
                catch (TaskCanceledException)
                {
                    return $"{description}: no answer within {http.Timeout.TotalSeconds} s";
                }
                catch (HttpRequestException e)
                {
                    return $"{description}: {e.Message}";
                }

                return null;
            }));
            failures.AddRange((await Task.WhenAll(requests)).OfType<string>());
            if (batch == 9) afterWarmUp = ManagedMemory();
        }

        Assert.True(failures.Count == 0, $"{failures.Count} failures, the first: {string.Join("\n", failures.Take(10))}");
        var growth = ManagedMemory() - afterWarmUp;
        Assert.True(growth < 64L << 20, $"managed memory grew by {growth >> 20} MB from request 1,000 to 10,000");
    }

    private static long ManagedMemory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>A valid two-instance body, then one to four mutations: flipped, inserted or removed bytes, a cut, a different boundary or type.</summary>
    private static HttpRequestMessage MutatedStow(Random random, string root, byte[] seed)
    {
        var body = seed.ToList();
        var contentType = $"multipart/related; type=\"application/dicom\"; boundary={Boundary}";
        for (var m = random.Next(1, 5); m > 0; m--)
        {
            switch (random.Next(7))
            {
                case 0 when body.Count > 0:
                    var at = random.Next(body.Count);
                    body[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    body.InsertRange(random.Next(body.Count + 1), Enumerable.Range(0, random.Next(1, 64)).Select(_ => (byte)random.Next(256)));
                    break;
                case 2 when body.Count > 1:
                    var from = random.Next(body.Count);
                    body.RemoveRange(from, Math.Min(body.Count - from, random.Next(1, 512)));
                    break;
                case 3:
                    body = body.Take(random.Next(body.Count + 1)).ToList();
                    break;
                case 4:
                    contentType = random.Next(5) switch
                    {
                        0 => "multipart/related; type=\"application/dicom\"",
                        1 => "multipart/related; type=\"application/dicom\"; boundary=other",
                        2 => "application/dicom",
                        3 => $"multipart/related; type=\"application/json\"; boundary={Boundary}",
                        _ => $"multipart/mixed; boundary={Boundary}",
                    };
                    break;
                case 5:
                    // A length field in the DICOM header set to something huge.
                    var offset = 132 + random.Next(Math.Max(1, Math.Min(body.Count, 600) - 136));
                    if (offset + 4 <= body.Count) for (var k = 0; k < 4; k++) body[offset + k] = 0xFF;
                    break;
                default:
                    var header = Encoding.ASCII.GetBytes("\r\nContent-Type: application/dicom\r\nContent-Length: 99999999\r\n");
                    body.InsertRange(Math.Min(body.Count, Boundary.Length + 2), header);
                    break;
            }
        }

        var content = new ByteArrayContent([.. body]);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        var study = random.Next(3) == 0 ? "/1.2.826.0.1.3680043.8.498.1" : "";
        return new HttpRequestMessage(HttpMethod.Post, $"{root}/studies{study}") { Content = content };
    }

    /// <summary>A path of any level, with UIDs that are real, invalid or hostile, and up to six random parameters.</summary>
    private static HttpRequestMessage MutatedQuery(Random random, string root)
    {
        string Uid() => random.Next(4) switch
        {
            0 => "1.2.3",
            1 => Values[random.Next(Values.Length)],
            2 => new string('9', random.Next(1, 200)),
            _ => "1.2." + random.Next(),
        };
        var path = Paths[random.Next(Paths.Length)].Replace("{study}", Escape(Uid())).Replace("{series}", Escape(Uid())).Replace("{instance}", Escape(Uid()));
        var query = new StringBuilder();
        for (var p = random.Next(7); p > 0; p--)
        {
            var value = random.Next(20) == 0 ? new string('A', random.Next(1_000, 10_000)) : Values[random.Next(Values.Length)];
            query.Append(query.Length == 0 ? '?' : '&').Append(Escape(Keys[random.Next(Keys.Length)])).Append('=').Append(random.Next(3) == 0 ? Raw(value) : Escape(value));
        }

        var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{root}/{path}{query}", new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));
        if (random.Next(4) == 0) request.Headers.TryAddWithoutValidation("Accept", random.Next(2) == 0 ? "application/dicom+xml" : "image/png;q=x, */*;;");
        return request;
    }

    private static string Escape(string text) => Uri.EscapeDataString(text);

    /// <summary>
    /// The value as it is, quotes, semicolons, stray % and all, except what cannot be in an HTTP request line at all
    /// (spaces, controls, non-ASCII): a request with those is not an HTTP request, and Kestrel's parser answers it
    /// before any route sees it (505 for a space that splits the line).
    /// </summary>
    private static string Raw(string text) => string.Concat(text.Select(c => c is > ' ' and < '\u007f' ? c.ToString() : Uri.EscapeDataString(c.ToString())));

    private static byte[] Body(params byte[][] parts)
    {
        using var body = new MemoryStream();
        foreach (var part in parts)
        {
            body.Write(Encoding.ASCII.GetBytes($"--{Boundary}\r\nContent-Type: application/dicom\r\n\r\n"));
            body.Write(part);
            body.Write("\r\n"u8);
        }

        body.Write(Encoding.ASCII.GetBytes($"--{Boundary}--\r\n"));
        return body.ToArray();
    }

    private static string Shorten(string text) => text.Length <= 160 ? text : text[..160] + "...";
}
