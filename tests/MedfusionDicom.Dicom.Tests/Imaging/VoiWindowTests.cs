using MedfusionDicom.Dicom.Imaging;

namespace MedfusionDicom.Dicom.Tests.Imaging;

/// <summary>The VOI LUT functions as PS3.3 C.11.2.1.2 and C.11.2.1.3 write them.</summary>
public sealed class VoiWindowTests
{
    [Fact]
    public void Linear_is_the_standards_half_pixel_shifted_ramp_and_a_width_of_one_is_a_threshold()
    {
        var window = new DicomVoiWindow(2048, 4096);
        Assert.Equal(0, window.Apply(-0.5));
        Assert.Equal(0.5 + 0.5 / 4095, window.Apply(2048), 12);
        Assert.Equal(1, window.Apply(4095.6));
        var threshold = new DicomVoiWindow(100, 1);
        Assert.Equal(0, threshold.Apply(99.5));
        Assert.Equal(1, threshold.Apply(99.51));
    }

    [Fact]
    public void Linear_exact_and_sigmoid_follow_their_formulas()
    {
        var exact = new DicomVoiWindow(0, 10, DicomVoiFunction.LinearExact);
        Assert.Equal((0.0, 0.5, 0.75, 1.0), (exact.Apply(-5), exact.Apply(0), exact.Apply(2.5), exact.Apply(5)));
        var sigmoid = new DicomVoiWindow(40, 400, DicomVoiFunction.Sigmoid);
        Assert.Equal(0.5, sigmoid.Apply(40), 12);
        Assert.Equal(1 / (1 + Math.Exp(-4 * 200.0 / 400)), sigmoid.Apply(240), 12);
    }

    [Fact]
    public void A_window_is_read_from_the_dataset_and_an_impossible_one_is_refused()
    {
        var ds = new DicomDataset().AddOrUpdate(DicomTag.WindowCenter, "40\\400").AddOrUpdate(DicomTag.WindowWidth, "400\\2000")
            .AddOrUpdate(DicomTag.VOILUTFunction, "SIGMOID");
        Assert.Equal(new DicomVoiWindow(40, 400, DicomVoiFunction.Sigmoid), DicomVoiWindow.FromDataset(ds));
        Assert.Null(DicomVoiWindow.FromDataset(new DicomDataset()));
        Assert.Throws<DicomCodecException>(() => new DicomVoiWindow(0, 0.5).Validated());
        Assert.Throws<DicomCodecException>(() => new DicomVoiWindow(0, 0, DicomVoiFunction.LinearExact).Validated());
        Assert.Throws<DicomCodecException>(() => DicomVoiWindow.ParseFunction("CUBIC"));
        Assert.Equal(DicomVoiFunction.LinearExact, DicomVoiWindow.ParseFunction("linear-exact"));
    }
}
