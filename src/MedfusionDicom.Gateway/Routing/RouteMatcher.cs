using System.Text.RegularExpressions;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Gateway.Routing;

/// <summary>What a route looks at in a series: its first instance's attributes and the AE titles it came with.</summary>
public sealed record SeriesFacts(DicomDataset Header, string CallingAeTitle, string CalledAeTitle);

/// <summary>
/// Decides whether a series matches a route: every keyword of <see cref="RouteOptions.Match"/> must match one of its
/// values. Plain values compare exactly and case-insensitively with the attribute's value (each value of a
/// multi-valued attribute counts); "regex:..." values are .NET regular expressions, matched with a timeout so that a
/// pathological pattern cannot stall routing.
/// </summary>
public sealed class RouteMatcher
{
    public const string CallingAeTitle = "CallingAeTitle";
    public const string CalledAeTitle = "CalledAeTitle";
    private const string RegexPrefix = "regex:";
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    public static IReadOnlyList<string> Tasks { get; } = ["denoise", "super-resolve", "inpaint"];

    private readonly List<(string Key, DicomTag? Tag, List<Func<string, bool>> Accepts)> _conditions = [];

    public RouteMatcher(RouteOptions route)
    {
        Route = route;
        foreach (var (key, values) in route.Match)
        {
            DicomTag? tag = key is CallingAeTitle or CalledAeTitle ? null : DicomTag.Parse(key);
            _conditions.Add((key, tag, values.Select(Compile).ToList()));
        }
    }

    public RouteOptions Route { get; }

    public static bool IsMatchKey(string key) =>
        key is CallingAeTitle or CalledAeTitle || (DicomTag.TryParse(key, out _) && !key.Contains(',') && !key.StartsWith('('));

    /// <summary>Why a match value cannot be used, or null when it can.</summary>
    public static string? PatternError(string value)
    {
        if (!value.StartsWith(RegexPrefix, StringComparison.Ordinal)) return null;
        try
        {
            _ = new Regex(value[RegexPrefix.Length..], RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, RegexTimeout);
            return null;
        }
        catch (ArgumentException ex)
        {
            return $"'{value}' is not a valid regular expression: {ex.Message}";
        }
    }

    public bool Matches(SeriesFacts series)
    {
        foreach (var (key, tag, accepts) in _conditions)
        {
            var values = key switch
            {
                CallingAeTitle => [series.CallingAeTitle],
                CalledAeTitle => [series.CalledAeTitle],
                _ => series.Header.TryGetString(tag!.Value, out var text) ? text.Split('\\').Select(v => v.Trim()).ToArray() : [],
            };
            if (!values.Any(v => accepts.Any(accept => accept(v)))) return false;
        }

        return true;
    }

    private static Func<string, bool> Compile(string value)
    {
        if (!value.StartsWith(RegexPrefix, StringComparison.Ordinal))
            return actual => string.Equals(actual, value, StringComparison.OrdinalIgnoreCase);
        var regex = new Regex(value[RegexPrefix.Length..], RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, RegexTimeout);
        return actual =>
        {
            try
            {
                return regex.IsMatch(actual);
            }
            catch (RegexMatchTimeoutException)
            {
                return false; // a value that takes the pattern this long is not a match
            }
        };
    }
}
