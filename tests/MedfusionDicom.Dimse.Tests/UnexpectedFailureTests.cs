using System.Text;
using MedfusionDicom.Dicom;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Dimse.Tests;

/// <summary>
/// Bugs in a store handler and malformed commands from a peer: each ends in a DIMSE status on the association, the
/// SCP keeps serving, and what went wrong inside stays in the log.
/// </summary>
public sealed class UnexpectedFailureTests
{
    private const string Secret = "/srv/pacs/secret-index.db";

    /// <summary>Stores like the file handler, but throws (as a buggy handler would) for the instances it is told to.</summary>
    private sealed class BuggyHandler(string directory) : IDicomStoreHandler
    {
        private readonly DicomFileStoreHandler _files = new(directory);
        public string? FailToBegin { get; init; }
        public string? FailAfterStoring { get; init; }

        public ValueTask<DicomStoreDecision> BeginStoreAsync(DicomStoreRequest request, CancellationToken cancellationToken) =>
            request.SopInstanceUid == FailToBegin ? throw new NullReferenceException($"handler bug near {Secret}") : _files.BeginStoreAsync(request, cancellationToken);

        public ValueTask<DicomStatus> InstanceStoredAsync(DicomStoredInstance instance, CancellationToken cancellationToken) =>
            instance.Request.SopInstanceUid == FailAfterStoring
                ? throw new InvalidOperationException($"cannot update {Secret}")
                : _files.InstanceStoredAsync(instance, cancellationToken);
    }

    private static string Uid(string path) => DicomFile.Open(path).Dataset.GetString(DicomTag.SOPInstanceUID);

    [Fact]
    public async Task A_store_handler_bug_is_answered_0110_logged_with_its_stack_trace_and_the_association_goes_on()
    {
        var ct = Corpus.Pydicom("CT_small.dcm");
        var mr = Corpus.Pydicom("MR_small_bigendian.dcm");
        var dose = Corpus.Pydicom("rtdose.dcm");
        await using var scp = await ScpHost.StartAsync(handler: dir => new BuggyHandler(dir) { FailToBegin = Uid(ct), FailAfterStoring = Uid(mr) });

        // One association for the three: the third is stored after the two failures.
        var results = await scp.Client().StoreAsync([ct, mr, dose]);
        Assert.Equal([DicomStatus.ProcessingFailure, DicomStatus.ProcessingFailure, DicomStatus.Success], results.Select(r => r.Status!.Value));
        Assert.True(File.Exists(Path.Combine(scp.Output, Uid(dose) + ".dcm")));

        var errors = scp.Logs.Lines.Where(l => l.Level == LogLevel.Error).ToList();
        Assert.Contains(errors, l => l.Exception is NullReferenceException { StackTrace: not null } && l.Message.Contains(Uid(ct), StringComparison.Ordinal));
        Assert.Contains(errors, l => l.Exception is InvalidOperationException { StackTrace: not null } && l.Message.Contains(Uid(mr), StringComparison.Ordinal));
        Assert.DoesNotContain(scp.Logs.Lines, l => l.Message.Contains("aborted", StringComparison.Ordinal));
        Assert.Equal(DicomStatus.Success, await scp.Client().EchoAsync());
    }

    [Fact]
    public async Task The_peer_learns_nothing_of_the_handlers_internals()
    {
        var ct = Corpus.Pydicom("CT_small.dcm");
        await using var scp = await ScpHost.StartAsync(handler: dir => new BuggyHandler(dir) { FailToBegin = Uid(ct) });
        await using var peer = await RawPeer.ConnectAsync(scp.Port);
        await peer.AssociateAsync();
        await peer.SendAsync(RawPeer.PData(1, command: true, last: true, RawPeer.StoreCommand(DicomUID.CTImageStorage.UID, Uid(ct))));
        await peer.SendAsync(RawPeer.PData(1, command: false, last: true, DatasetAssert.RawDataset(ct)));
        var response = await peer.ReadResponseAsync();
        Assert.Equal(DicomStatus.ProcessingFailure, DimseCommand.Status(response));
        var comment = response.GetStringOrDefault(DicomTag.ErrorComment);
        Assert.Contains("internal error", comment, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", comment, StringComparison.Ordinal);
        Assert.DoesNotContain("NullReference", comment, StringComparison.Ordinal);
    }

    /// <summary>A C-ECHO-RQ in implicit VR whose Command Field has one byte: present, but no US can be read from it.</summary>
    private static byte[] EchoWithMalformedCommandField()
    {
        static byte[] Element(ushort element, byte[] value) =>
            [.. BitConverter.GetBytes((ushort)0), .. BitConverter.GetBytes(element), .. BitConverter.GetBytes(value.Length), .. value];
        byte[] body =
        [
            .. Element(0x0002, Encoding.ASCII.GetBytes(DicomUID.Verification.UID + "\0")),
            .. Element(0x0100, [0x30]),
            .. Element(0x0110, BitConverter.GetBytes((ushort)5)),
            .. Element(0x0800, BitConverter.GetBytes((ushort)0x0101)),
        ];
        return [.. Element(0x0000, BitConverter.GetBytes(body.Length)), .. body];
    }

    [Fact]
    public async Task A_malformed_command_field_is_answered_0211_and_the_association_goes_on()
    {
        await using var scp = await ScpHost.StartAsync();
        await using var peer = await RawPeer.ConnectAsync(scp.Port);
        await peer.AssociateAsync();
        await peer.SendAsync(RawPeer.PData(3, command: true, last: true, EchoWithMalformedCommandField()));
        var response = await peer.ReadResponseAsync();
        Assert.Equal(DicomStatus.UnrecognizedOperation, DimseCommand.Status(response));
        Assert.Equal((ushort)5, response.GetSingleValue<ushort>(DicomTag.MessageIDBeingRespondedTo));
        await peer.SendAsync(RawPeer.PData(3, command: true, last: true, DimseCommand.Encode(DimseCommand.EchoRequest(8))));
        Assert.Equal(DicomStatus.Success, await peer.ReadStatusAsync());
    }
}
