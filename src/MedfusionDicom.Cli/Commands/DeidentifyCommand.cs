using System.CommandLine;
using System.Security.Cryptography;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Deidentification;

namespace MedfusionDicom.Cli.Commands;

/// <summary>`medfusion deidentify IN OUT`: PS3.15 Basic Application Level Confidentiality Profile, with its options.</summary>
internal static class DeidentifyCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("IN") { Description = "A DICOM file, or a folder of them (searched recursively)" };
        var output = new Argument<string>("OUT") { Description = "The folder that receives OUT/study/series/instance.dcm, named by the new UIDs" };
        var options = new Option<string[]>("--option")
        {
            Description = "A PS3.15 option, repeatable: " + string.Join(", ", DeidentificationOptionNames.All)
                + " (clean-pixel-data fills --clean-box regions and overlay planes with --inpaint-model)",
            AllowMultipleArgumentsPerToken = false,
        };
        var keyFile = new Option<string>("--key-file")
        {
            Description = "A file of at least 16 bytes: the secret the new UIDs, pseudonyms and date shifts are derived from. The same key gives the same "
                + "results, so files de-identified apart stay linked. Without it a random key is used once and the run cannot be repeated",
        };
        var mapOut = new Option<string>("--map-out") { Description = "Write the original-to-new patient and UID mapping (CSV) here, for the data owner only; keep it apart from OUT" };
        var patientMap = new Option<string>("--patient-map") { Description = "A CSV of 'original Patient ID,pseudonym' to use instead of keyed pseudonyms" };
        var safePrivate = new Option<string[]>("--safe-private")
        {
            Description = "With --option retain-safe-private: a private attribute to keep, as CREATOR:EE (the creator and the element's low byte in hex), repeatable",
        };
        var cleanBoxes = new Option<string[]>("--clean-box") { Description = "With --option clean-pixel-data: a region of burned-in text to fill, X,Y,W,H in pixels, repeatable" };
        var inpaintModel = new Option<string>("--inpaint-model")
        {
            Description = "With --option clean-pixel-data: the Med-cDiff inpainting model (a folder, or a bundled model's name)",
            DefaultValueFactory = _ => "cdiff-cxr-inpaint",
        };
        var device = DeviceOptions.Create();
        var cmd = new Command("deidentify", "De-identify DICOM files (PS3.15 Annex E, Table E.1-1), recording what was done in each")
        {
            input, output, options, keyFile, mapOut, patientMap, safePrivate, cleanBoxes, inpaintModel, device,
        };
        CliAction.Set(cmd, async (parse, ct) =>
        {
            byte[] key;
            if (parse.GetValue(keyFile) is { } path)
            {
                if (!File.Exists(path)) throw new DicomException($"the key file '{path}' does not exist");
                key = await File.ReadAllBytesAsync(path, ct);
            }
            else
            {
                key = RandomNumberGenerator.GetBytes(32);
                await Console.Error.WriteLineAsync("deidentify: no --key-file: a random key is used, so another run will not give the same UIDs and pseudonyms");
            }

            var chosen = (parse.GetValue(options) ?? []).Select(DeidentificationOptionNames.Parse).ToHashSet();
            using var cleaner = chosen.Contains(DeidentificationOption.CleanPixelData)
                ? DiffusionCommands.InpaintingCleaner(parse.GetValue(inpaintModel)!, (parse.GetValue(cleanBoxes) ?? []).Select(ParseBox).ToList(), DeviceOptions.Resolve(parse, device), ct)
                : null;
            var settings = new DeidentificationSettings
            {
                PixelCleaner = cleaner?.Cleaner,
                Key = key,
                Options = chosen,
                PatientPseudonyms = parse.GetValue(patientMap) is { } map ? DicomFileDeidentification.ReadPseudonyms(map) : new Dictionary<string, string>(),
                SafePrivate = (parse.GetValue(safePrivate) ?? []).Select(ParseSafePrivate).ToHashSet(),
            };
            var deidentifier = new DicomDeidentifier(settings);
            var progress = new Progress<(int Done, int Total)>(p =>
            {
                if (p.Done == p.Total || p.Done % 50 == 0) Console.Error.Write($"\rdeidentify: {p.Done}/{p.Total} files");
            });
            var summary = await DicomFileDeidentification.RunAsync(parse.GetValue(input)!, parse.GetValue(output)!, deidentifier, progress, ct);
            Console.Error.WriteLine();
            if (parse.GetValue(mapOut) is { } mapPath) await DicomFileDeidentification.WriteMapAsync(mapPath, deidentifier, ct);

            Console.WriteLine($"De-identified {summary.Files} file(s) with PS3.15 {ConfidentialityProfile.Standard.Edition} Table E.1-1"
                + (settings.Options.Count > 0 ? " and " + string.Join(", ", settings.Options.Order().Select(DeidentificationOptionNames.NameOf)) : ""));
            foreach (var (action, meaning) in new[] { ("X", "removed"), ("Z", "emptied"), ("D", "dummy value"), ("U", "UIDs replaced"), ("C", "cleaned"), ("K", "kept") })
                Console.WriteLine($"  {action} {meaning,-14} {summary.ActionCounts.GetValueOrDefault(action),8}");
            Console.WriteLine($"  patients: {deidentifier.PatientMap.Count}, UIDs replaced: {deidentifier.UidMap.Count}");
            if (summary.Skipped > 0)
            {
                Console.WriteLine($"Skipped {summary.Skipped} file(s) that are not DICOM:");
                foreach (var reason in summary.SkippedReasons.Take(20)) Console.WriteLine("  " + reason);
            }

            return summary.Files == 0 ? CliAction.BadInput : CliAction.Ok;
        });
        return cmd;
    }

    private static IReadOnlyList<int> ParseBox(string text)
    {
        var parts = text.Split(',');
        var box = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i].Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out box[i]))
                throw new DicomException($"--clean-box '{text}' is not X,Y,W,H in pixels");
        if (box.Length != 4) throw new DicomException($"--clean-box '{text}' is not X,Y,W,H in pixels");
        return box;
    }

    private static (string, byte) ParseSafePrivate(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !byte.TryParse(text[(colon + 1)..], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out var element))
            throw new DicomException($"--safe-private '{text}' is not CREATOR:EE (e.g. 'GEMS_ACQU_01:10')");
        return (text[..colon], element);
    }
}
