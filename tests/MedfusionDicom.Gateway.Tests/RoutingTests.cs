using MedfusionDicom.Dicom;
using MedfusionDicom.Gateway.Routing;

namespace MedfusionDicom.Gateway.Tests;

public sealed class RoutingTests
{
    private static SeriesFacts Series(string modality, string bodyPart = "CHEST", string calling = "MOD1") =>
        new(new DicomDataset().AddOrUpdate(DicomTag.Modality, modality).AddOrUpdate(DicomTag.BodyPartExamined, bodyPart)
            .AddOrUpdate(DicomTag.ImageType, "ORIGINAL", "PRIMARY"), calling, "MEDFUSION");

    private static RouteMatcher Route(Dictionary<string, List<string>> match) =>
        new(new RouteOptions { Name = "r", Match = match, Pipeline = new PipelineOptions { Task = "denoise", Model = "m" } });

    [Fact]
    public void Values_compare_exactly_and_ignoring_case()
    {
        var route = Route(new() { ["Modality"] = ["dx", "CR"] });

        Assert.True(route.Matches(Series("DX")));
        Assert.True(route.Matches(Series("CR")));
        Assert.False(route.Matches(Series("DXX")));
        Assert.False(route.Matches(Series("MR")));
    }

    [Fact]
    public void Every_keyword_must_match_and_AE_titles_count_as_keywords()
    {
        var route = Route(new() { ["Modality"] = ["DX"], ["CallingAeTitle"] = ["MOD1"], ["BodyPartExamined"] = ["CHEST"] });

        Assert.True(route.Matches(Series("DX")));
        Assert.False(route.Matches(Series("DX", calling: "MOD2")));
        Assert.False(route.Matches(Series("DX", bodyPart: "HAND")));
    }

    [Fact]
    public void Each_value_of_a_multi_valued_attribute_counts_and_a_missing_attribute_never_matches()
    {
        Assert.True(Route(new() { ["ImageType"] = ["PRIMARY"] }).Matches(Series("DX")));
        Assert.False(Route(new() { ["StudyDescription"] = ["regex:.*"] }).Matches(Series("DX")));
    }

    [Fact]
    public void Regex_values_match_case_insensitively()
    {
        var route = Route(new() { ["BodyPartExamined"] = ["regex:^(chest|thorax)$"] });

        Assert.True(route.Matches(Series("DX", bodyPart: "Thorax")));
        Assert.False(route.Matches(Series("DX", bodyPart: "CHESTWALL")));
    }

    [Fact]
    public void A_pathological_pattern_times_out_as_no_match_instead_of_stalling()
    {
        var route = Route(new() { ["StudyDescription"] = ["regex:^(a+)+$"] });
        var series = Series("DX");
        series.Header.AddOrUpdate(DicomTag.StudyDescription, new string('a', 40) + "!"); // 2^40 ways to fail

        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(route.Matches(series));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"{watch.Elapsed}");
    }
}
