using System.Numerics;

namespace MedfusionDicom.Dicom.Tests;

/// <summary>The UIDs the derived-image builder writes: 2.25 UUID-derived (PS3.5 B.2) and name-based deterministic ones.</summary>
public class DerivedUidTests
{
    [Fact]
    public void FromUuid_is_the_rfc4122_integer_of_the_standards_example()
    {
        // PS3.5 B.2: f81d4fae-7dec-11d0-a765-00a0c91e6bf6 is 2.25.329800735698586629295641978511506172918.
        var uid = DicomUID.FromUuid(Guid.Parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6"));
        Assert.Equal("2.25.329800735698586629295641978511506172918", uid.UID);
    }

    [Fact]
    public void FromUuid_reads_the_uuid_big_endian_not_in_guid_byte_order()
    {
        // .NET's Guid.ToByteArray swaps the first three fields; a UID from those bytes would not be this integer.
        var uid = DicomUID.FromUuid(Guid.Parse("00000001-0002-0003-0405-060708090a0b"));
        var expected = BigInteger.Parse("00000001000200030405060708090a0b", System.Globalization.NumberStyles.HexNumber);
        Assert.Equal("2.25." + expected, uid.UID);
        Assert.Equal("2.25.1", DicomUID.FromUuid(Guid.Parse("00000000-0000-0000-0000-000000000001")).UID);
        Assert.Equal("2.25.0", DicomUID.FromUuid(Guid.Empty).UID);
    }

    [Fact]
    public void Generated_uids_are_valid_and_unique()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 5000; i++)
        {
            var uid = DicomUID.Generate().UID;
            Assert.StartsWith("2.25.", uid, StringComparison.Ordinal);
            Assert.True(uid.Length <= 64, uid);
            Assert.True(DicomUID.IsValid(uid), uid);
            Assert.All(uid.Split('.'), c => Assert.True(c == "0" || c[0] != '0', uid));
            Assert.True(seen.Add(uid));
        }
    }

    [Fact]
    public void FromName_is_deterministic_valid_and_distinct_for_distinct_inputs()
    {
        Assert.Equal(DicomUID.FromName("job-1", "1.2.3", "7").UID, DicomUID.FromName("job-1", "1.2.3", "7").UID);
        var inputs = new[]
        {
            new[] { "job-1", "1.2.3", "7" }, ["job-1", "1.2.3", "8"], ["job-2", "1.2.3", "7"], ["job-1", "1.2.37"],
            // The separator keeps part boundaries: these concatenate to the same text.
            ["job-1", "1.2.3", "7", ""], ["job-11.2.37"], [""],
        };
        var uids = inputs.Select(parts => DicomUID.FromName(parts).UID).ToList();
        Assert.Equal(uids.Count, uids.Distinct(StringComparer.Ordinal).Count());
        foreach (var uid in uids)
        {
            Assert.True(DicomUID.IsValid(uid), uid);
            Assert.True(uid.Length <= 64, uid);
            // Version 5 (name-based, SHA-1) and the RFC 4122 variant are set in the UUID's bits.
            var value = BigInteger.Parse(uid[5..], System.Globalization.CultureInfo.InvariantCulture);
            var bytes = value.ToByteArray(isUnsigned: true, isBigEndian: true);
            var padded = new byte[16];
            bytes.CopyTo(padded, 16 - bytes.Length);
            Assert.Equal(0x50, padded[6] & 0xF0);
            Assert.Equal(0x80, padded[8] & 0xC0);
        }
    }

    [Fact]
    public void FromName_refuses_inputs_it_could_not_keep_apart()
    {
        // No parts would hash like one empty part; a part with the separator like two parts.
        Assert.Throws<DicomValueException>(() => DicomUID.FromName());
        Assert.Throws<DicomValueException>(() => DicomUID.FromName("job-1\u001f1.2.3"));
    }

    [Theory]
    [InlineData("2.25.0", true)]
    [InlineData("1.2.840.10008.1.2", true)]
    [InlineData("1.02.3", false)]
    [InlineData("1..2", false)]
    [InlineData("1.2.", false)]
    [InlineData("1.2.a", false)]
    [InlineData("", false)]
    public void IsValid_follows_ps3_5_9_1(string uid, bool valid) => Assert.Equal(valid, DicomUID.IsValid(uid));

    [Fact]
    public void IsValid_rejects_uids_longer_than_64_characters()
    {
        Assert.True(DicomUID.IsValid("1." + new string('2', 62)));
        Assert.False(DicomUID.IsValid("1." + new string('2', 63)));
    }
}
