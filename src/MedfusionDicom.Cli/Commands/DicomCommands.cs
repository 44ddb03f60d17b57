using System.CommandLine;
using MedfusionDicom.Dicom;
using MedfusionDicom.Dicom.Imaging;
using MedfusionDicom.Dicom.Json;

namespace MedfusionDicom.Cli.Commands;

/// <summary>`medfusion dicom ...`: inspect and convert DICOM files.</summary>
internal static class DicomCommands
{
    public static Command Create()
    {
        var dicom = new Command("dicom", "Inspect and convert DICOM files");
        dicom.Subcommands.Add(Dump());
        dicom.Subcommands.Add(Transcode());
        return dicom;
    }

    private static Command Dump()
    {
        var file = new Argument<string>("FILE") { Description = "DICOM file (Part 10, or a raw dataset whose transfer syntax can be inferred)" };
        var json = new Option<bool>("--json") { Description = "Write the dataset as DICOM JSON (PS3.18 Annex F) instead of a text listing" };
        var cmd = new Command("dump", "Print a DICOM file's elements") { file, json };
        CliAction.Set(cmd, async (parse, ct) =>
        {
            var df = await DicomFile.OpenAsync(parse.GetValue(file)!, cancellationToken: ct);
            if (parse.GetValue(json))
            {
                await using var stdout = Console.OpenStandardOutput();
                DicomJsonWriter.Write(stdout, df.Dataset);
                await stdout.WriteAsync("\n"u8.ToArray(), ct);
            }
            else
            {
                Console.Out.Write(DicomDump.Format(df));
            }
            return CliAction.Ok;
        });
        return cmd;
    }

    private static Command Transcode()
    {
        var input = new Argument<string>("IN") { Description = "DICOM file to read" };
        var output = new Argument<string>("OUT") { Description = "DICOM file to write (replaced atomically if it exists)" };
        var syntax = new Option<string>("--transfer-syntax")
        {
            Description = "Target transfer syntax UID: 1.2.840.10008.1.2.1 (Explicit VR LE), 1.2.840.10008.1.2 (Implicit VR LE), "
                + "1.2.840.10008.1.2.2 (Explicit VR BE), 1.2.840.10008.1.2.1.99 (Deflated)",
            Required = true,
        };
        var cmd = new Command("transcode", "Rewrite a file in an uncompressed transfer syntax, decompressing when needed") { input, output, syntax };
        CliAction.Set(cmd, async (parse, ct) =>
        {
            var target = DicomTransferSyntax.Parse(parse.GetValue(syntax)!);
            var source = await DicomFile.OpenAsync(parse.GetValue(input)!, cancellationToken: ct);
            var result = DicomTranscoder.Transcode(source, target);
            await result.SaveAsync(parse.GetValue(output)!, target, ct);
            return CliAction.Ok;
        });
        return cmd;
    }
}
